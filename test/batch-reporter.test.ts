import { describe, expect, it } from 'vitest';
import type { BatchEvent, BatchResult, JobResult } from '../src/batch/batch-events.js';
import { formatBatchSummary } from '../src/cli/format-batch-summary.js';
import {
  batchFraction,
  createBatchReporter,
  formatBatchLine,
  reduceBatchProgress,
  type BatchProgressState,
} from '../src/cli/reporters/batch-reporter.js';
import type { RenderSummary } from '../src/pipeline/render-song.js';
import { rational } from '../src/shared/media-time.js';

function summary(over: Partial<RenderSummary>): RenderSummary {
  return {
    outPath: '/v/a.mp4',
    runDir: '/runs/a',
    frameCount: 318,
    outputFps: rational(8),
    duration: { sampleCount: 876298, sampleRateHz: 22050 },
    segments: 26,
    renderedSegments: 20,
    cachedSegments: 6,
    stitched: true,
    bpm: 116,
    elapsedMs: 1000,
    warnings: [],
    ...over,
  };
}

const done = (index: number, name: string, s: RenderSummary, elapsedMs: number): JobResult => ({
  index,
  name,
  outcome: { status: 'done', summary: s },
  elapsedMs,
});

function replay(events: ReadonlyArray<readonly [number, BatchEvent]>): BatchProgressState {
  let state: BatchProgressState | undefined;
  for (const [t, event] of events) state = reduceBatchProgress(state, event, t);
  return state!;
}

describe('batch progress: a pure function of the events', () => {
  const start: [number, BatchEvent] = [1000, { type: 'batch-start', jobs: ['a', 'b', 'c'] }];

  it('weighs each job by the segments it has to render, stage by stage', () => {
    const state = replay([
      start,
      [1100, { type: 'job-progress', job: 0, progress: { stage: 'analyze', done: 1, total: 1, unit: 'steps' } }],
      [1200, { type: 'job-progress', job: 0, progress: { stage: 'render', done: 0, total: 9, unit: 'segments' } }],
      [
        2000,
        {
          type: 'job-progress',
          job: 0,
          progress: { stage: 'render', done: 4.5, total: 9, unit: 'segments', detail: 'segment 5/9' },
        },
      ],
      [2100, { type: 'job-progress', job: 1, progress: { stage: 'analyze', done: 0, total: 1, unit: 'steps' } }],
    ]);
    // a: weight 10, at 0.05 + 0.85 · 0.5 = 0.475; b and c: unweighed, count as 10 each; b at 0.
    expect(batchFraction(state)).toBeCloseTo((10 * 0.475) / 30, 12);
    expect(state.current).toBe(1);
    expect(state.jobs.map((j) => j.label)).toEqual(['render 4/9', 'analyze', 'queued']);
  });

  it('draws one line with the ETA for the whole batch and the job that reported last', () => {
    const state = replay([
      start,
      [1000, { type: 'job-progress', job: 0, progress: { stage: 'render', done: 0, total: 3, unit: 'segments' } }],
      [5000, { type: 'job-end', job: 0, result: done(0, 'a', summary({}), 4000) }],
      [
        5000,
        {
          type: 'job-end',
          job: 1,
          result: {
            index: 1,
            name: 'b',
            outcome: {
              status: 'failed',
              error: { code: 'E_AUDIO_UNREADABLE', message: 'not audio', unexpected: false },
            },
            elapsedMs: 10,
          },
        },
      ],
      [6000, { type: 'job-progress', job: 2, progress: { stage: 'render', done: 1, total: 3, unit: 'segments' } }],
    ]);
    // a, b done (weight 4 each), c: 0.05 + 0.85/3 of weight 4 → (4 + 4 + 4 · 0.3333) / 12 = 0.7778
    const fraction = batchFraction(state);
    expect(fraction).toBeCloseTo((8 + 4 * (0.05 + 0.85 / 3)) / 12, 12);
    // 5 s elapsed at 77.8 % → 1.43 s left → "0:01".
    expect(formatBatchLine(state, 6000)).toBe(
      'batch ███████████████████░░░░░  78%  ETA 0:01  2/3 jobs, 1 failed  · c render 1/3',
    );
  });

  it('prints a notice (a server left out) on a line of its own, without changing the progress', () => {
    const state = replay([
      start,
      [1500, { type: 'job-progress', job: 0, progress: { stage: 'render', done: 1, total: 3, unit: 'segments' } }],
    ]);
    expect(reduceBatchProgress(state, { type: 'notice', message: 'ComfyUI at http://b:8188 is left out' }, 1600)).toBe(
      state,
    );
    const written: string[] = [];
    const stream = { write: (text: string) => written.push(text), columns: 100 } as unknown as NodeJS.WriteStream;
    const reporter = createBatchReporter('tty', stream, () => 2000);
    reporter.onEvent(start[1]);
    reporter.onEvent({ type: 'notice', message: 'ComfyUI at http://b:8188 is left out' });
    expect(written).toEqual([
      `\r\x1b[K${formatBatchLine(replay([start]), 2000)}`,
      '\r\x1b[K',
      'beatloom: note: ComfyUI at http://b:8188 is left out\n',
    ]);
  });

  it('shows no ETA before any progress, and 0:00 at the end', () => {
    const fresh = replay([start]);
    expect(formatBatchLine(fresh, 1000)).toBe('batch ░░░░░░░░░░░░░░░░░░░░░░░░   0%  ETA --:--  0/3 jobs');
    const finished = replay([
      start,
      ...[0, 1, 2].map(
        (i) =>
          [2000, { type: 'job-end', job: i, result: done(i, 'abc'[i]!, summary({}), 1000) }] as [number, BatchEvent],
      ),
    ]);
    expect(formatBatchLine(finished, 2000)).toBe('batch ████████████████████████ 100%  ETA 0:00  3/3 jobs');
  });
});

describe('batch summary table', () => {
  it('says for every job what happened, and totals', () => {
    const result: BatchResult = {
      elapsedMs: 75_000,
      interrupted: false,
      results: [
        done(0, 'first', summary({}), 61_000),
        {
          index: 1,
          name: 'broken',
          outcome: {
            status: 'failed',
            error: {
              code: 'E_AUDIO_UNREADABLE',
              message:
                'not an audio file ffmpeg can decode: /s/broken.wav — give an mp3, wav, flac, ogg, opus or m4a file',
              unexpected: false,
            },
          },
          elapsedMs: 300,
        },
        done(
          2,
          'third-take',
          summary({
            outPath: '/v/third.mp4',
            frameCount: 96,
            duration: { sampleCount: 88200, sampleRateHz: 22050 },
            renderedSegments: 0,
            cachedSegments: 7,
            stitched: false,
          }),
          900,
        ),
        { index: 3, name: 'last', outcome: { status: 'interrupted' }, elapsedMs: 2000 },
      ],
    };
    expect(formatBatchSummary(result, false)).toEqual([
      'job         status       frames  duration  rendered/reused  time  output or error',
      'first       done         318     0:39.7    20/6             1:01  /v/a.mp4',
      'broken      failed       -       -         -                0:00  not an audio file ffmpeg can decode: /s/broken.wav — give an mp3, wav, flac, ogg, opus or m4a file',
      'third-take  done         96      0:04.0    0/7              0:01  /v/third.mp4 (up to date)',
      'last        interrupted  -       -         -                0:02  run the batch again to resume',
      '4 jobs: 2 done, 1 failed, 1 interrupted in 1:15',
    ]);
  });
});
