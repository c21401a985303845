/**
 * The preview follows the continuity a diffusion engine has (DESIGN.md §4), so the seams a GPU
 * render would show are visible before any GPU time: jobs from noise sample apart (a seam where
 * two jobs share frames), a continuation holds its first frames exactly and carries on from them,
 * a take travels between prompts. Bounds are derived from the motion between neighbouring frames
 * inside one job, measured in the same test.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SegmentJob } from '../src/engines/engine.js';
import { createPreviewEngine } from '../src/engines/preview/preview-engine.js';
import { decodePng, encodePng, readPngText } from '../src/raster/png.js';
import { BeatloomError } from '../src/shared/errors.js';
import { meanAbsDiff, tempDir } from './helpers/media.js';
import { segmentJob } from './helpers/segment-job.js';

interface Rendered {
  readonly dir: string;
  readonly paths: string[];
  readonly frames: Uint8Array[];
}

const engine = await createPreviewEngine().prepare({});

async function render(
  job: SegmentJob,
  options: { heldFramePaths?: readonly string[]; initImagePath?: string } = {},
): Promise<Rendered> {
  const dir = await tempDir();
  const result = await engine.renderSegment(job, { workDir: dir, ...options });
  const paths = result.frameFiles.map((name) => join(dir, name));
  const frames = await Promise.all(paths.map(async (path) => decodePng(await readFile(path)).data));
  return { dir, paths, frames };
}

const wild = Array<number>(16).fill(1.6);
/** The first of two jobs of one seed's take: 16 frames, motion well above the base rate. */
const FIRST = segmentJob({ continuity: 'continue', motion: { kind: 'perFrame', scales: wild }, denoise: 0.5 });
/** Its successor 12 frames on, sharing 4 frames. */
const SECOND: SegmentJob = {
  ...FIRST,
  index: 1,
  startFrame: 12,
  leadFrame: 16,
  noiseFrame: 12,
  heldFrames: 4,
  crossfadeFrames: 0,
};

/** The same moment rendered from noise, apart from the first job. */
const APART: SegmentJob = { ...SECOND, continuity: 'none', heldFrames: 0 };

/** Pixel-identical frames (vitest's deep equality is slow on megabytes of pixels). */
function same(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((frame, i) => Buffer.from(frame).equals(b[i]!));
}

function meanStep(frames: readonly Uint8Array[], from = 0): number {
  const steps = frames.slice(from + 1).map((frame, i) => meanAbsDiff(frames[from + i]!, frame));
  return steps.reduce((s, v) => s + v, 0) / steps.length;
}

describe('preview continuity: from noise (none)', () => {
  it('renders a moment two jobs share apart, differing as their motion since their starts', async () => {
    const first = await render({ ...FIRST, continuity: 'none' });
    const second = await render(APART);
    const neighbour = meanStep(first.frames);
    const shared = [0, 1, 2, 3].map((i) => meanAbsDiff(first.frames[12 + i]!, second.frames[i]!));
    // Both are at frame 12 of the take; the first got there at motion 1.6, the second starts
    // where motion 1 would have brought it: a seam, as a GPU render sampled apart would have.
    for (const d of shared) expect(d).toBeGreaterThan(2 * neighbour);
  });

  it('starts a later job where a take at the base rate would be: at motion 1 the shared frames agree', async () => {
    const calm = { kind: 'perFrame' as const, scales: Array<number>(16).fill(1) };
    const first = await render({ ...FIRST, continuity: 'none', motion: calm });
    const second = await render({ ...APART, motion: calm });
    // Only float rounding of the summed phase against the product can tell them apart.
    for (let i = 0; i < 4; i++)
      expect(meanAbsDiff(first.frames[12 + i]!, second.frames[i]!)).toBeLessThan(0.05 * meanStep(first.frames));
  });
});

describe('preview continuity: continue', () => {
  it('holds its first frames exactly and carries on from the last one', async () => {
    const first = await render(FIRST);
    const second = await render(SECOND, { heldFramePaths: first.paths.slice(12) });
    expect(same(second.frames.slice(0, 4), first.frames.slice(12))).toBe(true);
    const neighbour = meanStep(first.frames);
    const takeover = meanAbsDiff(second.frames[3]!, second.frames[4]!);
    // One frame of motion plus a twelfth of the departure denoise 0.5 asks for.
    expect(takeover).toBeLessThan(1.5 * neighbour);
    expect(takeover).toBeGreaterThan(0);
    const apart = await render(APART);
    expect(takeover).toBeLessThan(meanAbsDiff(first.frames[15]!, apart.frames[4]!) / 2);
  });

  it('continues the phase the held frames carry; without it, from where the base rate would be', async () => {
    const first = await render(FIRST);
    const stripped = await Promise.all(
      first.paths.slice(12).map(async (path, i) => {
        const bare = join(first.dir, `bare-${i}.png`);
        await writeFile(bare, encodePng(decodePng(await readFile(path))));
        return bare;
      }),
    );
    expect(readPngText(await readFile(first.paths[12]!))['beatloom-preview']).toMatch(/"phase":/);
    const carried = await render(SECOND, { heldFramePaths: first.paths.slice(12) });
    const estimated = await render(SECOND, { heldFramePaths: stripped });
    expect(same(estimated.frames.slice(0, 4), carried.frames.slice(0, 4))).toBe(true);
    const jump = (r: Rendered): number => meanAbsDiff(r.frames[3]!, r.frames[4]!);
    expect(jump(estimated)).toBeGreaterThan(2 * jump(carried));
    // The estimate is the state a job from noise has at that moment.
    const fromNoise = await render({ ...APART, noiseFrame: 16, frameCount: 1 });
    expect(meanAbsDiff(estimated.frames[4]!, fromNoise.frames[0]!)).toBeLessThan(meanStep(first.frames));
  });

  it('departs from the held layout in proportion to denoise', async () => {
    const first = await render(FIRST);
    const held = { heldFramePaths: first.paths.slice(12) };
    const still = await render({ ...SECOND, denoise: 0 }, held);
    const low = await render({ ...SECOND, denoise: 0.2 }, held);
    const high = await render({ ...SECOND, denoise: 0.9 }, held);
    const departure = (r: Rendered): number => meanAbsDiff(r.frames[15]!, still.frames[15]!);
    expect(departure(low)).toBeGreaterThan(meanStep(first.frames));
    // Pixels saturate (a form moved away is gone however far it went): less than 4.5× for 4.5× the denoise.
    expect(departure(high)).toBeGreaterThan(1.4 * departure(low));
    expect(meanAbsDiff(high.frames[4]!, still.frames[4]!)).toBeLessThan(departure(high) / 3);
  });

  it('renders the same continuation to the same frames, and chains on through a third job', async () => {
    const first = await render(FIRST);
    const a = await render(SECOND, { heldFramePaths: first.paths.slice(12) });
    const b = await render(SECOND, { heldFramePaths: first.paths.slice(12) });
    expect(same(b.frames, a.frames)).toBe(true);
    const third = await render(
      { ...SECOND, index: 2, startFrame: 24, leadFrame: 28, noiseFrame: 24 },
      {
        heldFramePaths: a.paths.slice(12),
      },
    );
    expect(same(third.frames.slice(0, 4), a.frames.slice(12))).toBe(true);
    expect(meanAbsDiff(third.frames[3]!, third.frames[4]!)).toBeLessThan(1.5 * meanStep(first.frames));
  });

  it('rejects held frames of another size, missing ones, and a count that is not heldFrames', async () => {
    const dir = await tempDir();
    const wrong = join(dir, 'wrong.png');
    await writeFile(wrong, encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) }));
    const first = await render(FIRST);
    const failure = async (paths: readonly string[]): Promise<BeatloomError> => {
      const error = await engine
        .renderSegment(SECOND, { workDir: await tempDir(), heldFramePaths: paths })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BeatloomError);
      return error as BeatloomError;
    };
    const size = await failure([...first.paths.slice(12, 15), wrong]);
    expect([size.code, size.message]).toEqual(['E_INIT_SIZE', `held frame ${wrong} is 32x32, the render is 64x64`]);
    expect((await failure([...first.paths.slice(12, 15), join(dir, 'gone.png')])).code).toBe('E_INIT_MISSING');
    expect((await failure(first.paths.slice(12, 14))).message).toBe(
      'segment 2 holds 4 frames of the one before, but 2 were given',
    );
  });
});

describe('preview continuity: take', () => {
  it('travels between the prompts of its schedule, frame by frame', async () => {
    const take = segmentJob({
      continuity: 'take',
      frameCount: 96,
      motion: { kind: 'constant', scale: 1 },
      promptSchedule: [
        { frame: 0, prompt: 'fire', negativePrompt: '' },
        { frame: 32, prompt: 'fire', negativePrompt: '' },
        { frame: 80, prompt: 'ocean', negativePrompt: '' },
      ],
    });
    const { frames } = await render(take);
    expect(frames).toHaveLength(96);
    const meanChannel = (f: Uint8Array, c: number): number =>
      f.filter((_, i) => i % 3 === c).reduce((s, v) => s + v, 0) / (f.length / 3);
    const redness = (j: number): number => meanChannel(frames[j]!, 0) - meanChannel(frames[j]!, 2);
    expect(redness(0)).toBeGreaterThan(0);
    expect(redness(95)).toBeLessThan(0);
    expect(redness(40)).toBeGreaterThan(redness(56));
    expect(redness(56)).toBeGreaterThan(redness(72));
    // Prompt travel is gradual: no step on the way is larger than the steps of the look it arrives at.
    const steps = frames.slice(1).map((f, i) => meanAbsDiff(frames[i]!, f));
    expect(Math.max(...steps.slice(32, 80))).toBeLessThan(1.1 * Math.max(...steps.slice(80)));
  });

  it('scales the motion by the motion module’s effect', async () => {
    const job = segmentJob({ continuity: 'take', frameCount: 8, motion: { kind: 'constant', scale: 1.2 } });
    const none = await render({ ...job, effect: { kind: 'constant', scale: 0 } });
    const half = await render({ ...job, effect: { kind: 'constant', scale: 0.5 } });
    const full = await render({ ...job, effect: { kind: 'constant', scale: 1 } });
    expect(meanStep(none.frames)).toBe(0);
    expect(meanStep(full.frames)).toBeGreaterThan(1.5 * meanStep(half.frames));
    expect(same((await render(job)).frames, full.frames)).toBe(true);
  });
});
