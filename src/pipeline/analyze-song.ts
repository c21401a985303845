/**
 * `beatloom analyze`: a song → its analysis, written as JSON and drawn as a figure where asked.
 */
import { resolve } from 'node:path';
import type { Analysis } from '../analysis/analysis-schema.js';
import { analyzeFile } from '../analysis/analyze.js';
import { assertReadableFile } from '../ffmpeg/decode-audio.js';
import { analysisFigure } from '../plot/analysis-figure.js';
import { renderPng } from '../plot/render-png.js';
import { renderSvg } from '../plot/render-svg.js';
import { writeFileAtomic, writeJsonAtomic } from '../shared/fs-atomic.js';

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
