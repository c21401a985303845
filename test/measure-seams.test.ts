/**
 * Seams on tiny run directories written here: synthetic frames whose differences are known
 * exactly (every byte of a frame moves by the same amount), so across, jump, within, opening and
 * the restart score have exact expected values.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frameFileName } from '../src/engines/engine.js';
import {
  decodedSegment,
  framesKept,
  measureBoundary,
  measureSeams,
  SegmentDecoder,
  seamReportSchema,
  type SeamSegment,
} from '../src/pipeline/measure-seams.js';
import { encodePng } from '../src/raster/png.js';
import { segmentDirName } from '../src/run/run-dir.js';
import { BeatloomError } from '../src/shared/errors.js';
import { tempDir } from './helpers/media.js';

const W = 4;
const H = 2;

interface Job {
  startFrame: number;
  frameCount: number;
  leadFrame: number;
  crossfadeFrames?: number;
  heldFrames?: number;
  seed?: number;
  section?: string;
}

/** A frame whose byte j is base + j (a fixed spatial gradient) plus `level`, as RGB. */
function frame(level: number, width = W, height = H): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let j = 0; j < data.length; j++) data[j] = level + j;
  return data;
}

/**
 * A run directory with plan.json (the fields seams read, plus some they ignore) and every
 * segment's frames: `level(segment, localFrame)` gives the frame's offset.
 */
async function writeRun(
  jobs: readonly Job[],
  level: (segment: number, local: number) => number,
  size: (segment: number) => [number, number] = () => [W, H],
): Promise<string> {
  const root = await tempDir('beatloom-seams-');
  const planJobs = jobs.map((job, index) => ({
    index,
    hash: `h${index}`,
    crossfadeFrames: 2,
    seed: 7,
    section: 'verse',
    prompt: 'x',
    ...job,
  }));
  await writeFile(join(root, 'plan.json'), JSON.stringify({ version: 1, engine: 'test', jobs: planJobs }));
  for (const [index, job] of planJobs.entries()) {
    const dir = join(root, 'segments', segmentDirName(index));
    await mkdir(dir, { recursive: true });
    const [width, height] = size(index);
    for (let i = 0; i < job.frameCount; i++)
      await writeFile(
        join(dir, frameFileName(i)),
        encodePng({ width, height, data: frame(level(index, i), width, height) }),
      );
  }
  return root;
}

const TWO: Job[] = [
  { startFrame: 0, frameCount: 16, leadFrame: 0, crossfadeFrames: 0 },
  { startFrame: 12, frameCount: 16, leadFrame: 14 },
];

describe('measureSeams', () => {
  it('one take through the boundary: identical overlap → across 0, ratio 0, no restart; within is the step', async () => {
    // Frame level 3 per timeline frame: both segments draw the same moment at the same time.
    const root = await writeRun(TWO, (s, i) => 3 * (TWO[s]!.startFrame + i));
    const report = await measureSeams(root);
    expect(seamReportSchema.parse(report)).toEqual(report);
    expect(report).toMatchObject({ segments: 2, width: W, height: H });
    expect(report.boundaries).toEqual([
      {
        from: 0,
        to: 1,
        sharedFrames: 4,
        leadFrame: 14,
        crossfadeFrames: 2,
        planned: 'continuation',
        reasons: [],
        heldFrames: 0,
        across: 0,
        jump: 3, // timeline frames 13 and 14
        within: 3,
        maxStep: 3,
        ratio: 0,
        jumpRatio: 1,
        opening: 36, // segment 1 opens 12 frames later: 12 steps of 3
        openingAcross: 0,
        restartScore: 0,
        verdict: 'continuous',
      },
    ]);
    expect(report.summary).toEqual({
      boundaries: 1,
      continuations: 1,
      transitions: 0,
      restarts: 0,
      seams: 0,
      ratio: { median: 0, max: 0 },
      jumpRatio: { median: 1, max: 1 },
      across: { median: 0, max: 0 },
      within: { median: 3, max: 3 },
      restartScore: { median: 0, max: 0 },
    });
  });

  it('a segment that opens as its predecessor opened is a restart: score 1', async () => {
    // Both segments' local frame i is level 5·i: the same clip again, 12 frames later.
    const root = await writeRun(TWO, (_s, i) => 5 * i);
    const [b] = (await measureSeams(root)).boundaries;
    expect(b).toMatchObject({
      across: 60,
      jump: 55,
      within: 5,
      ratio: 12,
      jumpRatio: 11,
      opening: 0,
      openingAcross: 60,
      restartScore: 1,
    });
    expect(b!.verdict).toBe('restart');
  });

  it('an overlap that disagrees by a constant is a seam; its opening is far from a restart', async () => {
    // Segment 1 is the same take 20 levels brighter: across 20 = 4 steps of 5.
    const root = await writeRun(TWO, (s, i) => 5 * (TWO[s]!.startFrame + i) + (s === 1 ? 20 : 0));
    const [b] = (await measureSeams(root)).boundaries;
    expect(b).toMatchObject({
      across: 20,
      jump: 25,
      within: 5,
      ratio: 4,
      jumpRatio: 5,
      opening: 80,
      openingAcross: 20,
      restartScore: 0,
      verdict: 'seam',
    });
    expect((await measureSeams(root)).summary).toMatchObject({ seams: 1, restarts: 0, ratio: { median: 4, max: 4 } });
  });

  it('restart score between 0 and 1: 1 − opening / across', async () => {
    // Segment 1 opens 15 levels off segment 0's opening and 45 off the frames it shares: 1 − 15/45.
    const root = await writeRun(TWO, (s, i) => 5 * i + (s === 1 ? 15 : 0));
    const [b] = (await measureSeams(root)).boundaries;
    expect(b).toMatchObject({ across: 45, opening: 15, openingAcross: 45 });
    expect(b!.restartScore).toBeCloseTo(1 - 15 / 45, 12);
  });

  it('a new seed or section is a planned transition, not a seam; a restart stays a restart', async () => {
    const jobs: Job[] = [
      { startFrame: 0, frameCount: 8, leadFrame: 0, crossfadeFrames: 0 },
      { startFrame: 6, frameCount: 8, leadFrame: 7, seed: 8 },
      { startFrame: 12, frameCount: 8, leadFrame: 13, seed: 8, section: 'drop' },
      { startFrame: 18, frameCount: 8, leadFrame: 19, seed: 9, section: 'outro' },
      { startFrame: 24, frameCount: 8, leadFrame: 25, seed: 9, section: 'outro' },
    ];
    // Segments 0–3 are unrelated pictures (a new level each, still within); segment 4 restarts 3.
    const root = await writeRun(jobs, (s, i) => (s === 4 ? 120 : 40 * s) + i);
    const report = await measureSeams(root);
    expect(report.boundaries.map((b) => [b.planned, b.reasons, b.verdict])).toEqual([
      ['transition', ['seed'], 'transition'],
      ['transition', ['section'], 'transition'],
      ['transition', ['seed', 'section'], 'transition'],
      ['continuation', [], 'restart'],
    ]);
    // Unrelated imagery 40 levels apart, 6 frames later in the take: across 40 − 6, opening 40.
    // Against segment 0 at the same moments (its last frame once it has ended): 34, 34, 35, 36.
    expect(report.boundaries[0]).toMatchObject({
      across: 34,
      opening: 40,
      openingAcross: 34.75,
      restartScore: 0,
      within: 1,
      maxStep: 1,
      ratio: 34,
    });
    expect(report.boundaries[3]).toMatchObject({ across: 6, opening: 0, openingAcross: 5.25, restartScore: 1 });
    expect(report.summary).toMatchObject({ boundaries: 4, continuations: 1, transitions: 3, restarts: 1, seams: 0 });
  });

  it('within is the median over both segments; segments that do not overlap have no ratio, only the jump at the lead', async () => {
    const jobs: Job[] = [
      { startFrame: 0, frameCount: 4, leadFrame: 0, crossfadeFrames: 0 },
      { startFrame: 4, frameCount: 4, leadFrame: 4, crossfadeFrames: 0 },
    ];
    // Steps of 1 in segment 0 (levels 0,1,2,3), of 3 in segment 1 (levels 13,16,19,22).
    const root = await writeRun(jobs, (s, i) => (s === 0 ? i : 13 + 3 * i));
    const [b] = (await measureSeams(root)).boundaries;
    expect(b).toMatchObject({
      sharedFrames: 0,
      across: null,
      jump: 10,
      within: 2,
      maxStep: 3,
      ratio: null,
      jumpRatio: 10 / 3,
      opening: 16,
      openingAcross: 14.5, // against segment 0's last frame (level 3)
      verdict: 'seam',
    });
    expect(b!.restartScore).toBe(0);
  });

  it('a still picture (within 0) divides by the floor of half a level', async () => {
    const root = await writeRun(TWO, (s) => (s === 0 ? 100 : 110));
    const [b] = (await measureSeams(root)).boundaries;
    expect(b).toMatchObject({
      across: 10,
      within: 0,
      maxStep: 0,
      ratio: 20,
      jumpRatio: 20,
      opening: 10,
      restartScore: 0,
      verdict: 'seam',
    });
  });

  describe('a segment that holds its predecessor’s last frames (continue)', () => {
    const HELD: Job[] = [
      { startFrame: 0, frameCount: 16, leadFrame: 0, crossfadeFrames: 0 },
      { startFrame: 12, frameCount: 16, leadFrame: 16, crossfadeFrames: 0, heldFrames: 4 },
    ];

    it('continuing the take: across 0, the lead an ordinary step, no restart', async () => {
      const root = await writeRun(HELD, (s, i) => 3 * (HELD[s]!.startFrame + i));
      const [b] = (await measureSeams(root)).boundaries;
      expect(b).toMatchObject({
        heldFrames: 4,
        across: 0,
        jump: 3,
        within: 3,
        maxStep: 3,
        ratio: 0,
        jumpRatio: 1,
        opening: 36, // local frames 4–7, the first it draws
        openingAcross: 7.5, // against segment 0's last frame: 3, 6, 9, 12
        restartScore: 0,
        verdict: 'continuous',
      });
    });

    it('held frames, then the clip again from its start: the overlap agrees, the lead jumps, a restart', async () => {
      // Frames 0–3 held (segment 0's 12–15), then segment 0's frames 4… again.
      const root = await writeRun(HELD, (s, i) => (s === 1 && i < 4 ? 3 * (12 + i) : 3 * i));
      const [b] = (await measureSeams(root)).boundaries;
      expect(b).toMatchObject({
        across: 0,
        jump: 33,
        within: 3,
        maxStep: 3, // the step out of the held frames is the boundary's, not segment 1's motion
        jumpRatio: 11,
        opening: 0,
        openingAcross: 28.5,
        restartScore: 1,
        verdict: 'restart',
      });
    });
  });

  it('holds the plan’s order by start, whatever plan.json lists first', async () => {
    const root = await writeRun(TWO, (s, i) => 3 * (TWO[s]!.startFrame + i));
    const plan = JSON.parse(await readFile(join(root, 'plan.json'), 'utf8')) as { jobs: unknown[] };
    plan.jobs.reverse();
    await writeFile(join(root, 'plan.json'), JSON.stringify(plan));
    expect((await measureSeams(root)).boundaries.map((b) => [b.from, b.to, b.across])).toEqual([[0, 1, 0]]);
  });

  describe('only the frames a boundary reads are kept', () => {
    const seg = (
      index: number,
      startFrame: number,
      frameCount: number,
      leadFrame: number,
      heldFrames = 0,
    ): SeamSegment => ({
      index,
      startFrame,
      frameCount,
      leadFrame,
      crossfadeFrames: heldFrames > 0 ? 0 : 2,
      seed: 1,
      section: 'a',
      heldFrames,
    });
    const keptOf = (s: SeamSegment, prev?: SeamSegment, next?: SeamSegment): number[] => {
      const keep = framesKept(s, prev, next);
      return Array.from({ length: s.frameCount }, (_, i) => i).filter(keep);
    };

    it('a middle segment keeps its overlap with each neighbour and its opening; a take of 200 frames keeps 8', () => {
      const a = seg(0, 0, 16, 0);
      const b = seg(1, 12, 16, 14);
      const c = seg(2, 24, 16, 26);
      expect(keptOf(b, a, c)).toEqual([0, 1, 2, 3, 12, 13, 14, 15]);
      const take = seg(1, 12, 200, 14);
      expect(keptOf(take, a, seg(2, 208, 16, 210))).toEqual([0, 1, 2, 3, 196, 197, 198, 199]);
      // Held frames: the incoming segment's opening starts after them, so the outgoing keeps more.
      const held = seg(1, 12, 16, 16, 4);
      expect(keptOf(a, undefined, held)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15]);
      expect(keptOf(held, a, undefined)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it.each([
      ['overlap and crossfade', [seg(0, 0, 16, 0), seg(1, 12, 16, 14), seg(2, 22, 16, 25)]],
      ['held frames', [seg(0, 0, 16, 0), seg(1, 11, 16, 16, 5), seg(2, 23, 16, 27, 4)]],
      ['no overlap, long segments', [seg(0, 0, 40, 0), seg(1, 40, 40, 40), seg(2, 80, 9, 80)]],
    ])('%s: the kept frames measure exactly what all frames measure', (_name, segments) => {
      // Frames that differ unevenly everywhere: level (7·f + 13·s) mod 200 by timeline frame f.
      const frames = (s: SeamSegment): Uint8Array[] =>
        Array.from({ length: s.frameCount }, (_, i) => frame(((s.startFrame + i) * 7 + s.index * 13 + i * i) % 200));
      const decoded = segments.map((s, i) => {
        const decoder = new SegmentDecoder(s, framesKept(s, segments[i - 1], segments[i + 1]));
        for (const f of frames(s)) decoder.add(f);
        return decoder.finish();
      });
      const full = segments.map((s) => decodedSegment(s, frames(s)));
      for (let i = 1; i < segments.length; i++)
        expect(measureBoundary(decoded[i - 1]!, decoded[i]!)).toEqual(measureBoundary(full[i - 1]!, full[i]!));
    });
  });

  describe('bad run directories: one clear error', () => {
    const failure = async (root: string): Promise<BeatloomError> => {
      try {
        await measureSeams(root);
      } catch (error) {
        expect(error).toBeInstanceOf(BeatloomError);
        return error as BeatloomError;
      }
      throw new Error('measureSeams did not fail');
    };

    it('segments of different sizes', async () => {
      const root = await writeRun(
        TWO,
        () => 0,
        (s) => (s === 0 ? [W, H] : [2, 2]),
      );
      const error = await failure(root);
      expect(error.code).toBe('E_FRAME_SIZE');
      expect(error.message).toBe(
        `${join('segments', '0001', 'frame-0000.png')} is 2x2, but ${join('segments', '0000', 'frame-0000.png')} is 4x2`,
      );
      expect(error.hint).toMatch(/different sizes: render again with --force/);
    });

    it('a segment not rendered', async () => {
      const root = await writeRun(TWO, () => 0);
      await rm(join(root, 'segments', '0001', frameFileName(15)));
      const error = await failure(root);
      expect(error.code).toBe('E_FRAME_MISSING');
      expect(error.message).toBe(`segment 1 has no frame 15 (${join('segments', '0001', 'frame-0015.png')}: ENOENT)`);
    });

    it('no plan.json, or one that is not a plan', async () => {
      const empty = await tempDir('beatloom-seams-');
      const missing = await failure(empty);
      expect([missing.code, missing.kind]).toEqual(['E_RUN_DIR', 'usage']);
      expect(missing.message).toBe(`cannot read ${join(empty, 'plan.json')}: ENOENT`);
      await writeFile(join(empty, 'plan.json'), JSON.stringify({ jobs: [{ index: 0, startFrame: -1 }] }));
      const bad = await failure(empty);
      expect(bad.code).toBe('E_RUN_DIR');
      expect(bad.message).toMatch(/plan\.json is not a render plan: jobs\.0\.startFrame: /);
      await writeFile(join(empty, 'plan.json'), '{');
      expect((await failure(empty)).message).toMatch(/plan\.json is not JSON: /);
    });
  });
});
