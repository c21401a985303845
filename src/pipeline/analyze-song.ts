/**
 * `beatloom analyze`: a song → its analysis, written as JSON and drawn as a figure where asked.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Analysis } from '../analysis/analysis-schema.js';
import { analyzeFile } from '../analysis/analyze.js';
import { assertReadableFile } from '../ffmpeg/decode-audio.js';
import { analysisFigure } from '../plot/analysis-figure.js';
import { renderPng } from '../plot/render-png.js';
import { renderSvg } from '../plot/render-svg.js';
import { usageError } from '../shared/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../shared/fs-atomic.js';
import { assertNotAnInput } from '../shared/same-file.js';

export type PlotFormat = 'png' | 'svg';

export interface AnalyzeSongRequest {
  readonly audioPath: string;
  /** Where analysis.json goes; nothing is written when left out. */
  readonly outPath?: string | undefined;
  readonly plot?: { readonly path: string; readonly format: PlotFormat } | undefined;
}

export async function analyzeSong(
  request: AnalyzeSongRequest,
  options: { signal?: AbortSignal } = {},
): Promise<Analysis> {
  await assertReadableFile(request.audioPath);
  // Checked before any work: no destination is the song, and none is a folder.
  for (const [path, what] of [
    [request.outPath, 'analysis'],
    [request.plot?.path, 'plot'],
  ] as const) {
    if (path === undefined) continue;
    await assertNotAnInput({ path, what }, [{ path: request.audioPath, what: 'the audio input' }]);
    if ((await stat(path).catch(() => undefined))?.isDirectory())
      throw usageError('E_OUTPUT_DIR', `${what} ${path} is a folder`, 'give a file path, e.g. song.analysis.json');
  }
  const analysis = await analyzeFile(resolve(request.audioPath), { signal: options.signal });
  if (request.outPath !== undefined) await writeJsonAtomic(resolve(request.outPath), analysis);
  if (request.plot !== undefined) {
    const figure = analysisFigure(analysis);
    await writeFileAtomic(
      resolve(request.plot.path),
      request.plot.format === 'png' ? renderPng(figure) : renderSvg(figure),
    );
  }
  return analysis;
}
export { analysisEvents } from '../analysis/analysis-events.js';
