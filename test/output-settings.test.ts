import { describe, expect, it } from 'vitest';
import { outputSettingsFromFlags, parseUpscale, type OutputFlags } from '../src/cli/output-flags.js';
import { parseMapping } from '../src/config/load-mapping.js';
import { rational } from '../src/shared/media-time.js';
import { BeatloomError, formatErrorLine } from '../src/shared/errors.js';
import { audioTrackFileName, planAudioTrack } from '../src/stitching/audio-track.js';
import { overlayLines } from '../src/stitching/debug-overlay.js';
import {
  assertPostStepsFit,
  DEFAULT_OUTPUT_SETTINGS,
  outputFps,
  resolveOutputSettings,
} from '../src/stitching/output-settings.js';

describe('planAudioTrack: the song to the sample at 48 kHz, AAC frames ending on its last sample', () => {
  it.each([
    // song samples, rate, codec → samples at 48 kHz (ceil), silence before it (AAC: to a whole 1024-sample frame)
    [138_915, 22_050, 'h264', 302_400, 704],
    [441_542, 44_100, 'h264', 480_590, 690],
    [480_000, 48_000, 'h265', 480_000, 256],
    [22_050 * 300, 22_050, 'h264', 14_400_000, 512],
    [22_050 * 3600, 22_050, 'h264', 172_800_000, 0],
    [887_323, 22_050, 'vp9', 1_931_588, 0],
    [1, 22_050, 'h264', 3, 1021],
  ] as const)(
    '%i samples at %i Hz, %s → %i samples + %i pre-roll',
    (sampleCount, sampleRateHz, codec, samples, preroll) => {
      const plan = planAudioTrack({ sampleCount, sampleRateHz }, codec);
      expect(plan).toEqual({ sampleRateHz: 48_000, sampleCount: samples, prerollSamples: preroll });
      if (codec !== 'vp9') expect((plan.sampleCount + plan.prerollSamples) % 1024).toBe(0);
    },
  );

  it('names a prepared track after everything that decides its bytes', () => {
    const request = {
      songPath: '/a.mp3',
      songKey: 'abc',
      duration: { sampleCount: 22050, sampleRateHz: 22050 },
      codec: 'h264',
      bitrateKbps: 192,
    } as const;
    const name = audioTrackFileName(request);
    expect(name).toMatch(/^audio-aac-[0-9a-f]{16}\.m4a$/);
    expect(audioTrackFileName({ ...request, songPath: '/elsewhere/a.mp3' })).toBe(name);
    expect(audioTrackFileName({ ...request, codec: 'h265' })).toBe(name);
    expect(audioTrackFileName({ ...request, songKey: 'abd' })).not.toBe(name);
    expect(audioTrackFileName({ ...request, bitrateKbps: 160 })).not.toBe(name);
    expect(audioTrackFileName({ ...request, duration: { sampleCount: 22051, sampleRateHz: 22050 } })).not.toBe(name);
    expect(audioTrackFileName({ ...request, codec: 'vp9' })).toMatch(/^audio-opus-[0-9a-f]{16}\.webm$/);
  });
});

describe('output settings', () => {
  it('fills per-codec defaults once', () => {
    expect(DEFAULT_OUTPUT_SETTINGS).toEqual({
      target: 'video',
      codec: 'h264',
      crf: 19,
      preset: 'superfast',
      pixelFormat: 'yuv420p',
      audioBitrateKbps: 192,
      debugOverlay: false,
      upscale: null,
      interpolate: null,
    });
    expect(resolveOutputSettings({ codec: 'vp9' })).toMatchObject({ crf: 32, preset: 'fast' });
    expect(resolveOutputSettings({ codec: 'h265', crf: 28 })).toMatchObject({ crf: 28, preset: 'fast' });
    expect(outputFps(resolveOutputSettings({ interpolate: { fps: '30000/1001' } }), rational(8))).toEqual({
      num: 30000,
      den: 1001,
    });
  });

  it('rejects a crf outside the codec range, naming it', () => {
    expect(() => resolveOutputSettings({ codec: 'h264', crf: 60 })).toThrow(
      /invalid output setting crf: crf 60 is outside 0–51 for h264/,
    );
    expect(() =>
      assertPostStepsFit(resolveOutputSettings({ interpolate: { fps: '8' } }), {
        width: 64,
        height: 64,
        fps: rational(8),
      }),
    ).toThrow(/does not raise the render's rate/);
    expect(() =>
      assertPostStepsFit(resolveOutputSettings({ upscale: { width: 32, height: 64 } }), {
        width: 64,
        height: 64,
        fps: rational(8),
      }),
    ).toThrow(/smaller than the 64x64 render/);
  });
});

describe('output flags of beatloom render', () => {
  const FLAGS: OutputFlags = { codec: 'h264', pixFmt: 'yuv420p', audioBitrate: '192', interpolateMode: 'motion' };
  const SIZE = { width: 512, height: 288 };

  it.each([
    ['2', { width: 1024, height: 576 }],
    ['1.5', { width: 768, height: 432 }],
    ['1080x608', { width: 1080, height: 608 }],
  ])('--upscale %s', (text, size) => {
    expect(parseUpscale(text, SIZE)).toEqual(size);
  });

  it('turns flags into settings', () => {
    expect(
      outputSettingsFromFlags(
        {
          ...FLAGS,
          codec: 'vp9',
          crf: '40',
          preset: 'slow',
          framesOnly: true,
          debugOverlay: true,
          interpolate: '24000/1001',
          interpolateMode: 'blend',
          upscale: '2',
        },
        SIZE,
        rational(8),
      ),
    ).toEqual({
      target: 'frames',
      codec: 'vp9',
      crf: 40,
      preset: 'slow',
      pixelFormat: 'yuv420p',
      audioBitrateKbps: 192,
      debugOverlay: true,
      upscale: { width: 1024, height: 576 },
      interpolate: { fps: '24000/1001', mode: 'blend' },
    });
  });

  it.each([
    [{ codec: 'av1' }, /invalid --codec: 'av1' — use one of: h264, h265, vp9/],
    [{ crf: '52' }, /invalid --crf: '52' — give a whole number from 0 to 51 for h264/],
    [{ codec: 'vp9', crf: 'x' }, /invalid --crf: 'x' — give a whole number from 0 to 63 for vp9/],
    [{ preset: 'turbo' }, /invalid --preset: 'turbo' — use one of: ultrafast, superfast/],
    [{ pixFmt: 'rgb24' }, /invalid --pix-fmt: 'rgb24'/],
    [{ audioBitrate: '8' }, /invalid --audio-bitrate: '8'/],
    [{ upscale: '0.5' }, /invalid --upscale: '0.5'/],
    [{ upscale: '256x256' }, /invalid --upscale: '256x256' \(256x256 is smaller than the 512x288 render\)/],
    [{ upscale: '1025x577' }, /invalid --upscale: '1025x577'/],
    [{ interpolate: '8' }, /invalid --interpolate: '8' is not above the render's 8 fps/],
    [
      { interpolate: '24', interpolateMode: 'optical' },
      /invalid --interpolate-mode: 'optical' — use one of: motion, blend/,
    ],
  ] as Array<[Partial<OutputFlags>, RegExp]>)('%o', (flags, message) => {
    let error: unknown;
    try {
      outputSettingsFromFlags({ ...FLAGS, ...flags }, SIZE, rational(8));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).kind).toBe('usage');
    expect(formatErrorLine(error as BeatloomError)).toMatch(message);
  });
});

describe('the mapping says how transitions look', () => {
  // Segments are given in full: this file is about transitions, not the segment defaults.
  const BASE =
    'version: 2\nsegments: { crossfade: 2 }\ntargets:\n  motionScale: { base: 1, range: [0, 2] }\n  denoise: { base: 0.5, range: [0, 1] }\n';
  it('defaults to linear crossfades and no cuts', () => {
    expect(parseMapping(BASE, 'm.yaml').transitions).toEqual({ curve: 'linear', cutOn: 'none' });
    expect(
      parseMapping(`${BASE}transitions:\n  curve: smoothstep\n  cutOn: downbeats\n`, 'm.yaml').transitions,
    ).toEqual({ curve: 'smoothstep', cutOn: 'downbeats' });
  });
  it('names a bad curve with its line', () => {
    expect(() => parseMapping(`${BASE}transitions:\n  curve: cubic\n`, 'm.yaml')).toThrow(
      /m\.yaml:7:10: transitions\.curve: must be one of "linear", "smoothstep", "smootherstep", "ease-in", "ease-out"/,
    );
  });
});

describe('debug overlay text', () => {
  const data = {
    motionScale: [0.5, 1.25, 2],
    denoise: [0.4, 0.65],
    beatFrames: new Set([1]),
    downbeatFrames: new Set<number>(),
  };
  it('shows frame, time, segment, motion scale and the leading segment’s denoise', () => {
    expect(overlayLines(1, rational(8), [{ segment: 0, localFrame: 1, weight: 1 }], data)).toEqual([
      'F 1 T 0.125',
      'SEG 0',
      'MS 1.25 DN 0.40',
    ]);
    expect(
      overlayLines(
        2,
        rational(24000, 1001),
        [
          { segment: 0, localFrame: 14, weight: 1 / 3 },
          { segment: 1, localFrame: 2, weight: 2 / 3 },
        ],
        data,
      ),
    ).toEqual(['F 2 T 0.083', 'SEG 0>1 67%', 'MS 2.00 DN 0.65']);
  });
});
