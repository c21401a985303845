/** What a batch reports as it goes and what it returns: typed values, drawn only by cli/. */
import type { DryRunReport } from '../dry-run/dry-run-song.js';
import type { RenderSummary } from '../pipeline/render-song.js';
import type { ProgressEvent } from '../shared/progress.js';

export interface JobError {
  readonly code: string;
  /** One line: the message and what to do. */
  readonly message: string;
  /** Not an error beatloom anticipates: the CLI prints the stack and asks for a report. */
  readonly unexpected: boolean;
  readonly stack?: string;
}

/** A job's end. Expected failures are values: one failed job never stops the others. */
export type JobOutcome =
  | { readonly status: 'done'; readonly summary: RenderSummary }
  | { readonly status: 'planned'; readonly report: DryRunReport }
  | { readonly status: 'failed'; readonly error: JobError }
  | { readonly status: 'interrupted' };

export interface JobResult {
  readonly index: number;
  readonly name: string;
  readonly outcome: JobOutcome;
  readonly elapsedMs: number;
}

export interface BatchResult {
  readonly results: readonly JobResult[];
  /** Ctrl-C stopped the batch; finished jobs and segments are kept. */
  readonly interrupted: boolean;
  readonly elapsedMs: number;
}

export type BatchEvent =
  | { readonly type: 'batch-start'; readonly jobs: readonly string[] }
  | { readonly type: 'job-progress'; readonly job: number; readonly progress: ProgressEvent }
  | { readonly type: 'job-end'; readonly job: number; readonly result: JobResult }
  /** Something the user should know that is not an error (a ComfyUI server left out of the batch). */
  | { readonly type: 'notice'; readonly message: string };
