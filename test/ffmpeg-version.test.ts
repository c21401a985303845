import { describe, expect, it } from 'vitest';
import { ffmpegVersion, ffmpegVersionArgs, parseFfmpegVersion } from '../src/ffmpeg/ffmpeg-version.js';

describe('ffmpeg version (recorded in run.json)', () => {
  it('asks with -version', () => {
    expect(ffmpegVersionArgs()).toEqual(['-hide_banner', '-nostdin', '-version']);
  });

  it.each([
    [
      'ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/  Copyright (c) 2000-2018\nbuilt with gcc 6.3.0',
      'N-47683-g0e8eb07980-static',
    ],
    ['ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg developers\n', '6.1.1-3ubuntu5'],
    ['not ffmpeg at all', 'unknown'],
  ])('parses %j', (stdout, version) => {
    expect(parseFfmpegVersion(stdout)).toBe(version);
  });

  it('reads the bundled ffmpeg’s version', async () => {
    // Whatever ffmpeg runs (BEATLOOM_FFMPEG may name another): a version, not 'unknown'.
    expect(await ffmpegVersion()).toMatch(/^\S+$/);
    expect(await ffmpegVersion()).not.toBe('unknown');
  });
});
