/**
 * A free-space preflight: before segments render, compare what the run still has to write (its
 * missing segments' frames and the video) with the space left where it goes, and warn early —
 * a full disk an hour in is worse than a note at the start. Only a warning: PNG sizes vary with
 * the picture, and a full disk mid-render is still a clean one-line error that keeps every
 * finished segment (see shared/fs-faults.ts).
 */
import { readdir, statfs } from 'node:fs/promises';
import type { RenderPlan } from './render-plan.js';
import type { RunDir } from '../run/run-dir.js';

/**
 * Bytes per pixel of a rendered PNG frame: SD 1.5 frames at 512×512 are about 450 kB (the fake
 * server's noise frames are sized after them, npm run bench:engine), 0.57 of raw RGB; 0.6 keeps a
 * margin. The video is far smaller than its frames and is counted as one more frame per segment.
 */
const PNG_BYTES_PER_PIXEL = 3 * 0.6;

export function estimateRunBytes(plan: RenderPlan, jobs: RenderPlan['jobs']): number {
  const frames = jobs.reduce((sum, job) => sum + job.frameCount + 1, 0);
  return Math.ceil(frames * plan.width * plan.height * PNG_BYTES_PER_PIXEL);
}

/** Bytes free for us at `path`, or undefined where the system cannot say. */
export async function freeBytesAt(path: string): Promise<number | undefined> {
  try {
    const info = await statfs(path);
    return info.bavail * info.bsize;
  } catch {
    return undefined;
  }
}

/** The warning to give, if the run's estimate does not fit in the space left; undefined when it does. */
export async function freeSpaceWarning(plan: RenderPlan, run: RunDir): Promise<string | undefined> {
  const present = new Set(await readdir(run.segmentsDir).catch(() => [] as string[]));
  const missing = plan.jobs.filter((job) => !present.has(run.segmentDir(job.index).slice(run.segmentsDir.length + 1)));
  const needed = estimateRunBytes(plan, missing);
  const free = await freeBytesAt(run.root);
  if (free === undefined || needed <= free) return undefined;
  const mb = (bytes: number): string => `${Math.ceil(bytes / (1024 * 1024))} MB`;
  return `the run directory ${run.root} has ${mb(free)} free, and this render needs about ${mb(needed)} (${missing.length} segments of ${plan.width}x${plan.height} frames): free some space or choose another --run-dir, or the render will stop when the disk is full (finished segments are kept)`;
}
