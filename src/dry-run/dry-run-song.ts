/**
 * `--dry-run`: everything a render would decide — the plan, what is already rendered, how long
 * the engine will take — without rendering a segment or writing the video. Only the analysis
 * is kept in the run directory (a cache keyed by the audio's hash); no lock is taken, so a dry
 * run can look at a run directory while a render works in it. The engine is prepared as for a
 * render (for ComfyUI: its servers are checked), so the plan is the one a render would follow.
 */
import { createEngine, engineConfig } from '../engines/registry.js';
import type { TaskOptions } from '../shared/progress.js';
import { describePlan, type PlanOverview } from './describe-plan.js';
import { estimateEngineTime, type CalibrationCache, type EngineTimeEstimate } from './estimate-engine-time.js';
import { resolveOutput } from '../pipeline/output-path.js';
import { prepareRender } from '../pipeline/prepare-render.js';
import { findReusableSegments } from '../pipeline/render-segments.js';
import type { RenderRequest } from '../pipeline/render-request.js';
import type { SharedResources } from '../pipeline/render-song.js';
import { runDirAt } from '../run/run-dir.js';

export interface DryRunReport {
  readonly runDir: string;
  readonly outPath: string;
  readonly engine: string;
  /** Sampler steps per segment, as the engine will run them (plan.json's jobs say the same). */
  readonly steps: number;
  readonly bpm: number | null;
  readonly overview: PlanOverview;
  readonly estimate: EngineTimeEstimate;
}

export interface DryRunOptions extends TaskOptions {
  /** As for a render: count every segment as to be rendered. */
  readonly force?: boolean;
  readonly shared?: SharedResources;
  readonly calibrations?: CalibrationCache;
}

export async function dryRunSong(request: RenderRequest, options: DryRunOptions = {}): Promise<DryRunReport> {
  const { shared, signal } = options;
  const own = shared ? undefined : createEngine(engineConfig(request.engineId, request.engineOptions));
  try {
    // As a render would: a ComfyUI engine checks its servers (nothing is queued), which settles
    // the checkpoint and capabilities that go into the segment hashes, so "already rendered"
    // and the steps in the plan are the truth.
    const engine = shared ? shared.engine : await own!.prepare({ signal });
    const run = runDirAt(request.runDir);
    const { outPath } = await resolveOutput(request);
    const prepare = () => prepareRender(request, engine, run, { ...options, writePlan: false });
    const prepared = await (shared ? shared.prepareSlots.run(prepare, [shared.priority], signal) : prepare());
    const { plan, keyframes } = prepared;
    const reusable = options.force
      ? plan.jobs.map(() => false)
      : await findReusableSegments(plan, run, engine.capabilities.initImage);
    const estimate = await estimateEngineTime(plan, reusable, engine, run, {
      signal,
      calibrations: options.calibrations,
    });
    return {
      runDir: run.root,
      outPath,
      engine: engine.id,
      steps: engine.sampler.steps,
      bpm: prepared.bpm,
      overview: describePlan(keyframes, plan, reusable),
      estimate,
    };
  } finally {
    await own?.close();
  }
}
