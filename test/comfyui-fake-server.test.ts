/**
 * The fake ComfyUI server must behave like the real one recorded in the fixtures, or the client
 * tests prove nothing. These tests talk to it with plain fetch and ws, not with beatloom's client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildSegmentGraph } from '../src/engines/comfyui/workflow.js';
import { encodePng } from '../src/raster/png.js';
import { startFakeComfy, type FakeComfy } from './comfyui/fake-comfy-server.js';
import { fixtureJson, fixtureTranscript } from './comfyui/fixtures.js';
import { segmentJob } from './helpers/segment-job.js';

interface PostFixture {
  request: unknown;
  status: number;
  response: unknown;
}

/** Tracebacks name the recording server's source lines; everything else must match. */
function withoutTracebacks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTracebacks);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== 'traceback')
      .map(([k, v]) => [k, withoutTracebacks(v)]),
  );
}

async function post(server: FakeComfy, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text body
  }
  return { status: response.status, body: parsed };
}

interface Listener {
  readonly messages: Array<{ type: string; data?: Record<string, unknown> }>;
  readonly ws: WebSocket;
  waitFor(predicate: (m: { type: string; data?: Record<string, unknown> }) => boolean): Promise<void>;
}

async function listen(server: FakeComfy, clientId: string, metadata = true): Promise<Listener> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?clientId=${clientId}`);
  const messages: Listener['messages'] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    messages.push(
      isBinary
        ? { type: `binary:${data.readUInt32BE(0)}` }
        : (JSON.parse(data.toString()) as { type: string; data: Record<string, unknown> }),
    );
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((resolve) => ws.on('open', resolve));
  if (metadata) ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
  return {
    messages,
    ws,
    async waitFor(predicate) {
      while (!messages.some((m) => predicate(m))) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/** The envelope of a transcript: types in order, consecutive `executing` (with a node) collapsed, progress_state left out. */
function envelope(types: string[]): string[] {
  const out: string[] = [];
  for (const type of types) {
    if (type === 'progress_state') continue;
    if (type === 'executing' && out.at(-1) === 'executing') continue;
    out.push(type);
  }
  return out;
}

describe('fake ComfyUI: validation answers exactly like ComfyUI 0.8.0', () => {
  let server: FakeComfy;
  let emptyCheckpoints: FakeComfy;
  beforeAll(async () => {
    server = await startFakeComfy();
    emptyCheckpoints = await startFakeComfy({ checkpoints: [] });
  });
  afterAll(async () => {
    await server.close();
    await emptyCheckpoints.close();
  });

  it.each([
    '10_err_unknown_class_post.json',
    '11_err_missing_input_post.json',
    '13_err_no_output_node_post.json',
    '14_err_bad_value_range_post.json',
    '15_err_bad_type_post.json',
    '16_err_bad_link_post.json',
    '20_body_no_prompt.json',
    '21_body_prompt_not_dict.json',
    '22_body_not_json.json',
  ])('%s', async (name) => {
    const fixture = fixtureJson<PostFixture>(name);
    const reply = await post(server, '/prompt', fixture.request);
    expect(reply.status).toBe(fixture.status);
    expect(withoutTracebacks(reply.body)).toEqual(withoutTracebacks(fixture.response));
  });

  it('12: a checkpoint not in the (empty) list', async () => {
    const fixture = fixtureJson<PostFixture>('12_err_ckpt_not_in_list_post.json');
    const reply = await post(emptyCheckpoints, '/prompt', fixture.request);
    expect(reply).toEqual({ status: 400, body: fixture.response });
  });

  it('accepts the graph of a segment that blends prompts under LoRAs, and rejects what ComfyUI would in it', async () => {
    const withLoras = await startFakeComfy({ loras: ['add_detail.safetensors'] });
    try {
      const job = segmentJob({
        promptBlend: [
          { prompt: 'neon city at night', negativePrompt: 'blurry', weight: 0.6 },
          { prompt: 'calm ocean', negativePrompt: 'blurry', weight: 0.4 },
        ],
        loras: [{ name: 'add_detail.safetensors', strength: 0.5 }],
      });
      const settings = {
        checkpoint: 'random_sd15_fp16.safetensors',
        motionModel: 'animatediff_lightning_4step_comfyui.safetensors',
        betaSchedule: 'sqrt_linear (AnimateDiff)',
        steps: 2,
        sampler: 'euler',
        scheduler: 'sgm_uniform',
        loras: [],
        perFrameMotionScale: true,
      };
      const graph = buildSegmentGraph(job, settings);
      expect(graph['22']!.class_type).toBe('ConditioningAverage');
      const accepted = await post(withLoras, '/prompt', { prompt: graph, client_id: 'blend' });
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ node_errors: {} });
      await withLoras.idle();
      expect(withLoras.prompts[0]!.status).toBe('success');

      const tooStrong = structuredClone(graph);
      tooStrong['22']!.inputs['conditioning_to_strength'] = 1.5;
      const rejected = await post(withLoras, '/prompt', { prompt: tooStrong, client_id: 'blend' });
      expect(rejected.status).toBe(400);
      expect((rejected.body as { node_errors: Record<string, unknown> }).node_errors['22']).toEqual({
        errors: [
          {
            type: 'value_bigger_than_max',
            message: 'Value 1.5 bigger than max of 1.0',
            details: 'conditioning_to_strength',
            extra_info: {
              input_name: 'conditioning_to_strength',
              input_config: ['FLOAT', { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
              received_value: 1.5,
            },
          },
        ],
        dependent_outputs: ['9', '1001'],
        class_type: 'ConditioningAverage',
      });
      const missing = await post(server, '/prompt', { prompt: graph, client_id: 'blend' });
      expect(missing.status).toBe(400);
      expect(
        (missing.body as { node_errors: Record<string, { errors: Array<{ details: string }> }> }).node_errors['20']!
          .errors[0]!.details,
      ).toBe("lora_name: 'add_detail.safetensors' not in []");
    } finally {
      await withLoras.close();
    }
  });

  it('82: an unknown AnimateDiff motion module', async () => {
    const fixture = fixtureJson<{ request: { body: unknown }; status: number; response: unknown }>(
      '82_ade_err_motion_model_missing_post.json',
    );
    const reply = await post(server, '/prompt', fixture.request.body);
    expect(reply).toEqual({ status: 400, body: fixture.response });
  });
});

describe('fake ComfyUI: a run looks like the recorded AnimateDiff run (fixture 80)', () => {
  let server: FakeComfy;
  beforeAll(async () => {
    server = await startFakeComfy({ segmentMs: 60, historyDelayMs: 30 });
  });
  afterAll(() => server.close());

  it('sends the same messages in the same order, only to the client that queued the prompt, and writes the history after execution_success', async () => {
    const fixture = fixtureJson<{ request: { body: { prompt: unknown } } }>('80_ade_txt2img_16f_post.json');
    const ours = await listen(server, 'beatloom-test-80');
    const other = await listen(server, 'someone-else');
    await ours.waitFor((m) => m.type === 'feature_flags');
    let release = (): void => undefined;
    server.faults.holdHistory = new Promise<void>((resolve) => (release = resolve));
    const reply = await post(server, '/prompt', { prompt: fixture.request.body.prompt, client_id: 'beatloom-test-80' });
    expect(reply.status).toBe(200);
    const promptId = (reply.body as { prompt_id: string }).prompt_id;
    expect(reply.body).toEqual({ prompt_id: promptId, number: 0, node_errors: {} });

    await ours.waitFor((m) => m.type === 'execution_success');
    // The race every client must survive: the history is not there yet.
    const early = await (await fetch(`${server.url}/history/${promptId}`)).json();
    expect(early).toEqual({});
    release();
    await ours.waitFor((m) => m.type === 'executing' && m.data?.['node'] === null);
    const history = (await (await fetch(`${server.url}/history/${promptId}`)).json()) as Record<
      string,
      { outputs: { '9': { images: unknown[] } }; status: unknown }
    >;
    expect(history[promptId]!.status).toMatchObject({ status_str: 'success', completed: true });
    expect(history[promptId]!.outputs['9'].images).toEqual(
      Array.from({ length: 16 }, (_, i) => ({
        filename: `seg_0000_${String(i + 1).padStart(5, '0')}_.png`,
        subfolder: 'beatloom',
        type: 'output',
      })),
    );

    const recorded = fixtureTranscript('80_ade_txt2img_16f_ws.jsonl')
      .filter((line) => !line.closed && !line.sent)
      .map((line) => (line.binary ? `binary:${(line as { event_type?: number }).event_type}` : line.msg!.type));
    expect(envelope(ours.messages.map((m) => m.type))).toEqual(envelope(recorded));
    // Every event of the prompt names it; the other client heard only queue status.
    for (const m of ours.messages) {
      if (m.data && !['status', 'feature_flags'].includes(m.type)) expect(m.data['prompt_id']).toBe(promptId);
    }
    expect(new Set(other.messages.map((m) => m.type))).toEqual(new Set(['status', 'feature_flags']));
    expect(ours.messages.find((m) => m.type === 'executed')?.data?.['node']).toBe('9');
    ours.ws.close();
    other.ws.close();

    const view = await fetch(`${server.url}/view?filename=seg_0000_00001_.png&subfolder=beatloom&type=output`);
    expect(view.status).toBe(200);
    expect(view.headers.get('content-type')).toBe('image/png');
  });

  it('sends legacy previews (type 1) to a client without the metadata flag', async () => {
    const fixture = fixtureJson<{ request: { body: { prompt: unknown } } }>('80_ade_txt2img_16f_post.json');
    const legacy = await listen(server, 'legacy', false);
    await post(server, '/prompt', { prompt: fixture.request.body.prompt, client_id: 'legacy' });
    await legacy.waitFor((m) => m.type === 'executing' && m.data?.['node'] === null);
    expect(legacy.messages.filter((m) => m.type.startsWith('binary')).map((m) => m.type)).toEqual([
      'binary:1',
      'binary:1',
    ]);
    legacy.ws.close();
  });

  it('fails 33 frames without context options at run time, like AnimateDiff-Evolved (fixture 84)', async () => {
    const fixture = fixtureJson<{ request: { body: { prompt: Record<string, { inputs: Record<string, unknown> }> } } }>(
      '84_ade_err_33f_no_context_post.json',
    );
    const listener = await listen(server, 'c84');
    const reply = await post(server, '/prompt', { prompt: fixture.request.body.prompt, client_id: 'c84' });
    expect(reply.status).toBe(200);
    await listener.waitFor((m) => m.type === 'execution_error');
    const error = listener.messages.find((m) => m.type === 'execution_error') as { data: Record<string, unknown> };
    const recorded = fixtureTranscript('84_ade_err_33f_no_context_ws.jsonl').find(
      (l) => l.msg?.type === 'execution_error',
    )!.msg!.data as Record<string, unknown>;
    for (const key of ['node_id', 'node_type', 'exception_message', 'exception_type'])
      expect(error.data[key]).toEqual(recorded[key]);
    listener.ws.close();
  });
});

describe('fake ComfyUI: queue, interrupt, upload and view behave like the real server', () => {
  let server: FakeComfy;
  beforeAll(async () => {
    server = await startFakeComfy({ segmentMs: 10_000 });
  });
  afterAll(() => server.close());

  const graph = (seed: number): unknown => {
    const prompt = structuredClone(
      fixtureJson<{ request: { body: { prompt: Record<string, { inputs: Record<string, unknown> }> } } }>(
        '80_ade_txt2img_16f_post.json',
      ).request.body.prompt,
    );
    prompt['7']!.inputs['seed'] = seed;
    return prompt;
  };

  it('interrupts only the prompt named, deletes a queued one, and records the interrupt in the history (fixture 40)', async () => {
    const listener = await listen(server, 'q');
    const first = (await post(server, '/prompt', { prompt: graph(1), client_id: 'q' })).body as { prompt_id: string };
    const second = (await post(server, '/prompt', { prompt: graph(2), client_id: 'q' })).body as { prompt_id: string };
    await listener.waitFor((m) => m.type === 'execution_start');
    const queue = (await (await fetch(`${server.url}/queue`)).json()) as {
      queue_running: unknown[][];
      queue_pending: unknown[][];
    };
    expect(queue.queue_running.map((item) => item[1])).toEqual([first.prompt_id]);
    expect(queue.queue_pending.map((item) => item[1])).toEqual([second.prompt_id]);

    // A targeted interrupt for a prompt that is not running does nothing.
    await post(server, '/interrupt', { prompt_id: second.prompt_id });
    await post(server, '/queue', { delete: [second.prompt_id] });
    expect(((await (await fetch(`${server.url}/queue`)).json()) as { queue_pending: unknown[] }).queue_pending).toEqual(
      [],
    );
    await post(server, '/interrupt', { prompt_id: first.prompt_id });
    await listener.waitFor((m) => m.type === 'executing' && m.data?.['node'] === null);
    expect(listener.messages.some((m) => m.type === 'execution_interrupted')).toBe(true);
    const history = (await (await fetch(`${server.url}/history/${first.prompt_id}`)).json()) as Record<
      string,
      { status: { status_str: string; completed: boolean; messages: Array<[string, unknown]> }; outputs: unknown }
    >;
    const recorded = fixtureJson<{
      history_interrupted: { body: Record<string, { status: { messages: Array<[string]> } }> };
    }>('40_interrupt_queue_http.json').history_interrupted.body;
    const recordedEntry = Object.values(recorded)[0]!;
    expect(history[first.prompt_id]!.outputs).toEqual({});
    expect(history[first.prompt_id]!.status).toMatchObject({ status_str: 'error', completed: false });
    expect(history[first.prompt_id]!.status.messages.map((m) => m[0])).toEqual(
      recordedEntry.status.messages.map((m) => m[0]),
    );
    expect(server.prompts.map((p) => p.status)).toEqual(['interrupted', 'deleted']);
    listener.ws.close();
  });

  it('uploads like /upload/image: overwrite, same content kept, a different one renamed, LoadImage then lists it', async () => {
    const png = encodePng({ width: 8, height: 8, data: new Uint8Array(192).fill(9) });
    const other = encodePng({ width: 8, height: 8, data: new Uint8Array(192).fill(200) });
    const upload = async (
      bytes: Buffer,
      fields: Record<string, string> = {},
    ): Promise<{ status: number; body: unknown }> => {
      const form = new FormData();
      form.append('image', new Blob([bytes], { type: 'image/png' }), 'peer_upload.png');
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      const response = await fetch(`${server.url}/upload/image`, { method: 'POST', body: form });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : '' };
    };
    const recorded = fixtureJson<{
      plain: { response: unknown };
      subfolder_overwrite: { response: unknown };
      dup_no_overwrite: { response: unknown };
      no_file: { status: number };
    }>('50_upload_http.json');
    expect(await upload(png)).toEqual({ status: 200, body: recorded.plain.response });
    expect(await upload(png, { subfolder: 'peer', overwrite: 'true', type: 'input' })).toEqual({
      status: 200,
      body: recorded.subfolder_overwrite.response,
    });
    expect(await upload(png)).toEqual({ status: 200, body: recorded.dup_no_overwrite.response });
    expect(await upload(other)).toEqual({
      status: 200,
      body: { name: 'peer_upload (1).png', subfolder: '', type: 'input' },
    });
    const noFile = await fetch(`${server.url}/upload/image`, { method: 'POST', body: new FormData() });
    expect(noFile.status).toBe(recorded.no_file.status);
    const info = (await (await fetch(`${server.url}/object_info/LoadImage`)).json()) as {
      LoadImage: { input: { required: { image: [string[]] } } };
    };
    expect(info.LoadImage.input.required.image[0]).toEqual(['peer', 'peer_upload (1).png', 'peer_upload.png']);
  });

  it('refuses /view paths outside its folders', async () => {
    expect((await fetch(`${server.url}/view?filename=../../etc/passwd`)).status).toBe(400);
    expect((await fetch(`${server.url}/view?filename=x.png&subfolder=../../etc`)).status).toBe(403);
    expect((await fetch(`${server.url}/view?filename=nothing.png`)).status).toBe(404);
  });

  it('also answers under /api, and 404s what it does not know', async () => {
    expect(await (await fetch(`${server.url}/api/queue`)).json()).toEqual({ queue_running: [], queue_pending: [] });
    expect((await fetch(`${server.url}/nonexistent`)).status).toBe(404);
    expect(await (await fetch(`${server.url}/object_info/NoSuchNode`)).json()).toEqual({});
    await sleep(1);
  });
});

describe('fake ComfyUI: prompt ids, /free and client ids like the real server (fixtures 95–98)', () => {
  let server: FakeComfy;
  beforeAll(async () => {
    server = await startFakeComfy({ segmentMs: 20, historyDelayMs: 0 });
  });
  afterAll(async () => {
    await server.close();
  });
  const prompt = (): unknown =>
    fixtureJson<{ request: { body: { prompt: unknown } } }>('80_ade_txt2img_16f_post.json').request.body.prompt;
  const untilHistory = async (id: string): Promise<void> => {
    while (Object.keys((await (await fetch(`${server.url}/history/${id}`)).json()) as object).length === 0)
      await sleep(10);
  };

  it('95: keeps the prompt_id the client sends, in a reply of the same shape', async () => {
    const recorded = fixtureJson<{ request: { body: { prompt_id: string } }; status: number; body: object }>(
      '95_client_prompt_id_post.json',
    );
    const reply = await post(server, '/prompt', { prompt: prompt(), client_id: 'peer-90', prompt_id: 'ours-90' });
    expect(reply.status).toBe(recorded.status);
    expect(Object.keys(reply.body as object)).toEqual(Object.keys(recorded.body));
    expect((reply.body as { prompt_id: string }).prompt_id).toBe('ours-90');
    expect(recorded.body).toMatchObject({ prompt_id: recorded.request.body.prompt_id, node_errors: {} });
    await untilHistory('ours-90');
  });

  it('97: answers POST /free like the real one, and records what was asked', async () => {
    const recorded = fixtureJson<{ free: { request: { body: unknown }; status: number; body: unknown } }>(
      '97_oom_free_retry_http.json',
    ).free;
    expect(await post(server, '/free', recorded.request.body)).toEqual({
      status: recorded.status,
      body: recorded.body,
    });
    expect(server.frees).toEqual([{ unload_models: true, free_memory: true }]);
  });

  it('98: a socket that closes takes its client id with it, even from a newer socket that reuses it', async () => {
    const first = await listen(server, 'peer-93', false);
    const second = await listen(server, 'peer-93', false);
    first.ws.close();
    while (server.connectedClients().includes('peer-93')) await sleep(5);
    const same = await post(server, '/prompt', { prompt: prompt(), client_id: 'peer-93', prompt_id: 'same-93' });
    expect(same.status).toBe(200);
    await untilHistory('same-93');
    const fresh = await listen(server, 'peer-93-fresh', false);
    await post(server, '/prompt', { prompt: prompt(), client_id: 'peer-93-fresh', prompt_id: 'fresh-93' });
    await fresh.waitFor((m) => m.type === 'executing' && m.data?.['node'] === null);
    await sleep(50);
    const types = (name: string): string[] =>
      fixtureTranscript(name)
        .filter((line) => line.msg !== undefined)
        .map((line) => line.msg!.type);
    // The second socket, still open, heard nothing after its greeting, exactly as recorded.
    expect(second.messages.map((m) => m.type)).toEqual(types('98_ws_same_client_id_second_ws.jsonl'));
    expect(envelope(fresh.messages.map((m) => m.type)).filter((t) => !t.startsWith('binary'))).toContain(
      'execution_success',
    );
    expect(types('98_ws_same_client_id_fresh_ws.jsonl')).toContain('execution_success');
    second.ws.close();
    fresh.ws.close();
  });
});
