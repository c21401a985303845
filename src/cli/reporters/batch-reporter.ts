/**
 * One progress display for a whole batch. The state is a pure function of the batch's typed
 * events (reduceBatchProgress) and the line a pure function of the state and the clock
 * (formatBatchLine); only createBatchReporter writes.
 *
 * The ETA needs a measure of work that is comparable across jobs. Engine time dominates, so a
 * job weighs as much as the segments it has to render (+1 for its analysis and encoding), known
 * once its render stage starts; until then it counts as the mean of the jobs already weighed.
 * Within a job, analysis is the first 5 %, rendering up to 90 %, encoding the rest.
 */
import type { BatchEvent, JobOutcome } from '../../batch/batch-events.js';
import type { Stage } from '../../shared/progress.js';
import { formatBar, formatEta, type ReporterMode } from './progress-reporter.js';

export interface JobProgress {
  readonly name: string;
  readonly stage: Stage | 'queued';
  /** 0..1 within the stage. */
  readonly stageFraction: number;
  /** Segments to render + 1; null until the job's render stage starts. */
  readonly weight: number | null;
  readonly ended: JobOutcome['status'] | null;
  /** "render 12/40" */
  readonly label: string;
}

export interface BatchProgressState {
  readonly startedAtMs: number;
  readonly jobs: readonly JobProgress[];
  /** The job that reported last: the one the line names. */
  readonly current: number | null;
}

const STAGE_SPANS: Readonly<Record<Stage, readonly [number, number]>> = {
  analyze: [0, 0.05],
  keyframes: [0.05, 0.05],
  render: [0.05, 0.9],
  stitch: [0.9, 1],
};

export function jobFraction(job: JobProgress): number {
  if (job.ended !== null) return 1;
  if (job.stage === 'queued') return 0;
  const [from, to] = STAGE_SPANS[job.stage];
  return from + (to - from) * job.stageFraction;
}

export function batchFraction(state: BatchProgressState): number {
  const known = state.jobs.map((job) => job.weight).filter((w): w is number => w !== null);
  const fallback = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  let total = 0;
  let done = 0;
  for (const job of state.jobs) {
    const weight = job.weight ?? fallback;
    total += weight;
    done += weight * jobFraction(job);
  }
  return total > 0 ? done / total : 1;
}

function updateJob(
  state: BatchProgressState,
  index: number,
  change: (job: JobProgress) => JobProgress,
): BatchProgressState {
  const job = state.jobs[index];
  if (!job) return state;
  return { ...state, jobs: state.jobs.map((j, i) => (i === index ? change(j) : j)), current: index };
}

export function initialBatchProgress(names: readonly string[], nowMs: number): BatchProgressState {
  return {
    startedAtMs: nowMs,
    jobs: names.map((name) => ({
      name,
      stage: 'queued',
      stageFraction: 0,
      weight: null,
      ended: null,
      label: 'queued',
    })),
    current: null,
  };
}

export function reduceBatchProgress(
  state: BatchProgressState | undefined,
  event: BatchEvent,
  nowMs: number,
): BatchProgressState {
  if (event.type === 'batch-start') return initialBatchProgress(event.jobs, nowMs);
  const current = state ?? initialBatchProgress([], nowMs);
  switch (event.type) {
    case 'job-progress': {
      const p = event.progress;
      return updateJob(current, event.job, (job) => ({
        ...job,
        stage: p.stage,
        stageFraction: p.total > 0 ? Math.min(1, p.done / p.total) : 1,
        weight: p.stage === 'render' && job.weight === null ? p.total + 1 : job.weight,
        label: p.total > 1 ? `${p.stage} ${Math.floor(p.done)}/${p.total}` : p.stage,
      }));
    }
    case 'job-end':
      return updateJob(current, event.job, (job) => ({
        ...job,
        ended: event.result.outcome.status,
        label: event.result.outcome.status,
      }));
    case 'notice':
      return current;
  }
}

export function formatBatchLine(state: BatchProgressState, nowMs: number): string {
  const fraction = batchFraction(state);
  const elapsedSec = (nowMs - state.startedAtMs) / 1000;
  const eta =
    fraction > 0.01 && fraction < 1 ? (elapsedSec * (1 - fraction)) / fraction : fraction >= 1 ? 0 : Number.NaN;
  const ended = state.jobs.filter((job) => job.ended !== null).length;
  const failed = state.jobs.filter((job) => job.ended === 'failed').length;
  const job = state.current === null ? undefined : state.jobs[state.current];
  return (
    `batch ${formatBar(fraction)} ${String(Math.round(fraction * 100)).padStart(3)}%  ETA ${formatEta(eta)}  ` +
    `${ended}/${state.jobs.length} jobs${failed > 0 ? `, ${failed} failed` : ''}${job && job.ended === null ? `  · ${job.name} ${job.label}` : ''}`
  );
}

export interface BatchReporter {
  readonly onEvent: (event: BatchEvent) => void;
  /** Clears a half-drawn line before other output. */
  readonly finish: () => void;
}

export function createBatchReporter(
  mode: ReporterMode,
  stream: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): BatchReporter {
  let state: BatchProgressState | undefined;
  let drawn = false;
  let lastDraw = 0;
  let lastDecile = -1;
  const onEvent = (event: BatchEvent): void => {
    if (mode === 'quiet') return;
    if (mode === 'json') {
      process.stdout.write(`${JSON.stringify(event)}\n`);
      return;
    }
    if (event.type === 'notice') {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
      stream.write(`beatloom: note: ${event.message}\n`);
      return;
    }
    const t = now();
    state = reduceBatchProgress(state, event, t);
    if (mode === 'plain') {
      if (event.type === 'job-end') {
        const { result } = event;
        const why = result.outcome.status === 'failed' ? `: ${result.outcome.error.message}` : '';
        stream.write(`  ${result.outcome.status} ${result.name} (${formatEta(result.elapsedMs / 1000)})${why}\n`);
      }
      const decile = Math.floor(batchFraction(state) * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`batch ${decile * 10}%\n`);
      }
      return;
    }
    if (event.type !== 'job-end' && t - lastDraw < 80) return;
    lastDraw = t;
    stream.write(`\r\x1b[K${formatBatchLine(state, t).slice(0, Math.max(20, (stream.columns ?? 100) - 1))}`);
    drawn = true;
  };
  return {
    onEvent,
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
