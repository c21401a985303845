/**
 * beatloom's ComfyUI client against the fake server, including everything awkward the real
 * protocol does: history written after execution_success, events before the POST reply, HTTP 400
 * bodies, execution_error, dropped / refused / half-open sockets, 500s, hangs, a dying server,
 * interrupts and queue deletes on Ctrl-C.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ComfyClient, type PromptProgress } from '../src/engines/comfyui/client.js';
import { ComfyServerFailure } from '../src/engines/comfyui/comfy-errors.js';
import type { ApiGraph } from '../src/engines/comfyui/comfy-schemas.js';
import type { ComfyTuning } from '../src/engines/comfyui/settings.js';
import { AbortedError, BeatloomError } from '../src/shared/errors.js';
import { startFakeComfy, type FakeComfy, type FakeComfyOptions } from './comfyui/fake-comfy-server.js';
import { fixtureJson } from './comfyui/fixtures.js';

const TUNING: Partial<ComfyTuning> = {
  requestTimeoutMs: 2_000,
  connectTimeoutMs: 5_000,
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

async function setup(
  options: FakeComfyOptions = {},
  tuning: Partial<ComfyTuning> = {},
): Promise<{ server: FakeComfy; client: ComfyClient }> {
  const server = await startFakeComfy({ segmentMs: 60, ...options });
  const client = new ComfyClient(server.url, { tuning: { ...TUNING, ...tuning } });
  open.push(server, client);
  return { server, client };
}

/** Fixture 80's graph (a real AnimateDiff-Evolved run), with another seed / prefix / frame count. */
function graph(changes: { seed?: number; prefix?: string; frames?: number; steps?: number } = {}): ApiGraph {
  const g = structuredClone(
    fixtureJson<{ request: { body: { prompt: ApiGraph } } }>('80_ade_txt2img_16f_post.json').request.body.prompt,
  );
  if (changes.seed !== undefined) g['7']!.inputs['seed'] = changes.seed;
  if (changes.steps !== undefined) g['7']!.inputs['steps'] = changes.steps;
  if (changes.prefix !== undefined) g['9']!.inputs['filename_prefix'] = changes.prefix;
  if (changes.frames !== undefined) g['6']!.inputs['batch_size'] = changes.frames;
  return g;
}

function imageNames(outputs: Readonly<Record<string, Record<string, unknown>>>): string[] {
  return (outputs['9']!['images'] as Array<{ filename: string }>).map((i) => i.filename);
}

const historyGets = (server: FakeComfy, promptId: string): number =>
  server.requests.filter((r) => r.path === `/history/${promptId}`).length;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('ComfyClient.runPrompt', () => {
  it('queues under a prompt_id of its own (a UUID), which the server keeps (fixture 95)', async () => {
    const { server, client } = await setup();
    const a = await client.runPrompt(graph({ seed: 1 }));
    const b = await client.runPrompt(graph({ seed: 2 }));
    expect(a.promptId).toMatch(UUID);
    expect(b.promptId).not.toBe(a.promptId);
    expect(server.prompts.map((p) => p.id)).toEqual([a.promptId, b.promptId]);
    const real = fixtureJson<{ request: { body: { prompt_id: string } }; body: { prompt_id: string } }>(
      '95_client_prompt_id_post.json',
    );
    expect(real.body.prompt_id).toBe(real.request.body.prompt_id);
  });

  it('reports how long the server executed the prompt by its own clock (execution_start → execution_success)', async () => {
    let now = 1_796_416_645_983;
    const { server, client } = await setup({ clock: () => now });
    server.faults.onStep = () => (now += 14_500);
    const result = await client.runPrompt(graph());
    expect(result.executionMs).toBe(29_000);
    expect([server.prompts[0]!.startStamp, server.prompts[0]!.successStamp]).toEqual([
      1_796_416_645_983, 1_796_416_674_983,
    ]);
  });

  it('follows a prompt to its outputs, reading /history until the server has written it (after execution_success)', async () => {
    const { server, client } = await setup();
    // The history is held back until the client has asked for it at least once.
    server.faults.holdHistory = (async () => {
      while (!server.requests.some((r) => r.path.startsWith('/history/'))) await new Promise((r) => setTimeout(r, 5));
    })();
    const progress: PromptProgress[] = [];
    const result = await client.runPrompt(graph({ steps: 4 }), { onProgress: (p) => progress.push(p) });
    expect(imageNames(result.outputs)).toEqual(
      Array.from({ length: 16 }, (_, i) => `seg_0000_${String(i + 1).padStart(5, '0')}_.png`),
    );
    expect(progress).toEqual([1, 2, 3, 4].map((value) => ({ value, max: 4, node: '7' })));
    // The first read after execution_success found nothing: it had to ask again.
    expect(historyGets(server, result.promptId)).toBeGreaterThanOrEqual(2);
    expect(server.clientMessages).toContainEqual({ type: 'feature_flags', data: { supports_preview_metadata: true } });
  });

  it('still finishes when the server says "done" (executing null) before the history exists', async () => {
    const { server, client } = await setup();
    server.faults.lateHistoryMs = 200;
    const result = await client.runPrompt(graph());
    expect(imageNames(result.outputs)).toHaveLength(16);
  });

  it('keeps events that outrun the POST /prompt reply, and finishes from them alone', async () => {
    const { server, client } = await setup({ segmentMs: 10, historyDelayMs: 0 });
    server.faults.replyAfterRun = true;
    const result = await client.runPrompt(graph());
    expect(imageNames(result.outputs)).toHaveLength(16);
    // No polling was needed (safetyPollMs is a minute): the buffered events did it.
    expect(server.requests.some((r) => r.path === '/queue')).toBe(false);
  });

  it('matches events to prompts by prompt_id: two prompts of one client each get their own progress and outputs', async () => {
    const { client } = await setup({ segmentMs: 80 });
    const seen: Record<string, number> = { a: 0, b: 0 };
    const [a, b] = await Promise.all([
      client.runPrompt(graph({ seed: 1, prefix: 'beatloom/a' }), { onProgress: () => seen['a']!++ }),
      client.runPrompt(graph({ seed: 2, prefix: 'beatloom/b' }), { onProgress: () => seen['b']!++ }),
    ]);
    expect(imageNames(a.outputs)[0]).toBe('a_00001_.png');
    expect(imageNames(b.outputs)[0]).toBe('b_00001_.png');
    expect(seen).toEqual({ a: 2, b: 2 });
  });

  /** Holds the history until the client has come back on a second socket: only a reconnect can finish the run. */
  const holdUntilReconnected = (server: FakeComfy): void => {
    server.faults.holdHistory = (async () => {
      while (server.socketConnections.length < 2) await new Promise((r) => setTimeout(r, 5));
    })();
  };

  it('survives a WebSocket dropped mid-execution: reconnects under a new client_id and follows the prompt by polling', async () => {
    const { server, client } = await setup({ segmentMs: 300 });
    const first = client.clientId;
    server.faults.dropSocketsAtStep = 1;
    holdUntilReconnected(server);
    const result = await client.runPrompt(graph());
    expect(imageNames(result.outputs)).toHaveLength(16);
    expect(server.socketConnections).toEqual([first, client.clientId]);
    expect(client.clientId).not.toBe(first);
    expect(server.prompts.map((p) => [p.clientId, p.status])).toEqual([[first, 'success']]);
  });

  it('detects a half-open socket by its missing pongs, reconnects and carries on', async () => {
    const { server, client } = await setup({ segmentMs: 300 }, { heartbeatMs: 300 });
    const first = client.clientId;
    server.faults.freezeSocketsAtStep = 1;
    holdUntilReconnected(server);
    const result = await client.runPrompt(graph());
    expect(imageNames(result.outputs)).toHaveLength(16);
    expect(server.socketConnections).toEqual([first, client.clientId]);
  });

  it('after a reconnect, the old socket closing late on the server (server.py forgets its id) costs no events', async () => {
    // The server notices the dead socket only after the new one is in: it then removes that client id,
    // as server.py does whichever socket has it. Under the old id, the next prompt would hear nothing.
    const { server, client } = await setup({ segmentMs: 300 }, { heartbeatMs: 300 });
    const first = client.clientId;
    server.faults.staleSocketsAtStep = 1;
    holdUntilReconnected(server);
    expect(imageNames((await client.runPrompt(graph({ seed: 1 }))).outputs)).toHaveLength(16);
    const progress: PromptProgress[] = [];
    const second = await client.runPrompt(graph({ seed: 2, prefix: 'beatloom/second' }), {
      onProgress: (p) => progress.push(p),
    });
    expect(imageNames(second.outputs)[0]).toBe('second_00001_.png');
    // Its progress came over the new socket: the server still knows that id.
    expect(progress).toEqual([1, 2].map((value) => ({ value, max: 2, node: '7' })));
    expect(server.socketConnections).toEqual([first, client.clientId]);
    expect(server.connectedClients()).toEqual([client.clientId]);
    expect(server.prompts.map((p) => [p.clientId, p.status])).toEqual([
      [first, 'success'],
      [client.clientId, 'success'],
    ]);
  });

  it('falls back to polling /history when the WebSocket is refused', async () => {
    const { server, client } = await setup();
    server.faults.refuseSockets = true;
    const result = await client.runPrompt(graph());
    expect(imageNames(result.outputs)).toHaveLength(16);
    expect(historyGets(server, result.promptId)).toBeGreaterThanOrEqual(2);
  });

  it('retries a GET that answers 500, and gives up with a server failure when it keeps failing', async () => {
    const { server, client } = await setup();
    server.faults.failHttp.push({ path: '/history/', method: 'GET', times: 2 });
    expect(imageNames((await client.runPrompt(graph())).outputs)).toHaveLength(16);
    server.faults.failHttp.push({ path: '/system_stats', times: 3 });
    await expect(client.systemStats()).rejects.toThrow(
      new ComfyServerFailure(
        server.url,
        `ComfyUI at ${server.url} failed: GET /system_stats answered HTTP 500 (500 Internal Server Error)`,
      ),
    );
  });

  it('waits out slow replies that stay within the timeout', async () => {
    const { server, client } = await setup({}, { requestTimeoutMs: 2_000 });
    server.faults.delayHttp.push(
      { path: '/prompt', method: 'POST', delayMs: 300, times: 1 },
      { path: '/history/', delayMs: 300, times: 1 },
    );
    expect(imageNames((await client.runPrompt(graph())).outputs)).toHaveLength(16);
    expect(server.faults.delayHttp).toEqual([]);
  });

  it('takes back, by its prompt_id, a prompt whose POST the server took but never answered: deleted while it waits', async () => {
    const { server, client } = await setup({ segmentMs: 60 }, { requestTimeoutMs: 400 });
    const other = new ComfyClient(server.url, { tuning: TUNING });
    open.push(other);
    server.faults.nextSegmentMs = 2_000;
    const theirs = other.runPrompt(graph({ seed: 1 }));
    while (server.prompts.length < 1) await new Promise((r) => setTimeout(r, 5));
    server.faults.acceptWithoutReply = 1;
    await expect(client.runPrompt(graph({ seed: 2 }))).rejects.toThrow(
      new ComfyServerFailure(server.url, `ComfyUI at ${server.url} did not answer POST /prompt within 400 ms`),
    );
    // Ours waited behind theirs: deleted by the id we chose, theirs left alone.
    expect(server.prompts[1]!.id).toMatch(UUID);
    expect(server.queueDeletes).toEqual([server.prompts[1]!.id]);
    expect(server.interrupts).toEqual([]);
    expect(imageNames((await theirs).outputs)).toHaveLength(16);
    await server.idle();
    expect(server.prompts.map((p) => p.status)).toEqual(['success', 'deleted']);
  });

  it('… and interrupted (targeted) when it already runs', async () => {
    const { server, client } = await setup({ segmentMs: 3_000 }, { requestTimeoutMs: 400 });
    server.faults.acceptWithoutReply = 1;
    await expect(client.runPrompt(graph())).rejects.toThrow(`did not answer POST /prompt within 400 ms`);
    await server.idle();
    expect(server.interrupts).toEqual([server.prompts[0]!.id]);
    expect(server.queueDeletes).toEqual([]);
    expect(server.prompts.map((p) => p.status)).toEqual(['interrupted']);
  });

  it('gives every request a timeout', async () => {
    const { server, client } = await setup({}, { requestTimeoutMs: 300 });
    server.faults.hangHttp.push({ path: '/prompt', method: 'POST', times: 1 });
    await expect(client.runPrompt(graph())).rejects.toThrow(
      `ComfyUI at ${server.url} did not answer POST /prompt within 300 ms`,
    );
  });

  it('gives up on a prompt that runs far too long (a stuck server), but not on one waiting in a busy queue', async () => {
    const { server, client } = await setup({ segmentMs: 100 }, { segmentTimeoutMs: 800, safetyPollMs: 50 });
    const other = new ComfyClient(server.url, { tuning: TUNING });
    open.push(other);
    server.faults.nextSegmentMs = 1_500;
    const theirs = other.runPrompt(graph({ seed: 1 }));
    while (server.prompts.length < 1) await new Promise((r) => setTimeout(r, 5));
    expect(imageNames((await client.runPrompt(graph({ seed: 2 }))).outputs)).toHaveLength(16);
    await theirs;
    server.faults.nextSegmentMs = 5_000;
    await expect(client.runPrompt(graph({ seed: 3 }))).rejects.toThrow(
      /gave no result for prompt .* within 800 ms of starting it \(is it stuck\?\)$/,
    );
    await server.idle();
    expect(server.interrupts).toEqual([server.prompts[2]!.id]);
  });

  it('validates server JSON: a reply of the wrong shape is a server failure that says what was wrong', async () => {
    const { server, client } = await setup();
    server.faults.replyWith.push({
      path: '/system_stats',
      status: 200,
      body: '{"system": 5, "devices": []}',
      times: 1,
    });
    await expect(client.systemStats()).rejects.toThrow(
      /sent an unexpected reply to GET \/system_stats: system: Invalid input: expected object, received number/,
    );
    server.faults.replyWith.push({ path: '/queue', status: 200, body: '<html>proxy error</html>', times: 1 });
    await expect(client.queue()).rejects.toThrow(
      /sent a reply to GET \/queue that is not JSON: \(<html>proxy error<\/html>\)/,
    );
  });

  it('reports a server that dies mid-segment as a server failure', async () => {
    const { server, client } = await setup({ segmentMs: 400 });
    server.faults.dieAtStep = 1;
    const error = await client.runPrompt(graph()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ComfyServerFailure);
    expect((error as Error).message).toMatch(/cannot reach ComfyUI at .*ECONNREFUSED/);
  });

  it('reports a prompt that vanished from the queue without a history (a restarted server) as a server failure', async () => {
    const { server, client } = await setup({ segmentMs: 3_000 }, { safetyPollMs: 100 });
    const blocker = new ComfyClient(server.url, { tuning: TUNING });
    open.push(blocker);
    const stopBlocker = new AbortController();
    const first = blocker.runPrompt(graph({ seed: 5 }), { signal: stopBlocker.signal }).catch((e: unknown) => e);
    while (server.prompts.length < 1) await new Promise((r) => setTimeout(r, 5));
    const ours = client.runPrompt(graph({ seed: 6 })).catch((e: unknown) => e);
    while (server.prompts.length < 2) await new Promise((r) => setTimeout(r, 10));
    await fetch(`${server.url}/queue`, { method: 'POST', body: JSON.stringify({ delete: [server.prompts[1]!.id] }) });
    const error = await ours;
    expect(error).toBeInstanceOf(ComfyServerFailure);
    expect((error as Error).message).toBe(
      `ComfyUI at ${server.url} lost prompt ${server.prompts[1]!.id}: it is neither queued nor in the history (was the server restarted?)`,
    );
    stopBlocker.abort();
    expect(await first).toBeInstanceOf(AbortedError);
  });
});

describe('ComfyClient errors a user can act on', () => {
  const post = (name: string): ApiGraph =>
    fixtureJson<{ request: { prompt?: ApiGraph; body?: { prompt: ApiGraph } } }>(name).request.prompt ??
    fixtureJson<{ request: { body: { prompt: ApiGraph } } }>(name).request.body.prompt;

  it.each([
    [
      '82_ade_err_motion_model_missing_post.json',
      "Prompt outputs failed validation: node 3 (ADE_AnimateDiffLoaderGen1) input model_name: 'does_not_exist.safetensors' is not available (the server has: animatediff_lightning_4step_comfyui.safetensors)",
    ],
    ['11_err_missing_input_post.json', 'Prompt outputs failed validation: node 2 (SaveImage) input images is missing'],
    [
      '14_err_bad_value_range_post.json',
      'Prompt outputs failed validation: node 1 (EmptyImage) input width: Value 0 smaller than min of 1',
    ],
    [
      '15_err_bad_type_post.json',
      'Prompt outputs failed validation: node 1 (EmptyImage) input width: Failed to convert an input value to a INT value (got "abc")',
    ],
    [
      '16_err_bad_link_post.json',
      "Prompt outputs failed validation: node 2 (SaveImage) Exception when validating node: '9'",
    ],
    ['10_err_unknown_class_post.json', "Cannot execute because node NoSuchNode does not exist. (Node ID '#1')"],
    ['13_err_no_output_node_post.json', 'Prompt has no outputs'],
  ])('an HTTP 400 (%s) names the node and input', async (name, message) => {
    const { server, client } = await setup();
    const error = await client.submit(post(name)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).message).toBe(`ComfyUI at ${server.url} rejected the graph: ${message}`);
    expect((error as BeatloomError).kind).toBe('usage');
  });

  it('a 200 with node_errors is a failure, and the half-accepted prompt is taken back', async () => {
    const { server, client } = await setup();
    server.faults.acceptWithNodeErrors = true;
    await expect(client.runPrompt(graph())).rejects.toThrow(
      `ComfyUI at ${server.url} rejected the graph: Some outputs failed validation: node 99 (PreviewImage) input images is missing`,
    );
    expect(server.queueDeletes).toEqual([server.prompts[0]!.id]);
  });

  it('execution_error becomes an error with the node type and the exception message (fixture 84)', async () => {
    const { server, client } = await setup();
    await expect(client.runPrompt(graph({ frames: 33 }))).rejects.toThrow(
      `ComfyUI at ${server.url} failed in node 7 (KSampler): ValueError: Without a context window, AnimateDiff model animatediff_lightning_4step_comfyui.safetensors has upper limit of 32 frames, but received 33 latents.`,
    );
  });

  it('an execution_error missed while the socket was away is read from the history', async () => {
    const { server, client } = await setup();
    server.faults.refuseSockets = true;
    server.faults.errorAtStep = {
      step: 1,
      type: 'torch.OutOfMemoryError',
      message: 'CUDA out of memory. Tried to allocate 2.00 GiB',
    };
    await expect(client.runPrompt(graph())).rejects.toThrow(
      `ComfyUI at ${server.url} failed in node 7 (KSampler): torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB`,
    );
  });

  it('someone else cancelling our prompt on the server is said plainly', async () => {
    const { server, client } = await setup({ segmentMs: 200 });
    server.faults.foreignInterruptAtStep = 1;
    await expect(client.runPrompt(graph())).rejects.toThrow(
      `ComfyUI at ${server.url} interrupted the prompt in KSampler (someone cancelled it on the server)`,
    );
  });
});

describe('ComfyClient cancelling (Ctrl-C)', () => {
  it('interrupts our running prompt by its prompt_id, and only that', async () => {
    const { server, client } = await setup({ segmentMs: 2_000 });
    const controller = new AbortController();
    const running = client.runPrompt(graph(), { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(running).rejects.toBeInstanceOf(AbortedError);
    await server.idle();
    expect(server.interrupts).toEqual([server.prompts[0]!.id]);
    expect(server.queueDeletes).toEqual([]);
    expect(server.prompts[0]!.status).toBe('interrupted');
  });

  it('deletes our queued prompt and leaves the running one (someone else’s) alone', async () => {
    const { server, client } = await setup({ segmentMs: 1_500 });
    const other = new ComfyClient(server.url, { tuning: TUNING });
    open.push(other);
    const theirs = other.runPrompt(graph({ seed: 1 }));
    while (server.prompts.length < 1) await new Promise((r) => setTimeout(r, 5));
    const controller = new AbortController();
    const ours = client.runPrompt(graph({ seed: 2 }), { signal: controller.signal });
    while (server.prompts.length < 2) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(ours).rejects.toBeInstanceOf(AbortedError);
    // A stop does not wait for a POST /prompt still in flight: its prompt is deleted once its id comes.
    for (let waited = 0; server.queueDeletes.length === 0 && waited < 5_000; waited += 5)
      await new Promise((r) => setTimeout(r, 5));
    expect(server.queueDeletes).toEqual([server.prompts[1]!.id]);
    expect(server.interrupts).toEqual([]);
    expect(imageNames((await theirs).outputs)).toHaveLength(16);
    expect(server.prompts.map((p) => p.status)).toEqual(['success', 'deleted']);
  });
});
