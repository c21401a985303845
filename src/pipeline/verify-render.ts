/**
 * `beatloom verify`: a rendered video checked against its song (frame count, decoded durations,
 * where visual changes fall on the beats).
 */
import { resolve } from 'node:path';
import { analyzeFile } from '../analysis/analyze.js';
import { assertReadableFile } from '../ffmpeg/decode-audio.js';
import type { Rational } from '../shared/media-time.js';
import { verifySync, type SyncReport } from '../stitching/verify-sync.js';

export interface VerifyRenderRequest {
  readonly videoPath: string;
  readonly audioPath: string;
  /** The video's frame rate; read from its timestamps when left out. */
  readonly fps?: Rational | undefined;
  readonly toleranceFrames: number;
  readonly expectFlashes: boolean;
}

export async function verifyRender(
  request: VerifyRenderRequest,
  options: { signal?: AbortSignal } = {},
): Promise<SyncReport> {
  await assertReadableFile(request.videoPath);
  await assertReadableFile(request.audioPath);
  const analysis = await analyzeFile(resolve(request.audioPath), { signal: options.signal });
  return verifySync(
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
}
