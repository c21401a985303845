/** Progress is a typed event; only cli/ draws it (bars on a TTY, JSON lines with --json). */
export type Stage = 'analyze' | 'keyframes' | 'render' | 'stitch';

export interface ProgressEvent {
  readonly stage: Stage;
  readonly done: number;
  readonly total: number;
  /** What `done` and `total` count. */
  readonly unit: 'steps' | 'frames' | 'segments';
  /** A short note: "segment 12/40 (cached)". */
  readonly detail?: string;
}

export type ProgressListener = (event: ProgressEvent) => void;

export interface TaskOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}
