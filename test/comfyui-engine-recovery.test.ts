/**
 * The comfyui engine when the protocol gets awkward (issue 13, read against ComfyUI 0.8.0's
 * server.py and execution.py): a POST /prompt the server takes but never answers, a socket that
 * drops mid-execution, a segment that runs out of GPU memory, and the time a segment records
 * (the server's execution time, not the time it waited in the queue behind our other segment).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ComfyuiConfig } from '../src/engines/comfyui/comfy-config.js';
import { executionError, isOutOfMemory } from '../src/engines/comfyui/comfy-errors.js';
import { executionErrorSchema, type ApiGraph } from '../src/engines/comfyui/comfy-schemas.js';
import { createComfyEngine, type PreparedComfyEngine } from '../src/engines/comfyui/engine.js';
import { ServerPool, type PoolServer } from '../src/engines/comfyui/server-pool.js';
import type { ComfyTuning } from '../src/engines/comfyui/settings.js';
import { decodePng } from '../src/raster/png.js';
import { BeatloomError } from '../src/shared/errors.js';
import { startFakeComfy, type FakeComfy, type FakeComfyOptions } from './comfyui/fake-comfy-server.js';
import { fixtureJson, fixtureTranscript } from './comfyui/fixtures.js';
import { tempDir } from './helpers/media.js';
import { segmentJob } from './helpers/segment-job.js';

const TUNING: Partial<ComfyTuning> = {
  requestTimeoutMs: 3_000,
  connectTimeoutMs: 5_000,
  pollIntervalMs: 40,
  heartbeatMs: 30_000,
  safetyPollMs: 60_000,
  historyTimeoutMs: 2_000,
  retries: 1,
  retryDelayMs: 10,
};

const JOB = segmentJob({ prompt: 'neon city' });

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(options: FakeComfyOptions = {}): Promise<FakeComfy> {
  const s = await startFakeComfy({ segmentMs: 60, ...options });
  cleanup.push(() => s.close());
  return s;
}

async function prepared(
  config: ComfyuiConfig,
  notices: string[] = [],
  tuning: Partial<ComfyTuning> = {},
): Promise<PreparedComfyEngine> {
  const e = createComfyEngine(config, { tuning: { ...TUNING, ...tuning }, onNotice: (m) => notices.push(m) });
  cleanup.push(() => e.close());
  return e.prepare({});
}

/** The 16 frames a segment wrote, each a 64×64 PNG. */
async function expectFrames(dir: string): Promise<void> {
  // Beside them, the segment's latents (for a continuation).
  const files = (await readdir(dir)).filter((name) => name.endsWith('.png')).sort();
  expect(files).toHaveLength(16);
  for (const file of files) {
    const png = decodePng(await readFile(join(dir, file)));
    expect([png.width, png.height]).toEqual([64, 64]);
  }
}

/** Someone else's prompt (fixture 80's graph) on `s`, running for `ms`. */
async function foreignPrompt(s: FakeComfy, ms: number): Promise<void> {
  const prompt = fixtureJson<{ request: { body: { prompt: ApiGraph } } }>('80_ade_txt2img_16f_post.json').request.body
    .prompt;
  s.faults.nextSegmentMs = ms;
  const reply = await fetch(`${s.url}/prompt`, {
    method: 'POST',
    body: JSON.stringify({ prompt, client_id: 'someone-else' }),
  });
  expect(reply.status).toBe(200);
}

const OOM_MESSAGE =
  'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.05 GiB is free.\nThis error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.';
const OOM = { step: 1, type: 'torch.OutOfMemoryError', message: OOM_MESSAGE } as const;
const FREE = { unload_models: true, free_memory: true };

describe('comfyui engine: a POST /prompt the server takes but never answers', () => {
  it('is deleted from that server by the prompt_id beatloom chose, and the segment renders once elsewhere', async () => {
    const [a, b] = await Promise.all([server(), server()]);
    const notices: string[] = [];
    const e = await prepared({ url: [a.url, b.url] }, notices, { requestTimeoutMs: 1_500 });
    // a is busy with someone else's prompt, so ours waits in its queue when the POST goes unanswered.
    await foreignPrompt(a, 8_000);
    a.faults.acceptWithoutReply = 1;
    const dir = await tempDir();
    const result = await e.renderSegment(JOB, { workDir: dir });
    await expectFrames(dir);
    expect(result.frameFiles).toHaveLength(16);
    const ours = a.prompts[1]!;
    expect(ours.clientId).not.toBe('someone-else');
    expect(a.queueDeletes).toEqual([ours.id]);
    // The targeted interrupt is never needed and someone else's prompt is never touched.
    expect(a.interrupts).toEqual([]);
    expect(a.prompts.map((p) => p.status)).toEqual(['running', 'deleted']);
    expect(b.prompts.map((p) => p.status)).toEqual(['success']);
    expect(b.prompts[0]!.id).not.toBe(ours.id);
    expect(notices).toEqual([
      `ComfyUI at ${a.url} is taken out of this render (ComfyUI at ${a.url} did not answer POST /prompt within 1500 ms); its segments move to the one server left`,
    ]);
  });
});

describe('comfyui engine: a WebSocket that drops mid-execution', () => {
  it('does not hang the render or lose its outputs (the server forgets the old client id, as server.py does)', async () => {
    const s = await server({ segmentMs: 400 });
    const e = await prepared({ url: s.url });
    s.faults.dropSocketsAtStep = 2;
    const steps: number[] = [];
    const dir = await tempDir();
    await e.renderSegment(JOB, { workDir: dir, onProgress: (p) => steps.push(p.step) });
    await expectFrames(dir);
    // Step 1 came over the first socket; the rest went to an id the server had forgotten.
    expect(steps).toEqual([1]);
    expect(s.socketConnections).toHaveLength(2);
    expect(s.socketConnections[1]).not.toBe(s.socketConnections[0]);
    expect(s.prompts.map((p) => [p.clientId, p.status])).toEqual([[s.socketConnections[0], 'success']]);
    // The next segment is followed over the new socket, step by step.
    steps.length = 0;
    await e.renderSegment({ ...JOB, index: 1 }, { workDir: await tempDir(), onProgress: (p) => steps.push(p.step) });
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(s.prompts[1]!.clientId).toBe(s.socketConnections[1]);
  });
});

describe('comfyui engine: out of GPU memory', () => {
  it('frees the server’s memory (POST /free) and renders the segment there on the second try', async () => {
    const s = await server();
    const notices: string[] = [];
    const e = await prepared({ url: s.url }, notices);
    s.faults.errorAtStep = OOM;
    const dir = await tempDir();
    await e.renderSegment({ ...JOB, index: 2 }, { workDir: dir });
    await expectFrames(dir);
    expect(s.frees).toEqual([FREE]);
    expect(s.prompts.map((p) => p.status)).toEqual(['error', 'success']);
    expect(notices).toEqual([
      `segment 3 ran out of GPU memory on ${s.url} (ComfyUI at ${s.url} failed in node 7 (KSamplerAdvanced): torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.05 GiB is free.); beatloom asked it to free its memory (POST /free) and tries once more there`,
    ]);
  });

  it('moves the segment to another server when the second try fails too, and keeps the first server for others', async () => {
    const [a, b] = await Promise.all([server(), server()]);
    const notices: string[] = [];
    const e = await prepared({ url: [a.url, b.url] }, notices);
    a.faults.errorAtStep = { ...OOM, times: 2 };
    const dir = await tempDir();
    await e.renderSegment(JOB, { workDir: dir });
    await expectFrames(dir);
    expect(a.prompts.map((p) => p.status)).toEqual(['error', 'error']);
    expect(a.frees).toEqual([FREE]);
    expect(b.prompts.map((p) => p.status)).toEqual(['success']);
    expect(b.frees).toEqual([]);
    expect(notices[1]).toBe(
      `segment 1 ran out of GPU memory on ${a.url} again after POST /free; it moves to another server`,
    );
    expect(notices).toHaveLength(2);
    // Not a broken server: it stays in the render.
    expect(e.capabilities.concurrency).toBe(4);
    await e.renderSegment({ ...JOB, index: 1 }, { workDir: await tempDir() });
    expect(a.prompts.map((p) => p.status)).toEqual(['error', 'error', 'success']);
  });

  it('stops with a clear error when every server runs out of memory on it', async () => {
    const [a, b] = await Promise.all([server(), server()]);
    const e = await prepared({ url: [a.url, b.url] });
    a.faults.errorAtStep = { ...OOM, times: 2 };
    b.faults.errorAtStep = { ...OOM, times: 2 };
    const error = await e.renderSegment({ ...JOB, index: 6 }, { workDir: await tempDir() }).catch((x: unknown) => x);
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).code).toBe('E_COMFY_EXECUTION');
    expect((error as BeatloomError).kind).toBe('failure');
    expect((error as BeatloomError).message).toBe(
      `segment 7 ran out of GPU memory on every server (${a.url}, ${b.url}), also after freeing its memory (POST /free) and trying again: ComfyUI at ${b.url} failed in node 7 (KSamplerAdvanced): torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.05 GiB is free.`,
    );
    expect((error as BeatloomError).hint).toBe(
      'render at a smaller width/height, or stop what else uses the GPU; then run the same command again to resume',
    );
    expect([a.frees, b.frees]).toEqual([[FREE], [FREE]]);
    expect([a.prompts.length, b.prompts.length]).toEqual([2, 2]);
  });

  it('an error that is not out of memory is not retried', async () => {
    const s = await server();
    const e = await prepared({ url: s.url });
    s.faults.errorAtStep = { step: 1, type: 'RuntimeError', message: 'mat1 and mat2 shapes cannot be multiplied' };
    await expect(e.renderSegment(JOB, { workDir: await tempDir() })).rejects.toThrow(
      `ComfyUI at ${s.url} failed in node 7 (KSamplerAdvanced): RuntimeError: mat1 and mat2 shapes cannot be multiplied`,
    );
    expect(s.frees).toEqual([]);
    expect(s.prompts).toHaveLength(1);
  });
});

describe('isOutOfMemory', () => {
  const wsError = (name: string): unknown => {
    return fixtureTranscript(name).find((l) => l.msg?.type === 'execution_error')!.msg!.data;
  };
  const base = { prompt_id: 'p', node_id: '7', node_type: 'KSampler' };

  it.each<[string, { exception_type?: string; exception_message: string }, boolean]>([
    ['fixture 97 (a real 0.8.0 OOM report)', executionErrorSchema.parse(wsError('97_oom_free_retry_ws.jsonl')), true],
    [
      'fixture 17 (the CPU allocator: a RuntimeError)',
      executionErrorSchema.parse(wsError('17_runtime_error_alloc_ws.jsonl')),
      false,
    ],
    [
      'torch before 2.5',
      { exception_type: 'torch.cuda.OutOfMemoryError', exception_message: 'CUDA out of memory.' },
      true,
    ],
    [
      'a memory fraction limit',
      {
        exception_type: 'RuntimeError',
        exception_message: 'Allocation on device 0 would exceed allowed memory. (out of memory)',
      },
      true,
    ],
    [
      're-raised by a node',
      { exception_type: 'RuntimeError', exception_message: 'CUDA out of memory. Tried to allocate 20.00 MiB' },
      true,
    ],
    [
      'another error',
      { exception_type: 'RuntimeError', exception_message: 'mat1 and mat2 shapes cannot be multiplied' },
      false,
    ],
  ])('%s', (_what, data, expected) => {
    expect(isOutOfMemory({ ...base, ...data })).toBe(expected);
  });

  it('reports fixture 97 without ComfyUI’s tips for its own UI', () => {
    const data = executionErrorSchema.parse(wsError('97_oom_free_retry_ws.jsonl'));
    expect(executionError('http://gpu:8188', data).message).toBe(
      'ComfyUI at http://gpu:8188 failed in node 2 (BeatloomRaiseOOM): torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.05 GiB is free. Of the allocated memory 20.11 GiB is allocated by PyTorch, and 1.62 GiB is reserved by PyTorch but unallocated.',
    );
  });
});

describe('comfyui engine: the time a segment records', () => {
  it('is the server’s execution time (execution_start → execution_success), without the wait in its queue', async () => {
    // The server's clock moves only when the test says: 10 s before anything starts (a queue
    // wait), 13 s per step of the first segment (52 s), 7.25 s per step of the second (29 s), which
    // waits in the queue for the whole of the first.
    let now = 1_796_416_645_000;
    const s = await server({ clock: () => now });
    const e = await prepared({ url: s.url });
    s.faults.holdStart = (async () => {
      while (s.prompts.length < 2) await new Promise((r) => setTimeout(r, 5));
      now += 10_000;
    })();
    s.faults.onStep = (prompt) => (now += s.prompts.indexOf(prompt) === 0 ? 13_000 : 7_250);
    const [first, second] = await Promise.all([
      e.renderSegment(JOB, { workDir: await tempDir() }),
      e.renderSegment({ ...JOB, index: 1 }, { workDir: await tempDir() }),
    ]);
    expect(s.prompts.map((p) => [p.startStamp, p.successStamp])).toEqual([
      [1_796_416_655_000, 1_796_416_707_000],
      [1_796_416_707_000, 1_796_416_736_000],
    ]);
    expect([first.elapsedMs, second.elapsedMs]).toEqual([52_000, 29_000]);
  });

  it('on the server’s real clock, is what its history says it executed', async () => {
    const s = await server({ segmentMs: 200 });
    const e = await prepared({ url: s.url });
    const results = await Promise.all(
      [0, 1, 2].map(async (index) => e.renderSegment({ ...JOB, index }, { workDir: await tempDir() })),
    );
    // The three were queued in whichever order their POSTs went: compare as sets of figures.
    const byValue = (x: number, y: number): number => x - y;
    expect(results.map((r) => r.elapsedMs).sort(byValue)).toEqual(
      s.prompts.map((p) => p.successStamp! - p.startStamp!).sort(byValue),
    );
  });
});

describe('ServerPool: a segment that refuses some servers', () => {
  it('is given only the others, waits for one of them, and is told when none is left', async () => {
    const pool = new ServerPool(
      [
        { url: 'a', value: 'a' },
        { url: 'b', value: 'b' },
      ],
      1,
    );
    const notA = (server: PoolServer<string>): boolean => server.url !== 'a';
    const first = await pool.acquire(undefined, notA);
    expect(first.url).toBe('b');
    // a has room but is refused: the segment waits for b, and a goes to the next one that takes it.
    const waiting = pool.acquire(undefined, notA);
    const other = await pool.acquire();
    expect(other.url).toBe('a');
    pool.release(other);
    pool.release(first);
    const second = await waiting;
    expect(second.url).toBe('b');
    const stuck = pool.acquire(undefined, notA);
    pool.remove(second, 'died');
    await expect(stuck).rejects.toThrow('every ComfyUI server failed (b: died)');
    expect(pool.hasAny(notA)).toBe(false);
    expect(pool.hasAny(() => true)).toBe(true);
  });
});

describe('comfyui engine: the time a segment records, from a server that gives no timestamps', () => {
  it('counts from when the server started it, so a wait in the queue stays out', async () => {
    const s = await server({ segmentMs: 100, timestamps: false });
    const e = await prepared({ url: s.url });
    let released = 0;
    // The segment waits in the queue until the test lets it start (as behind someone else's prompt).
    s.faults.holdStart = (async () => {
      while (s.prompts.length < 1) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 1_000));
      released = performance.now();
    })();
    const result = await e.renderSegment(JOB, { workDir: await tempDir() });
    const done = performance.now();
    // Everything it counts happened after the release: from execution_start to the frames fetched.
    expect(result.elapsedMs).toBeGreaterThan(0);
    expect(result.elapsedMs).toBeLessThanOrEqual(done - released);
  });
});
