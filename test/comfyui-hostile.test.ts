/**
 * No server can make beatloom hang or eat memory: a host:port that accepts and never answers,
 * a /view that never ends, a reply that drips, JSON far larger than any real reply, a
 * Content-Length that lies. Each is a clear error naming the server, within the request's time
 * limit, having read no more than the cap. (Speed and memory figures: npm run bench:faults.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_JSON_BYTES, maxPngBytes, readBoundedBody } from '../src/engines/comfyui/bounded-body.js';
import { ComfyClient } from '../src/engines/comfyui/client.js';
import { createComfyEngine } from '../src/engines/comfyui/engine.js';
import type { ApiGraph } from '../src/engines/comfyui/comfy-schemas.js';
import type { ComfyTuning } from '../src/engines/comfyui/settings.js';
import { DEFAULT_TUNING } from '../src/engines/comfyui/settings.js';
import { AbortedError, type BeatloomError } from '../src/shared/errors.js';
import { startFakeComfy, startSilentServer, type FakeComfy } from './comfyui/fake-comfy-server.js';
import { fixtureJson } from './comfyui/fixtures.js';
import { segmentJob } from './helpers/segment-job.js';
import { tempDir } from './helpers/media.js';

const TUNING: Partial<ComfyTuning> = {
  requestTimeoutMs: 400,
  connectTimeoutMs: 400,
  heartbeatMs: 30_000,
  pollIntervalMs: 40,
  safetyPollMs: 60_000,
  historyTimeoutMs: 2_000,
  retries: 2,
  retryDelayMs: 10,
};

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** Size caps are tested with a long time limit, so the cap (not the clock) is what stops the read. */
const LONG: Partial<ComfyTuning> = { requestTimeoutMs: 60_000 };

async function fake(tuning: Partial<ComfyTuning> = {}): Promise<{ server: FakeComfy; client: ComfyClient }> {
  const server = await startFakeComfy({ segmentMs: 20 });
  const client = new ComfyClient(server.url, { tuning: { ...TUNING, ...tuning } });
  open.push(server, client);
  return { server, client };
}

function graph(): ApiGraph {
  return structuredClone(
    fixtureJson<{ request: { body: { prompt: ApiGraph } } }>('80_ade_txt2img_16f_post.json').request.body.prompt,
  );
}

const VIEW_REF = { filename: 'x_00001_.png', subfolder: '', type: 'output' as const };

describe('a host:port that accepts connections and never answers', () => {
  it('is reported at the first time limit, not retried, and the other requests are cut', async () => {
    const silent = await startSilentServer();
    open.push(silent);
    const engine = createComfyEngine({ url: silent.url }, { tuning: TUNING });
    open.push(engine);
    const started = performance.now();
    const error = await engine.prepare({}).catch((e: unknown) => e);
    const elapsedMs = performance.now() - started;
    expect((error as BeatloomError).code).toBe('E_COMFY_UNREACHABLE');
    expect((error as Error).message).toMatch(
      new RegExp(
        `^cannot use any ComfyUI server: ComfyUI at ${silent.url} did not answer GET /(system_stats|queue) within 400 ms$`,
      ),
    );
    // Three requests at once, none retried (the bug: 3 tries × 30 s, and /object_info 3 × 60 s).
    expect(silent.connections()).toBe(3);
    // Generous: the limit is 400 ms; before, 2 s limits took 7.5 s.
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it('by default, within 30 s', () => {
    // /system_stats and /queue get requestTimeoutMs, /object_info twice that; none is retried on a timeout.
    expect(DEFAULT_TUNING.requestTimeoutMs).toBeLessThanOrEqual(15_000);
    expect(DEFAULT_TUNING.requestTimeoutMs * 2).toBeLessThanOrEqual(30_000);
  });
});

describe('bodies are streamed with a cap', () => {
  it('a /view that never ends is cut at the size a PNG of the frame can take', async () => {
    const { server, client } = await fake(LONG);
    server.faults.hostile.push({ path: '/view', body: 'endless', times: 1 });
    const limit = maxPngBytes(64, 64);
    await expect(client.view(VIEW_REF, { size: { width: 64, height: 64 } })).rejects.toThrow(
      `ComfyUI at ${server.url} sent more than 8.0 MB for GET /view, more than a 64x64 PNG can take (8.0 MB); beatloom stopped reading it`,
    );
    expect(limit).toBeLessThan(8.1 * 1024 * 1024);
    // Not retried: one request.
    expect(server.requests.filter((r) => r.path.startsWith('/view'))).toHaveLength(1);
  });

  it('the cap grows with the frame: 1024x1024 RGBA fits, and no more than that plus the metadata headroom', () => {
    expect(maxPngBytes(1024, 1024)).toBeGreaterThan(1024 * 1024 * 4);
    expect(maxPngBytes(1024, 1024)).toBeLessThan(1024 * 1024 * 4 + 9 * 1024 * 1024);
  });

  it('a Content-Length past the cap is refused before reading', async () => {
    const { server, client } = await fake();
    server.faults.hostile.push({ path: '/history/', body: 'lying', times: 1 });
    await expect(client.history('abc')).rejects.toThrow(
      `ComfyUI at ${server.url} announced 10240 MB for GET /history/abc, more than such a reply can take (8.0 MB); beatloom stopped reading it`,
    );
  });

  it('huge JSON (history, object_info) is cut at its cap', async () => {
    const { server, client } = await fake(LONG);
    server.faults.hostile.push({ path: '/history/', body: 'huge', bytes: 1 << 30, times: 1 });
    await expect(client.history('abc')).rejects.toThrow(/sent more than 8\.0 MB for GET \/history\/abc/);
    server.faults.hostile.push({ path: '/object_info', body: 'huge', bytes: 1 << 30, times: 1 });
    await expect(client.objectInfo()).rejects.toThrow(
      /sent more than 32 MB for GET \/object_info, more than a node catalogue can take/,
    );
  });

  it('a reply that drips is cut at the time limit, and said so', async () => {
    const { server, client } = await fake();
    server.faults.hostile.push({ path: '/queue', body: 'drip', times: 1 });
    await expect(client.queue()).rejects.toThrow(
      `ComfyUI at ${server.url} did not finish its reply to GET /queue within 400 ms`,
    );
  });

  it('readBoundedBody returns bodies within the cap whole', async () => {
    const body = await readBoundedBody(new Response('x'.repeat(1000)), 1000);
    expect(body.length).toBe(1000);
    await expect(readBoundedBody(new Response('x'.repeat(1001)), 1000)).rejects.toThrow('body larger than 1000 bytes');
    expect(MAX_JSON_BYTES).toBe(8 * 1024 * 1024);
  });

  it('a segment whose /view never ends fails with the server named', async () => {
    const server = await startFakeComfy({ segmentMs: 20 });
    open.push(server);
    const engine = createComfyEngine({ url: server.url }, { tuning: { ...TUNING, ...LONG } });
    open.push(engine);
    const prepared = await engine.prepare({});
    server.faults.hostile.push({ path: '/view', body: 'endless', times: 1 });
    const workDir = await tempDir();
    const job = segmentJob();
    const error = await prepared.renderSegment(job, { workDir }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      new RegExp(`^ComfyUI at ${server.url} sent more than 8\\.0 MB for GET /view, more than a 64x64 PNG can take`),
    );
  });
});

describe('a stopped prompt does not wait on a hung server', () => {
  it('cancelling gives up on /queue and /interrupt after its budget, and closing cuts every request', async () => {
    const { server, client } = await fake();
    server.setSegmentMs(10_000);
    const stop = new AbortController();
    const running = client.runPrompt(graph(), { signal: stop.signal });
    while (server.prompts.length < 1) await new Promise((r) => setTimeout(r, 5));
    server.faults.hangHttp.push({ path: '/queue', times: 10 }, { path: '/interrupt', times: 10 });
    const started = performance.now();
    stop.abort();
    await expect(running).rejects.toBeInstanceOf(AbortedError);
    // The budget is 2 s (the requests' own limits would be 3 × 400 ms + retries, and 5 s before).
    expect(performance.now() - started).toBeLessThan(4_000);
    server.faults.hangHttp.push({ path: '/system_stats', times: 1 });
    const pending = client.systemStats({ timeoutMs: 60_000 });
    setTimeout(() => client.close(), 50);
    await expect(pending).rejects.toThrow(`ComfyUI at ${server.url} was given up while a request was in flight`);
  });
});
