/**
 * `beatloom plan`: decode → analyze (cached in the run directory, shared with render) → map →
 * keyframes.json, and on request a picture of the plan and an export for other tools.
 */
import { basename } from 'node:path';
import type { Analysis } from '../analysis/analysis-schema.js';
import { exportKeyframes, type ExportFormat } from '../keyframes/export-keyframes.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { plotKeyframes, type PlotFormat } from '../plot/keyframes-plot.js';
import { writeFileAtomic, writeJsonAtomic } from '../shared/fs-atomic.js';
import type { TaskOptions } from '../shared/progress.js';
import { assertUsableRunDir, assertWritableFile, inputsOf } from './output-path.js';
import { loadSongMapping, prepareKeyframes } from './prepare-keyframes.js';
import type { SongRequest } from './render-request.js';
import { openRunDir, runDirAt } from '../run/run-dir.js';
import { keyframesSchema } from '../keyframes/keyframes-schema.js';
import { assertNotAnInput, assertNotRunDirContent } from '../shared/same-file.js';

export interface PlanRequest extends SongRequest {
  /** Where keyframes.json goes (default: <runDir>/keyframes.json). */
  readonly keyframesPath?: string | undefined;
  readonly plot?: { readonly path: string; readonly format: PlotFormat } | undefined;
  readonly exportFormat?: ExportFormat | undefined;
}

export interface PlanResult {
  readonly keyframes: Keyframes;
  readonly analysis: Analysis;
  readonly keyframesPath: string;
  readonly plotPath?: string;
  /** The export, when one was asked for: the caller prints it. */
  readonly exportText?: string;
}

export async function planSong(request: PlanRequest, options: TaskOptions = {}): Promise<PlanResult> {
  const song = await loadSongMapping(request);
  // Every destination is checked before the run directory is opened (and locked).
  const keyframesPath = request.keyframesPath ?? runDirAt(request.runDir).keyframesJson;
  const inputs = inputsOf(request);
  for (const [path, what] of [
    [keyframesPath, 'keyframes'],
    [request.plot?.path, 'plot'],
  ] as const) {
    if (path === undefined) continue;
    await assertNotAnInput({ path, what }, inputs);
    await assertNotRunDirContent({ path, what }, request.runDir, ['keyframes.json']);
  }
  await assertWritableFile(keyframesPath, ['.json'], { what: 'keyframes', flag: '-o', example: 'keyframes.json' });
  if (request.plot)
    await assertWritableFile(request.plot.path, [`.${request.plot.format}`], {
      what: 'plot',
      flag: '--plot',
      example: 'plan.png',
    });
  await assertUsableRunDir(request.runDir);
  const run = await openRunDir(request.runDir);
  try {
    const { analysis, keyframes } = await prepareKeyframes(request, run, song, options);
    await writeJsonAtomic(keyframesPath, keyframesSchema.encode(keyframes));
    options.onProgress?.({
      stage: 'keyframes',
      done: 1,
      total: 1,
      unit: 'steps',
      detail: `${keyframes.segments.length} segments`,
    });

    let plotPath: string | undefined;
    if (request.plot) {
      const picture = plotKeyframes({ keyframes, analysis, title: basename(request.audioPath) }, request.plot.format);
      await writeFileAtomic(request.plot.path, picture);
      plotPath = request.plot.path;
    }
    const exportText = request.exportFormat ? exportKeyframes(request.exportFormat, keyframes, analysis) : undefined;
    return {
      keyframes,
      analysis,
      keyframesPath,
      ...(plotPath ? { plotPath } : {}),
      ...(exportText !== undefined ? { exportText } : {}),
    };
  } finally {
    await run.release();
  }
}
