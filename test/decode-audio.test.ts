import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../src/ffmpeg/decode-audio.js';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';
import { tempDir } from './helpers/media.js';

const run = promisify(execFile);

/** A 1 s, 441 Hz sine at `amplitude` in the channels given by lavfi expressions (16-bit WAV at `rate`). */
async function sineFile(
  dir: string,
  name: string,
  channelGains: readonly number[],
  rate: number,
  layout?: string,
): Promise<string> {
  const path = join(dir, name);
  const exprs = channelGains.map((g) => `${g}*sin(2*PI*441*t)`).join('|');
  await run(ffmpegPath(), [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `aevalsrc='${exprs}':s=${rate}:d=1${layout ? `:c=${layout}` : ''}`,
    '-c:a',
    'pcm_f32le',
    path,
  ]);
  return path;
}

function peak(samples: Float32Array): number {
  let p = 0;
  for (const x of samples) p = Math.max(p, Math.abs(x));
  return p;
}

describe('decodeAudio: mono at the analysis rate', () => {
  it('averages stereo channels (a sine in the left channel only comes out at half its level)', async () => {
    const dir = await tempDir();
    const audio = await decodeAudio(await sineFile(dir, 'left.wav', [0.6, 0], 44100), { sampleRateHz: 22050 });
    expect({
      channels: audio.channels,
      sourceSampleRateHz: audio.sourceSampleRateHz,
      sampleCount: audio.sampleCount,
    }).toEqual({
      channels: 2,
      sourceSampleRateHz: 44100,
      sampleCount: 22050,
    });
    expect(peak(audio.samples)).toBeCloseTo(0.3, 2);
  });

  it('keeps the level of a 5.1 file whose channels all carry the same signal', async () => {
    const dir = await tempDir();
    const audio = await decodeAudio(await sineFile(dir, 'six.wav', [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 48000, '5.1'), {
      sampleRateHz: 22050,
    });
    expect(audio.channels).toBe(6);
    expect(audio.sampleCount).toBe(22050);
    expect(peak(audio.samples)).toBeCloseTo(0.5, 2);
  });

  it('passes mono at the analysis rate through at its level', async () => {
    const dir = await tempDir();
    const audio = await decodeAudio(await sineFile(dir, 'mono.wav', [0.25], 22050), { sampleRateHz: 22050 });
    expect(audio.channels).toBe(1);
    expect(audio.sampleCount).toBe(22050);
    expect(peak(audio.samples)).toBeCloseTo(0.25, 3);
  });
});
