/**
 * The orchestrator. It reads like the diagram in DESIGN.md:
 * decode → analyze → map → plan → render → stitch, every artifact in the run directory.
 * A batch runs many of these at once, sharing engines and queueing the CPU-heavy stages.
 */
import type { RenderEngine } from '../engines/engine.js';
import { createEngine, engineConfig } from '../engines/registry.js';
import { ffmpegPath } from '../ffmpeg/ffmpeg-path.js';
import { ffmpegVersion } from '../ffmpeg/ffmpeg-version.js';
import type { Rational, SampleDuration } from '../shared/media-time.js';
import type { TaskOptions } from '../shared/progress.js';

import { prepareAudioTrack } from '../stitching/audio-track.js';
import { resolveOutput } from './output-path.js';
import { prepareRender } from './prepare-render.js';
import type { PrioritySlots, SlotRunner } from '../scheduling/priority-slots.js';
import { renderSegments } from './render-segments.js';
import type { RenderRequest } from './render-request.js';
import { openRunDir, readArtifact, writeArtifact } from '../run/run-dir.js';
import { runRecordSchema, stoppedRecord, type RunRecord } from '../run/run-record.js';
import { buildRunRecord } from './build-run-record.js';
import { stitchOutput } from './stitch-output.js';
import { freeSpaceWarning } from './free-space.js';

export type { RenderRequest, SongRequest } from './render-request.js';

/** What a batch shares between its renders. A single render makes its own. */
export interface SharedResources {
  /** Prepared once by its owner (a batch prepares each engine once, for every job). */
  readonly engine: RenderEngine;
  /** The engine's concurrency, across every render that uses it. */
  readonly engineSlots: PrioritySlots;
  /** Decoding and analysis are CPU-heavy: one song at a time, in job order. */
  readonly prepareSlots: SlotRunner;
  /** So is encoding: one video at a time. */
  readonly stitchSlots: SlotRunner;
  /** This render's place in the batch: lower goes first wherever renders queue. */
  readonly priority: number;
}

export interface RenderOptions extends TaskOptions {
  /** Ignore the run directory's caches: analyse, render every segment and stitch again. */
  readonly force?: boolean;
  readonly shared?: SharedResources;
}

export interface RenderSummary {
  readonly outPath: string;
  readonly runDir: string;
  /** Frames in the output, at outputFps (the render's rate unless interpolated). */
  readonly frameCount: number;
  readonly outputFps: Rational;
  readonly duration: SampleDuration;
  readonly segments: number;
  readonly renderedSegments: number;
  readonly cachedSegments: number;
  /** False when the video on disk was already what this plan makes. */
  readonly stitched: boolean;
  readonly bpm: number | null;
  readonly elapsedMs: number;
  /** What the plan could not do as the mapping asks (see Keyframes.warnings). */
  readonly warnings: readonly string[];
}

export async function renderSong(request: RenderRequest, options: RenderOptions = {}): Promise<RenderSummary> {
  const { shared, signal } = options;
  const own = shared ? undefined : createEngine(engineConfig(request.engineId, request.engineOptions));
  const inSlot = <T>(slots: SlotRunner | undefined, work: () => Promise<T>): Promise<T> =>
    slots ? slots.run(work, [shared!.priority], signal) : work();
  const audioAbort = new AbortController();
  let audioTrack: Promise<string> | undefined;
  try {
    const { output, outPath } = await resolveOutput(request);
    const run = await openRunDir(request.runDir);
    const startedAt = new Date();
    let record: RunRecord | undefined;
    try {
      const previous = await readArtifact(run.runJson, runRecordSchema);
      // Fail fast: a server without the models is found out before minutes of analysis.
      const engine = shared ? shared.engine : await own!.prepare({ signal });
      const prepared = await inSlot(shared?.prepareSlots, () =>
        prepareRender(request, engine, run, { ...options, writePlan: true }),
      );
      const version = await ffmpegVersion();
      record = buildRunRecord({
        request,
        prepared,
        engine,
        output,
        ffmpeg: { path: ffmpegPath(), version },
        startedAt,
      });
      await writeArtifact(run.runJson, runRecordSchema, record);
      const spaceWarning = await freeSpaceWarning(prepared.plan, run);
      if (spaceWarning) request.engineOptions?.onNotice?.(spaceWarning);
      // What the plan does differently from the mapping, and the engine's guardrails: before any GPU time.
      for (const notice of prepared.plan.notices) request.engineOptions?.onNotice?.(notice);

      // The song's track is encoded while the segments render, and kept in the run directory for later stitches.
      audioTrack =
        output.target === 'video'
          ? prepareAudioTrack(
              {
                songPath: request.audioPath,
                songKey: prepared.audio.sha256,
                duration: prepared.duration,
                codec: output.codec,
                bitrateKbps: output.audioBitrateKbps,
              },
              run.root,
              { signal: signal ? AbortSignal.any([signal, audioAbort.signal]) : audioAbort.signal },
            )
          : undefined;
      audioTrack?.catch(() => undefined);

      const renderStarted = performance.now();
      const segments = await renderSegments(prepared.plan, engine, run, {
        ...options,
        slots: shared?.engineSlots,
        priority: shared?.priority,
      });
      const renderMs = performance.now() - renderStarted;
      record = {
        ...record,
        segments: { rendered: segments.rendered, reused: segments.cached },
        timings: { ...record.timings, renderMs: Math.round(renderMs), engineMs: Math.round(segments.engineMs) },
      };
      const stitch = await inSlot(shared?.stitchSlots, () =>
        stitchOutput(
          { prepared, fps: request.fps, outPath, output, audioTrack, ffmpegVersion: version },
          run,
          previous?.output,
          options,
        ),
      );

      const finishedAt = new Date();
      record = {
        ...record,
        status: 'complete',
        output: stitch.output,
        timings: {
          ...record.timings,
          finishedAt: finishedAt.toISOString(),
          stitchMs: Math.round(stitch.stitchMs),
          totalMs: finishedAt.getTime() - startedAt.getTime(),
        },
      };
      await writeArtifact(run.runJson, runRecordSchema, record);
      return {
        outPath,
        runDir: run.root,
        frameCount: stitch.frameCount,
        outputFps: stitch.fps,
        duration: prepared.duration,
        segments: prepared.plan.jobs.length,
        renderedSegments: segments.rendered,
        cachedSegments: segments.cached,
        stitched: stitch.stitched,
        bpm: prepared.bpm,
        elapsedMs: record.timings.totalMs,
        warnings: prepared.keyframes.warnings,
      };
    } catch (error) {
      // Say in run.json why the run stopped; a failure to say so must not hide the reason.
      if (record)
        await writeArtifact(run.runJson, runRecordSchema, stoppedRecord(record, error, new Date())).catch(
          () => undefined,
        );
      throw error;
    } finally {
      await run.release();
    }
  } finally {
    audioAbort.abort();
    await audioTrack?.catch(() => undefined);
    await own?.close();
  }
}
