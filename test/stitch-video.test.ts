/**
 * The stitcher through its library API on synthetic segments whose every pixel is known, checked
 * by reading the output back: PNG sequences byte for byte, videos by decoding.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CrossfadeCurve } from '../src/config/mapping-schema.js';
import { frameFileName } from '../src/engines/engine.js';
import { planSegments, type PlannedSegment } from '../src/keyframes/plan-segments.js';
import { frameCountFor, rational, type Rational } from '../src/shared/media-time.js';
import { AbortedError } from '../src/shared/errors.js';
import { decodePng, encodePng } from '../src/raster/png.js';
import { isCompleteTrack, prepareAudioTrack } from '../src/stitching/audio-track.js';
import { blendInto } from '../src/raster/blend-frames.js';
import { applyCuts, frameSources } from '../src/stitching/frame-sources.js';
import { outputTiming, resolveOutputSettings, type OutputSettingsInput } from '../src/stitching/output-settings.js';
import { outputFrameName, stitchVideo, type StitchInput, type StitchOutput } from '../src/stitching/stitch-video.js';
import { decodedAudioSamples, decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

/** stitchVideo with the output timing the pipeline works out once and passes on (pipeline/stitch-output.ts). */
function stitchTimed(
  input: StitchInput,
  output: Omit<StitchOutput, 'timing'>,
  options?: Parameters<typeof stitchVideo>[2],
) {
  const timing = outputTiming(output.settings, { fps: input.fps, frameCount: input.frameCount }, output.duration);
  return stitchVideo(input, { ...output, timing }, options);
}

const W = 32;
const H = 24;
const FRAMES = 16;

/** Segment s, local frame j: a gradient whose values encode s and j, so any mix-up shows. */
function segmentPixels(s: number, j: number): Uint8Array {
  const data = new Uint8Array(W * H * 3);
  for (let p = 0; p < W * H; p++) {
    data[p * 3] = (s * 50 + j * 11 + p) & 0xff;
    data[p * 3 + 1] = (s * 90 + (p >> 3)) & 0xff;
    data[p * 3 + 2] = (j * 15 + s * 7) & 0xff;
  }
  return data;
}

async function writeSegments(dir: string, segments: readonly PlannedSegment[]): Promise<void> {
  for (const s of segments) {
    const folder = join(dir, String(s.index).padStart(4, '0'));
    await mkdir(folder, { recursive: true });
    for (let j = 0; j < s.frameCount; j++)
      await writeFile(
        join(folder, frameFileName(j)),
        encodePng({ width: W, height: H, data: segmentPixels(s.index, j) }),
      );
  }
}

function input(
  dir: string,
  segments: readonly PlannedSegment[],
  frameCount: number,
  fps: Rational,
  extra: Partial<StitchInput> = {},
): StitchInput {
  return {
    segments,
    frameCount,
    width: W,
    height: H,
    fps,
    segmentDir: (i) => join(dir, String(i).padStart(4, '0')),
    frameFile: frameFileName,
    ...extra,
  };
}

describe('stitchVideo → PNG sequence', () => {
  let dir: string;
  let song: string;
  const duration = { sampleCount: 6 * 22050 + 1234, sampleRateHz: 22050 };
  const fps = rational(8);
  const frameCount = frameCountFor(duration, fps); // 48.4… → 49
  const segments = planSegments(frameCount, { frames: FRAMES, overlap: 4, minOverlap: 2, maxOverlap: 8, crossfade: 2 });

  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 6.1, bpm: 120 });
    await writeSegments(join(dir, 'segments'), segments);
  });

  const stitchFrames = async (
    name: string,
    settings: OutputSettingsInput,
    extra: Partial<StitchInput> = {},
  ): Promise<string> => {
    const outPath = join(dir, name);
    const result = await stitchTimed(input(join(dir, 'segments'), segments, frameCount, fps, extra), {
      audioPath: song,
      duration,
      outPath,
      settings: resolveOutputSettings({ target: 'frames', ...settings }),
    });
    expect(result.outPath).toBe(outPath);
    return outPath;
  };

  it('plans the transitions this test relies on', () => {
    expect(frameCount).toBe(49);
    expect(segments.map((s) => [s.startFrame, s.leadFrame, s.crossfadeFrames])).toEqual([
      [0, 0, 0],
      [9, 12, 2],
      [21, 23, 2],
      [33, 35, 2],
    ]);
  });

  it.each(['linear', 'smoothstep', 'ease-out'] as CrossfadeCurve[])(
    'every frame is exactly the planned blend (%s crossfades, a cut on frame 23)',
    async (curve) => {
      const cutFrames = new Set([23]);
      const out = await stitchFrames(`frames-${curve}`, {}, { transitions: { curve, cutFrames } });
      const names = (await readdir(out)).sort();
      expect(names).toEqual([...Array.from({ length: 49 }, (_, i) => outputFrameName(i)), 'frames.json']);
      const cut = applyCuts(segments, cutFrames);
      expect(cut.map((s) => s.crossfadeFrames)).toEqual([0, 2, 0, 2]);
      for (let f = 0; f < frameCount; f++) {
        const sources = frameSources(cut, f, curve);
        const expected = segmentPixels(sources[0]!.segment, sources[0]!.localFrame);
        if (sources.length === 2)
          blendInto(expected, expected, segmentPixels(sources[1]!.segment, sources[1]!.localFrame), sources[1]!.weight);
        const image = decodePng(await readFile(join(out, outputFrameName(f))));
        expect([image.width, image.height]).toEqual([W, H]);
        if (!Buffer.from(image.data).equals(Buffer.from(expected)))
          throw new Error(`frame ${f} differs from the planned blend`);
      }
      // Around the cut: segment 1 up to frame 22, segment 2 from frame 23 on, no blend.
      expect(
        Buffer.from(decodePng(await readFile(join(out, outputFrameName(22)))).data).equals(
          Buffer.from(segmentPixels(1, 13)),
        ),
      ).toBe(true);
      expect(
        Buffer.from(decodePng(await readFile(join(out, outputFrameName(23)))).data).equals(
          Buffer.from(segmentPixels(2, 2)),
        ),
      ).toBe(true);
      expect(JSON.parse(await readFile(join(out, 'frames.json'), 'utf8'))).toEqual({
        version: 1,
        fps: '8',
        frameCount: 49,
        durationSec: duration.sampleCount / 22050,
        width: W,
        height: H,
        firstFrame: 'frame-000000.png',
        audio: song,
      });
    },
  );

  it.each([
    ['24000/1001', 'blend', 146],
    ['30', 'motion', 182],
  ] as const)(
    'interpolates to %s fps (%s) with exactly ceil(D · fps) frames, and upscales',
    async (rate, mode, expected) => {
      const out = await stitchFrames(`interp-${mode}`, {
        interpolate: { fps: rate, mode },
        upscale: { width: 64, height: 48 },
      });
      const names = (await readdir(out)).filter((n) => n.endsWith('.png'));
      expect(names.length).toBe(expected);
      expect(expected).toBe(
        frameCountFor(duration, rational(...(rate.split('/').map(Number) as [number, number?] as [number, number]))),
      );
      const last = decodePng(await readFile(join(out, outputFrameName(expected - 1))));
      expect([last.width, last.height]).toEqual([64, 48]);
    },
  );

  it('draws the debug overlay, with the bar mark only on bar frames', async () => {
    const plain = await stitchFrames('plain', {});
    const overlay = await stitchFrames(
      'overlay',
      { debugOverlay: true },
      {
        overlay: {
          motionScale: Array.from({ length: frameCount }, () => 1),
          denoise: segments.map(() => 0.5),
          beatFrames: new Set([4]),
          downbeatFrames: new Set([4]),
        },
      },
    );
    // The bar mark: a 12-pixel square, 3 pixels from the top right corner.
    const markPixel = (W * 9 + (W - 9)) * 3;
    for (const f of [3, 4]) {
      const a = decodePng(await readFile(join(plain, outputFrameName(f)))).data;
      const b = decodePng(await readFile(join(overlay, outputFrameName(f)))).data;
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
      const mark = Array.from(b.subarray(markPixel, markPixel + 3)).join();
      if (f === 4) expect(mark).toBe('255,64,48');
      else expect(mark).not.toBe('255,64,48');
    }
  });

  it('replaces an earlier frames output but never a folder holding anything else', async () => {
    const out = await stitchFrames('again', {});
    await stitchFrames('again', {});
    expect((await readdir(out)).length).toBe(50);
    await writeFile(join(out, 'notes.txt'), 'mine');
    await expect(stitchFrames('again', {})).rejects.toThrow(/holds other files/);
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('fails on a missing segment frame, naming it, and leaves nothing behind', async () => {
    const broken = join(dir, 'broken');
    await writeSegments(broken, segments.slice(0, 2));
    const outPath = join(dir, 'broken.mp4');
    await expect(
      stitchTimed(input(broken, segments, frameCount, fps), {
        audioPath: song,
        duration,
        outPath,
        settings: resolveOutputSettings({}),
      }),
    ).rejects.toThrow(/cannot read segment frame .*broken\/0002\/frame-\d{4}\.png: ENOENT/);
    expect(existsSync(outPath)).toBe(false);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('stops when aborted, leaving nothing behind', async () => {
    const controller = new AbortController();
    const outPath = join(dir, 'aborted.mp4');
    const run = stitchTimed(
      input(join(dir, 'segments'), segments, frameCount, fps),
      { audioPath: song, duration, outPath, settings: resolveOutputSettings({}) },
      {
        signal: controller.signal,
        onProgress: (p) => p.done === 10 && controller.abort(),
      },
    );
    await expect(run).rejects.toBeInstanceOf(AbortedError);
    expect(existsSync(outPath)).toBe(false);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it.each([
    ['h264', 'mp4'],
    ['h265', 'mp4'],
    ['vp9', 'webm'],
  ] as const)('%s: exactly ceil(D · fps) frames, the song to the sample, frames in place', async (codec, ext) => {
    const outPath = join(dir, `out-${codec}.${ext}`);
    await stitchTimed(input(join(dir, 'segments'), segments, frameCount, fps), {
      audioPath: song,
      duration,
      outPath,
      settings: resolveOutputSettings({ codec, crf: 10 }),
    });
    const frames = await decodeVideoFrames(outPath, W, H);
    expect(frames.length).toBe(49);
    // Lossy, but each frame is recognisably its planned picture: nearer to it than to its neighbours'.
    for (const f of [0, 12, 13, 30, 48]) {
      const sources = frameSources(segments, f);
      const expected = segmentPixels(sources[0]!.segment, sources[0]!.localFrame);
      if (sources.length === 2)
        blendInto(expected, expected, segmentPixels(sources[1]!.segment, sources[1]!.localFrame), sources[1]!.weight);
      const error = (a: Uint8Array): number => a.reduce((sum, v, i) => sum + Math.abs(v - expected[i]!), 0) / a.length;
      expect(error(frames[f]!)).toBeLessThan(
        Math.min(...[f - 1, f + 1].filter((g) => g >= 0 && g < 49).map((g) => error(frames[g]!))),
      );
    }
    expect(await decodedAudioSamples(outPath, 48000)).toBe(Math.ceil((duration.sampleCount * 48000) / 22050));
  });

  it("prepares the song's track once: exact to the sample, reused, muxed by copy", async () => {
    const tracks = join(dir, 'tracks');
    const request = { songPath: song, songKey: 'song-v1', duration, codec: 'h264', bitrateKbps: 128 } as const;
    const path = await prepareAudioTrack(request, tracks);
    expect(await decodedAudioSamples(path, 48000)).toBe(Math.ceil((duration.sampleCount * 48000) / 22050));
    const made = (await stat(path)).mtimeMs;
    expect(await prepareAudioTrack(request, tracks)).toBe(path);
    expect((await stat(path)).mtimeMs).toBe(made);
    expect(await prepareAudioTrack({ ...request, songKey: 'song-v2' }, tracks)).not.toBe(path);
    const outPath = join(dir, 'copied.mp4');
    await stitchTimed(input(join(dir, 'segments'), segments, frameCount, fps), {
      audioPath: song,
      audioTrackPath: path,
      duration,
      outPath,
      settings: resolveOutputSettings({}),
    });
    expect((await decodeVideoFrames(outPath, W, H)).length).toBe(49);
    expect(await decodedAudioSamples(outPath, 48000)).toBe(Math.ceil((duration.sampleCount * 48000) / 22050));
  });

  it("encodes the song's track again when the kept one was cut short (a disk that filled up)", async () => {
    const tracks = join(dir, 'tracks-cut');
    const request = { songPath: song, songKey: 'song-cut', duration, codec: 'h264', bitrateKbps: 128 } as const;
    const path = await prepareAudioTrack(request, tracks);
    expect(await isCompleteTrack(path, 'mp4')).toBe(true);
    const whole = await readFile(path);
    await writeFile(path, whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(await isCompleteTrack(path, 'mp4')).toBe(false);
    expect(await prepareAudioTrack(request, tracks)).toBe(path);
    expect((await readFile(path)).equals(whole)).toBe(true);
    expect(await decodedAudioSamples(path, 48000)).toBe(Math.ceil((duration.sampleCount * 48000) / 22050));
    expect(await isCompleteTrack(join(tracks, 'missing.m4a'), 'mp4')).toBe(false);
  });

  it("reports ffmpeg's own error when it stops early, not the broken pipe", async () => {
    const outPath = join(dir, 'no-track.mp4');
    const run = stitchTimed(input(join(dir, 'segments'), segments, frameCount, fps), {
      audioPath: song,
      audioTrackPath: join(dir, 'missing-track.m4a'),
      duration,
      outPath,
      settings: resolveOutputSettings({}),
    });
    await expect(run).rejects.toThrow(/^ffmpeg exited with code 1: .*missing-track\.m4a: No such file or directory/);
    expect(existsSync(outPath)).toBe(false);
  });
});
