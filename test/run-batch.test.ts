import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BatchEvent } from '../src/batch/batch-events.js';
import { parseBatch } from '../src/batch/load-batch.js';
import { runBatch } from '../src/batch/run-batch.js';
import { frameFileName, type ConfiguredEngine, type RenderEngine } from '../src/engines/engine.js';
import { usageError } from '../src/shared/errors.js';
import { encodePng } from '../src/raster/png.js';
import { decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

interface EngineLog {
  started: string[];
  running: number;
  most: number;
  created: number;
}

/** An engine that takes a little time per segment and draws black frames. */
function fakeEngine(log: EngineLog, concurrency: number): ConfiguredEngine {
  log.created++;
  const rendering = fakeRendering(log, concurrency);
  return {
    id: 'preview',
    async checkHealth() {
      return { ok: true, engine: 'fake', summary: '', details: {}, problems: [] };
    },
    async prepare() {
      return rendering;
    },
    async close() {},
  };
}

function fakeRendering(log: EngineLog, concurrency: number): RenderEngine {
  return {
    id: 'preview',
    capabilities: {
      initImage: false,
      continuation: false,
      takeFrames: 0,
      motionEffect: false,
      perFrameMotionScale: false,
      maxFrames: 16,
      concurrency,
    },
    settingsFingerprint: { fake: true },
    sampler: { steps: 4 },
    checkNeeds() {},
    async renderSegment(job, opts) {
      log.running++;
      log.most = Math.max(log.most, log.running);
      log.started.push(`${job.prompt}#${job.index}`);
      try {
        await sleep(15, undefined, { signal: opts.signal });
        for (let i = 0; i < job.frameCount; i++) {
          await writeFile(
            join(opts.workDir, frameFileName(i)),
            encodePng({ width: job.width, height: job.height, data: new Uint8Array(job.width * job.height * 3) }),
          );
        }
        return { frameFiles: Array.from({ length: job.frameCount }, (_, i) => frameFileName(i)), elapsedMs: 15 };
      } finally {
        log.running--;
      }
    },
  };
}

describe('runBatch', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await makeClickTrack(join(dir, 'one.wav'), { durationSec: 4, bpm: 120 });
    await makeClickTrack(join(dir, 'three.wav'), { durationSec: 3, bpm: 100 });
    // A damaged download: bytes that are no known format.
    await writeFile(join(dir, 'two.wav'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251)));
  });

  it('shares one engine across jobs within its concurrency, earlier jobs first; a corrupt song fails alone', async () => {
    const batch = parseBatch(
      [
        'version: 1',
        'defaults: { size: 64x64 }',
        'jobs:',
        '  - { audio: one.wav, prompt: job0 }',
        '  - { audio: two.wav, prompt: job1 }',
        '  - { audio: three.wav, prompt: job2 }',
      ].join('\n'),
      join(dir, 'jobs.yaml'),
    );
    const log: EngineLog = { started: [], running: 0, most: 0, created: 0 };
    const events: BatchEvent[] = [];
    const result = await runBatch(batch, { engineFactory: () => fakeEngine(log, 2), onEvent: (e) => events.push(e) });

    expect(result.interrupted).toBe(false);
    expect(result.results.map((r) => [r.name, r.outcome.status])).toEqual([
      ['one', 'done'],
      ['two', 'failed'],
      ['three', 'done'],
    ]);
    const failed = result.results[1]!.outcome;
    expect(failed.status === 'failed' && failed.error).toMatchObject({
      code: 'E_AUDIO_UNREADABLE',
      unexpected: false,
      message: expect.stringContaining('two.wav'),
    });

    // One engine for all jobs, never more than its 2 segments at once, job 0's segments first.
    expect(log.created).toBe(1);
    expect(log.most).toBe(2);
    // Slots are granted in job order; a granted segment reaches the engine after an async mkdir,
    // so at most one other job-0 segment (concurrency − 1) may log after job 2's first.
    const firstOfJob2 = log.started.findIndex((s) => s.startsWith('job2'));
    expect(firstOfJob2).toBeGreaterThan(0);
    expect(log.started.slice(firstOfJob2).filter((s) => s.startsWith('job0')).length).toBeLessThanOrEqual(1);

    // The finished jobs' videos are whole: ceil(D · 8) frames.
    for (const [name, durationSec] of [
      ['one', 4],
      ['three', 3],
    ] as const) {
      const outcome = result.results.find((r) => r.name === name)!.outcome;
      expect(outcome.status).toBe('done');
      if (outcome.status !== 'done') continue;
      expect(outcome.summary.frameCount).toBe(durationSec * 8);
      expect((await decodeVideoFrames(outcome.summary.outPath, 64, 64)).length).toBe(durationSec * 8);
    }

    expect(events[0]).toEqual({ type: 'batch-start', jobs: ['one', 'two', 'three'] });
    expect(
      events
        .filter((e) => e.type === 'job-end')
        .map((e) => e.type === 'job-end' && e.job)
        .sort(),
    ).toEqual([0, 1, 2]);
  });

  it('a second run resumes: every segment reused, every video already up to date', async () => {
    const batch = parseBatch(
      [
        'version: 1',
        'defaults: { size: 64x64 }',
        'jobs:',
        '  - { audio: one.wav, prompt: job0 }',
        '  - { audio: three.wav, prompt: job2 }',
      ].join('\n'),
      join(dir, 'jobs.yaml'),
    );
    const log: EngineLog = { started: [], running: 0, most: 0, created: 0 };
    const result = await runBatch(batch, { engineFactory: () => fakeEngine(log, 2) });
    expect(log.started).toEqual([]);
    for (const r of result.results) {
      expect(r.outcome.status).toBe('done');
      if (r.outcome.status === 'done')
        expect(r.outcome.summary).toMatchObject({ renderedSegments: 0, stitched: false });
    }
  });

  it('prepares each engine once, for all its jobs, with the concurrency prepare settles; other settings get their own engine; one that cannot be prepared fails only its jobs', async () => {
    const batch = parseBatch(
      [
        'version: 1',
        'defaults: { size: 64x64, engine: comfyui, engineOptions: { url: "http://gpu:8188" } }',
        'jobs:',
        '  - { name: a1, audio: one.wav, prompt: a1, runDir: pool/a1 }',
        '  - { name: a2, audio: three.wav, prompt: a2, runDir: pool/a2 }',
        '  - { name: b1, audio: one.wav, prompt: b1, runDir: pool/b1, engineOptions: { checkpoint: missing.safetensors } }',
        '  - { name: b2, audio: three.wav, prompt: b2, runDir: pool/b2, engineOptions: { checkpoint: missing.safetensors } }',
      ].join('\n'),
      join(dir, 'jobs.yaml'),
    );
    expect(batch.jobs.map((job) => job.engine)).toEqual([
      { id: 'comfyui', options: { url: 'http://gpu:8188' } },
      { id: 'comfyui', options: { url: 'http://gpu:8188' } },
      { id: 'comfyui', options: { url: 'http://gpu:8188', checkpoint: 'missing.safetensors' } },
      { id: 'comfyui', options: { url: 'http://gpu:8188', checkpoint: 'missing.safetensors' } },
    ]);
    const log: EngineLog = { started: [], running: 0, most: 0, created: 0 };
    const prepared: string[] = [];
    const events: BatchEvent[] = [];
    const result = await runBatch(batch, {
      onEvent: (e) => events.push(e),
      engineFactory: (spec, onNotice) => {
        const engine = fakeEngine(log, 4);
        const options: Readonly<Record<string, unknown>> = spec.options;
        return {
          ...engine,
          async prepare() {
            prepared.push(String(options['checkpoint'] ?? 'default'));
            if (options['checkpoint'] !== undefined)
              throw usageError(
                'E_COMFY_MISSING',
                "ComfyUI cannot render this: checkpoint 'missing.safetensors' is not on the server",
                'pick another',
              );
            // Three of the four slots' servers were left out: what is left is one.
            onNotice('ComfyUI at http://gpu2:8188 is left out of this render');
            return fakeRendering(log, 1);
          },
        };
      },
    });
    expect(log.created).toBe(2);
    expect(prepared.sort()).toEqual(['default', 'missing.safetensors']);
    expect(log.most).toBe(1);
    expect(result.results.map((r) => [r.name, r.outcome.status])).toEqual([
      ['a1', 'done'],
      ['a2', 'done'],
      ['b1', 'failed'],
      ['b2', 'failed'],
    ]);
    for (const r of result.results.slice(2)) {
      expect(r.outcome.status === 'failed' && r.outcome.error.message).toBe(
        "ComfyUI cannot render this: checkpoint 'missing.safetensors' is not on the server — pick another",
      );
    }
    expect(events.filter((e) => e.type === 'notice')).toEqual([
      { type: 'notice', message: 'ComfyUI at http://gpu2:8188 is left out of this render' },
    ]);
  });

  it('Ctrl-C: every job ends as interrupted, the batch says so', async () => {
    const batch = parseBatch(
      [
        'version: 1',
        'defaults: { size: 64x64 }',
        'jobs:',
        '  - { audio: one.wav, prompt: other, runDir: stop/one }',
        '  - { audio: three.wav, prompt: other, runDir: stop/three }',
      ].join('\n'),
      join(dir, 'jobs.yaml'),
    );
    const log: EngineLog = { started: [], running: 0, most: 0, created: 0 };
    const controller = new AbortController();
    const result = await runBatch(batch, {
      signal: controller.signal,
      engineFactory: () => fakeEngine(log, 1),
      onEvent: (e) => {
        if (e.type === 'job-progress' && e.progress.stage === 'render' && e.progress.done >= 1) controller.abort();
      },
    });
    expect(result.interrupted).toBe(true);
    expect(result.results.map((r) => r.outcome.status)).toEqual(['interrupted', 'interrupted']);
  });
});
