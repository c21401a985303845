/**
 * `beatloom verify`: a rendered video checked against its song (frame count, decoded durations,
 * where visual changes fall on the beats), and the seams of the run directory that made it
 * (measure-seams.ts): the run directory given, else the video's folder when it holds plan.json.
 */
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { analyzeFile } from '../analysis/analyze.js';
import { assertReadableFile } from '../ffmpeg/decode-audio.js';
import { runDirAt } from '../run/run-dir.js';
import type { Rational } from '../shared/media-time.js';
import { syncReportSchema, verifySync } from '../stitching/verify-sync.js';
import { measureSeams, seamReportSchema } from './measure-seams.js';

export interface VerifyRenderRequest {
  readonly videoPath: string;
  readonly audioPath: string;
  /** The video's frame rate; read from its timestamps when left out. */
  readonly fps?: Rational | undefined;
  readonly toleranceFrames: number;
  readonly expectFlashes: boolean;
  /** The run directory whose seams to measure; by default the video's folder, when it is one. */
  readonly runDir?: string | undefined;
}

/** The sync report with the seams beside it (null when no run directory was given or found). */
export const verifyReportSchema = syncReportSchema.extend({ seams: seamReportSchema.nullable() });
export type VerifyReport = z.infer<typeof verifyReportSchema>;

async function runDirBeside(videoPath: string): Promise<string | undefined> {
  const root = dirname(resolve(videoPath));
  try {
    await access(runDirAt(root).planJson);
    return root;
  } catch {
    return undefined;
  }
}

export async function verifyRender(
  request: VerifyRenderRequest,
  options: { signal?: AbortSignal } = {},
): Promise<VerifyReport> {
  await assertReadableFile(request.videoPath);
  await assertReadableFile(request.audioPath);
  const runDir = request.runDir === undefined ? await runDirBeside(request.videoPath) : resolve(request.runDir);
  // Seams first: a run directory that cannot be measured fails before the song is analysed.
  const seams = runDir === undefined ? null : await measureSeams(runDir, { signal: options.signal });
  const analysis = await analyzeFile(resolve(request.audioPath), { signal: options.signal });
  const sync = await verifySync(
    resolve(request.videoPath),
    {
      duration: { sampleCount: analysis.source.sampleCount, sampleRateHz: analysis.source.sampleRateHz },
      beats: analysis.beats,
      downbeats: analysis.downbeats,
    },
    {
      signal: options.signal,
      fps: request.fps,
      toleranceFrames: request.toleranceFrames,
      expectFlashes: request.expectFlashes,
    },
  );
  return { ...sync, seams };
}
