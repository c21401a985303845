/**
 * Seams of a rendered run, measured from its segment folders (DESIGN.md §3 "Seams are measured"):
 *   shared   — mean abs pixel difference (0–255) between the two renders of each frame two
 *              neighbouring segments share (0 when the later one holds them);
 *   switch   — the step a viewer sees where the timeline passes from one segment to the next
 *              (the frame before the later segment's lead frame, from the earlier one, against
 *              the lead frame), crossfades left out;
 *   restart  — how far segment k+1's opening frames are from segment k's opening frames (low:
 *              a restart of the same clip);
 *   neighbour — between consecutive frames inside segments (the motion a viewer expects).
 *
 *   npx tsx bench/preview/measure-seams.ts runs/loom-groove [--json]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { frameFileName } from '../../src/engines/engine.js';
import { renderPlanSchema, type PlannedJob } from '../../src/pipeline/render-plan.js';
import { decodePng } from '../../src/raster/png.js';
import { segmentDirName } from '../../src/run/run-dir.js';

const OPENING_FRAMES = 4;

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

export interface SeamFigures {
  readonly continuity: string;
  readonly boundaries: number;
  readonly shared: number;
  readonly switchStep: number;
  readonly restart: number;
  readonly neighbour: number;
}

export async function measureSeams(runDir: string): Promise<SeamFigures> {
  const plan = renderPlanSchema.parse(JSON.parse(await readFile(join(runDir, 'plan.json'), 'utf8')));
  const frame = async (job: PlannedJob, local: number): Promise<Uint8Array> =>
    decodePng(await readFile(join(runDir, 'segments', segmentDirName(job.index), frameFileName(local)))).data;
  const neighbour: number[] = [];
  const shared: number[] = [];
  const switches: number[] = [];
  const restart: number[] = [];
  let previous: PlannedJob | undefined;
  for (const job of plan.jobs) {
    let last = await frame(job, 0);
    for (let j = 1; j < job.frameCount; j++) {
      const next = await frame(job, j);
      neighbour.push(meanAbsDiff(last, next));
      last = next;
    }
    if (previous && previous.seed === job.seed) {
      const offset = job.startFrame - previous.startFrame;
      const count = previous.frameCount - offset;
      const pairs: number[] = [];
      for (let i = 0; i < count; i++) pairs.push(meanAbsDiff(await frame(previous, offset + i), await frame(job, i)));
      if (pairs.length > 0) shared.push(mean(pairs));
      const lead = job.leadFrame - job.startFrame;
      const before = job.leadFrame - 1 - previous.startFrame;
      if (lead >= 0 && lead < job.frameCount && before >= 0 && before < previous.frameCount)
        switches.push(meanAbsDiff(await frame(previous, before), await frame(job, lead)));
      const opening: number[] = [];
      for (let i = 0; i < Math.min(OPENING_FRAMES, job.frameCount, previous.frameCount); i++)
        opening.push(meanAbsDiff(await frame(previous, i), await frame(job, i)));
      restart.push(mean(opening));
    }
    previous = job;
  }
  return {
    continuity: plan.continuity,
    boundaries: restart.length,
    shared: mean(shared),
    switchStep: mean(switches),
    restart: mean(restart),
    neighbour: mean(neighbour),
  };
}

const runDir = process.argv[2];
if (runDir === undefined) {
  process.stderr.write('usage: tsx bench/preview/measure-seams.ts RUN_DIR [--json]\n');
  process.exit(2);
}
const figures = await measureSeams(runDir);
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(figures)}\n`);
else
  process.stdout.write(
    `${figures.continuity}: ${figures.boundaries} same-seed boundaries; shared ${figures.shared.toFixed(2)}, switch ${figures.switchStep.toFixed(2)}, restart ${figures.restart.toFixed(2)}, neighbour ${figures.neighbour.toFixed(2)}\n`,
  );
