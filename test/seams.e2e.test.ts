/**
 * `beatloom verify` measures the seams of the run directory a video came from (the built CLI, a
 * preview render): the report's structure follows the plan exactly, its figures are the frames'
 * own (recomputed here from the PNGs), and a segment made to repeat its predecessor is a restart.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { frameFileName } from '../src/engines/engine.js';
import { verifyReportSchema } from '../src/pipeline/verify-render.js';
import { median } from '../src/shared/math.js';
import { decodePng } from '../src/raster/png.js';
import { segmentDirName } from '../src/run/run-dir.js';
import { runCli } from './helpers/cli.js';
import { makeClickTrack, meanAbsDiff, tempDir } from './helpers/media.js';

interface Job {
  index: number;
  startFrame: number;
  frameCount: number;
  leadFrame: number;
  crossfadeFrames: number;
  seed: number;
  section: string;
  /** Plans of a continuity that holds frames (continue) have it. */
  heldFrames?: number;
}

describe('beatloom verify: seams of the run directory', () => {
  let dir: string;
  let song: string;
  let runDir: string;
  let jobs: Job[];

  const frame = async (segment: number, local: number): Promise<Uint8Array> =>
    decodePng(await readFile(join(runDir, 'segments', segmentDirName(segment), frameFileName(local)))).data;

  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 6, bpm: 120 });
    runDir = join(dir, 'run');
    const rendered = await runCli([
      'render',
      song,
      '--prompt',
      'neon city, rain',
      '--size',
      '64x64',
      '--run-dir',
      runDir,
      '--quiet',
    ]);
    expect(rendered.stderr).toBe('');
    expect(rendered.code).toBe(0);
    jobs = JSON.parse(await readFile(join(runDir, 'plan.json'), 'utf8')).jobs;
    expect(jobs.length).toBeGreaterThanOrEqual(3);
  });

  it('--json: a boundary per neighbouring pair, as the plan has them, with the frames’ own figures', async () => {
    const result = await runCli(['verify', join(runDir, 'out.mp4'), '--audio', song, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { seams } = verifyReportSchema.parse(JSON.parse(result.stdout));
    expect(seams).not.toBeNull();
    expect(seams!.runDir).toBe(runDir);
    expect(seams).toMatchObject({
      segments: jobs.length,
      width: 64,
      height: 64,
      thresholds: { seamRatio: 2, jumpRatio: 1.5, restartScore: 0.5, openingFrames: 4, withinFloor: 0.5 },
    });
    expect(seams!.boundaries.map((b) => [b.from, b.to, b.sharedFrames, b.leadFrame, b.crossfadeFrames])).toEqual(
      jobs
        .slice(1)
        .map((b, i) => [
          i,
          b.index,
          jobs[i]!.startFrame + jobs[i]!.frameCount - b.startFrame,
          b.leadFrame,
          b.crossfadeFrames,
        ]),
    );
    expect(seams!.boundaries.map((b) => b.planned)).toEqual(
      jobs
        .slice(1)
        .map((b, i) => (b.seed !== jobs[i]!.seed || b.section !== jobs[i]!.section ? 'transition' : 'continuation')),
    );

    // The first boundary, recomputed from the PNGs, whichever continuity the default mapping has.
    const [a, b] = jobs;
    const first = seams!.boundaries[0]!;
    const held = b!.heldFrames ?? 0;
    expect(first.heldFrames).toBe(held);
    const shared = a!.startFrame + a!.frameCount - b!.startFrame;
    let across = 0;
    for (let f = b!.startFrame; f < b!.startFrame + shared; f++)
      across += meanAbsDiff(await frame(0, f - a!.startFrame), await frame(1, f - b!.startFrame));
    across /= shared;
    const steps: number[] = [];
    // Segment 1's step out of its held frames is the boundary's (the jump), not its motion.
    for (const s of [0, 1])
      for (let i = 1; i < jobs[s]!.frameCount; i++)
        if (i !== (jobs[s]!.heldFrames ?? 0)) steps.push(meanAbsDiff(await frame(s, i - 1), await frame(s, i)));
    let opening = 0;
    let openingAcross = 0;
    const stride = b!.startFrame - a!.startFrame;
    for (let i = held; i < held + 4; i++) {
      opening += meanAbsDiff(await frame(0, i), await frame(1, i));
      openingAcross += meanAbsDiff(await frame(0, Math.min(a!.frameCount - 1, i + stride)), await frame(1, i));
    }
    opening /= 4;
    openingAcross /= 4;
    const jump = meanAbsDiff(
      await frame(0, b!.leadFrame - 1 - a!.startFrame),
      await frame(1, b!.leadFrame - b!.startFrame),
    );
    expect(first.across).toBe(across);
    expect(first.jump).toBe(jump);
    expect(first.within).toBe(median(steps));
    expect(first.maxStep).toBe(Math.max(...steps));
    expect(first.opening).toBe(opening);
    expect(first.openingAcross).toBe(openingAcross);
    expect(first.ratio).toBe(across / Math.max(median(steps), 0.5));
    expect(first.jumpRatio).toBe(jump / Math.max(Math.max(...steps), 0.5));
    expect(first.restartScore).toBe(Math.min(1, Math.max(0, 1 - opening / openingAcross)));

    const summary = seams!.summary;
    expect(summary.boundaries).toBe(jobs.length - 1);
    expect(summary.continuations + summary.transitions).toBe(jobs.length - 1);
    expect(summary.seams).toBe(seams!.boundaries.filter((x) => x.verdict === 'seam').length);
    expect(summary.restarts).toBe(seams!.boundaries.filter((x) => x.verdict === 'restart').length);
  });

  it('text: a summary line, a table only with --verbose; a copied segment is a restart', async () => {
    // Segment 1's frames replaced by segment 0's: it opens exactly as segment 0 opened.
    const restarted = join(dir, 'restarted');
    await mkdir(join(restarted, 'segments'), { recursive: true });
    await copyFile(join(runDir, 'plan.json'), join(restarted, 'plan.json'));
    for (const job of jobs) {
      const from = job.index === 1 ? 0 : job.index;
      await mkdir(join(restarted, 'segments', segmentDirName(job.index)));
      for (let i = 0; i < job.frameCount; i++)
        await copyFile(
          join(runDir, 'segments', segmentDirName(from), frameFileName(i)),
          join(restarted, 'segments', segmentDirName(job.index), frameFileName(i)),
        );
    }
    const video = join(runDir, 'out.mp4');
    const plain = await runCli(['verify', video, '--audio', song, '--run-dir', restarted]);
    expect(plain.code).toBe(0);
    const lines = plain.stdout.trim().split('\n');
    const seamLines = lines.filter((line) => line.startsWith('seams '));
    expect(seamLines.length).toBe(1);
    expect(lines.at(-1)).toBe(seamLines[0]);
    expect(seamLines[0]).toMatch(
      new RegExp(
        `^seams {4}${jobs.length} segments, ${jobs.length - 1} boundaries \\(\\d+ continuations, \\d+ planned transitions\\): .*; \\d+ seams \\(across\\/within ≥ 2 or jump\\/max step ≥ 1\\.5\\), [1-9]\\d* restarts \\(score ≥ 0\\.5\\)$`,
      ),
    );

    const verbose = await runCli(['verify', video, '--audio', song, '--run-dir', restarted, '--verbose']);
    expect(verbose.code).toBe(0);
    const table = verbose.stdout.trim().split('\n').slice(lines.length);
    expect(table.length).toBe(jobs.length); // a header and a line per boundary
    expect(table[0]).toMatch(
      /^ +boundary +shared +held +lead +fade +across +jump +within +maxstep +ratio +jumpr +opening +o\.across +restart +plan +verdict$/,
    );
    expect(table[1]).toMatch(
      /^ +0→1 +\d+ +\d+ +\d+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +0\.00 +[\d.]+ +1\.00 +\S.* +restart$/,
    );

    const json = await runCli(['verify', video, '--audio', song, '--run-dir', restarted, '--json']);
    const first = verifyReportSchema.parse(JSON.parse(json.stdout)).seams!.boundaries[0]!;
    expect(first).toMatchObject({ opening: 0, restartScore: 1, verdict: 'restart' });
  });

  it('no run directory beside the video: seams not measured; a --run-dir that is none: exit 2', async () => {
    const outside = join(dir, 'outside.mp4');
    await copyFile(join(runDir, 'out.mp4'), outside);
    const result = await runCli(['verify', outside, '--audio', song]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toBe(
      'seams    not measured: no plan.json beside the video (--run-dir names the run directory)',
    );
    const wrong = await runCli(['verify', outside, '--audio', song, '--run-dir', join(dir, 'nowhere')]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^beatloom: error: cannot read .*nowhere.plan\.json: ENOENT — give the run directory/);
  });
});
