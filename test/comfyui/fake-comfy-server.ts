/**
 * A local stand-in for a ComfyUI 0.8.0 server with AnimateDiff-Evolved, on 127.0.0.1, built
 * from the transcripts in test/fixtures/comfyui-0.8.0 and ComfyUI's server.py:
 *
 * - HTTP: /prompt (validated against the fixture /object_info like execution.py does, with the
 *   same 400 bodies), /queue, /interrupt (targeted or global), /history, /view, /upload/image,
 *   /object_info, /system_stats, /features, also under /api;
 * - POST /prompt takes the client's "prompt_id" when it sends one (fixture 95);
 * - WebSocket /ws?clientId=: status to everyone; a prompt's events only to the client that
 *   queued it (dropped while it is away); `executing` with node null at the end; progress and
 *   binary previews (with metadata when the client sent the supports_preview_metadata flag); a
 *   socket's close forgets its client id even when a newer socket has taken it (server.py's
 *   websocket_handler, fixture 98);
 * - every `timestamp` from one clock (`clock`, Date.now by default), like execution.py's add_message;
 * - one prompt at a time, taking `segmentMs`, and the history written `historyDelayMs` AFTER
 *   execution_success — the race a client must survive;
 * - faults on demand: HTTP 500s, slow or hanging replies, dropped or frozen sockets, refused
 *   sockets, an execution_error, a foreign interrupt, a server that dies mid-segment, late or
 *   malicious outputs, corrupt /view bodies.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodePng } from '../../src/raster/png.js';
import { drawFrames, executeGraph, NodeFailure, type FrameSpec, type SavedImage } from './execute-graph.js';
import { fixtureJson } from './fixtures.js';
import { validatePrompt, type ObjectInfoJson } from './validate-prompt.js';

export interface FakeComfyOptions {
  /** 'custom': core nodes + AnimateDiff-Evolved + VideoHelperSuite; 'core': ComfyUI alone. */
  readonly nodes?: 'custom' | 'core';
  readonly removeNodes?: readonly string[];
  readonly checkpoints?: readonly string[];
  readonly motionModels?: readonly string[];
  readonly loras?: readonly string[];
  /** How long the sampler of one prompt takes, spread over its steps. */
  readonly segmentMs?: number;
  /**
   * Instead of segmentMs: each sampler step costs this much per frame the model computes (a take's
   * context windows compute their shared frames twice), like a GPU whose time follows the work.
   */
  readonly frameStepMs?: number;
  /** The history is written this long after execution_success. */
  readonly historyDelayMs?: number;
  /** 'drawn': frames from the graph's values; 'noise': the same noisy frames for every prompt (benchmarks). */
  readonly frames?: 'drawn' | 'noise';
  readonly deviceName?: string;
  readonly port?: number;
  /** The server's clock for message timestamps (ms). */
  readonly clock?: () => number;
  /** false: an older server, whose messages carry no `timestamp`. */
  readonly timestamps?: boolean;
}

interface HttpFault {
  readonly path: string;
  readonly method?: 'GET' | 'POST';
  times: number;
}

export interface FakeComfyFaults {
  /** Answer HTTP 500 to the next `times` matching requests. */
  failHttp: Array<HttpFault & { status?: number }>;
  /** Delay the next matching replies. */
  delayHttp: Array<HttpFault & { delayMs: number }>;
  /** Never answer the next matching requests (until the server closes). */
  hangHttp: HttpFault[];
  /** Answer the next matching requests with this status and body instead. */
  replyWith: Array<HttpFault & { status: number; body: string }>;
  /** Queue the next prompt at once but answer POST /prompt only once it has finished (its events outrun the reply). */
  replyAfterRun: boolean;
  /** Refuse WebSocket upgrades. */
  refuseSockets: boolean;
  /** At this sampler step (of the next prompt): close every client socket. */
  dropSocketsAtStep: number | undefined;
  /** At this sampler step: stop reading client sockets (no pongs, no close: half-open). */
  freezeSocketsAtStep: number | undefined;
  /** The next prompt takes this long instead of segmentMs. */
  nextSegmentMs: number | undefined;
  /** At this sampler step: the whole server dies. */
  dieAtStep: number | undefined;
  /** At this sampler step: someone else interrupts (a global /interrupt). */
  foreignInterruptAtStep: number | undefined;
  /** At this sampler step: the node raises (in the next `times` prompts, 1 if not given). */
  errorAtStep: { step: number; type: string; message: string; times?: number } | undefined;
  /** Queue the next N prompts but never answer their POST /prompt (until the server closes). */
  acceptWithoutReply: number;
  /**
   * At this sampler step: the network path to every client socket dies without a close (no
   * messages, no pongs), and the server notices those sockets closed only after the next socket
   * has connected — so, like server.py, it then forgets that client id even if the new socket has it.
   */
  staleSocketsAtStep: number | undefined;
  /** The next prompt to run waits in the queue (no execution_start) until this settles. */
  holdStart: Promise<unknown> | undefined;
  /** Called at every sampler step of every prompt, before the step's wait (tests move `clock` here). */
  onStep: ((prompt: PromptRecord, step: number) => void) | undefined;
  /** Hold the next history write (after execution_success) until this settles. */
  holdHistory: Promise<unknown> | undefined;
  /** Send `executing` null BEFORE writing the history, this many ms before. */
  lateHistoryMs: number | undefined;
  /** Accept the next prompt with 200 but non-empty node_errors. */
  acceptWithNodeErrors: boolean;
  /** Rewrite the images the next prompt reports (malicious or broken servers). */
  rewriteImages: ((images: SavedImage[]) => unknown[]) | undefined;
  /** Truncate the next N /view bodies. */
  corruptViews: number;
  /**
   * Hostile bodies for the next matching requests (status 200): 'endless' streams zeros until the
   * client hangs up, 'drip' sends one byte every 100 ms, 'huge' sends `bytes` of valid JSON
   * (`[0,0,…]`), 'lying' announces a Content-Length of 10 GiB and sends a few bytes.
   */
  hostile: Array<HttpFault & { body: 'endless' | 'drip' | 'huge' | 'lying'; bytes?: number }>;
}

export interface PromptRecord {
  readonly id: string;
  readonly number: number;
  readonly clientId: string | undefined;
  readonly graph: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  readonly outputs: string[];
  status: 'pending' | 'running' | 'success' | 'error' | 'interrupted' | 'deleted' | 'lost';
  startedAt?: number;
  finishedAt?: number;
  /** The timestamps sent in execution_start and execution_success. */
  startStamp?: number;
  successStamp?: number;
}

export interface FakeComfy {
  readonly url: string;
  readonly port: number;
  readonly faults: FakeComfyFaults;
  readonly prompts: PromptRecord[];
  readonly requests: Array<{ method: string; path: string }>;
  readonly uploads: string[];
  /** prompt_id of each /interrupt, null for a global one. */
  readonly interrupts: Array<string | null>;
  readonly queueDeletes: string[];
  /** The body of every POST /free. */
  readonly frees: unknown[];
  readonly clientMessages: unknown[];
  /** The client_id of every WebSocket connection ever made, in order. */
  readonly socketConnections: string[];
  readonly connectedClients: () => string[];
  /** The server dies: every connection is cut and the port closed. */
  kill(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Changes how long the next prompts take. */
  setSegmentMs(ms: number): void;
}

const INTERNAL_ERROR = '500 Internal Server Error\n\nServer got itself in trouble';

class Died extends Error {}
class Interrupted extends Error {
  constructor(readonly nodeId: string) {
    super('interrupted');
  }
}

function patchCombo(info: ObjectInfoJson, className: string, input: string, options: readonly string[]): void {
  const spec = info[className]?.input.required?.[input];
  if (spec) spec[0] = [...options];
}

function buildObjectInfo(options: FakeComfyOptions): ObjectInfoJson {
  const source = options.nodes === 'core' ? 'object_info.json' : 'object_info_with_custom_nodes.json';
  const info = structuredClone(fixtureJson<ObjectInfoJson>(source));
  for (const name of options.removeNodes ?? []) delete info[name];
  patchCombo(info, 'CheckpointLoaderSimple', 'ckpt_name', options.checkpoints ?? ['random_sd15_fp16.safetensors']);
  patchCombo(
    info,
    'ADE_AnimateDiffLoaderGen1',
    'model_name',
    options.motionModels ?? ['animatediff_lightning_4step_comfyui.safetensors'],
  );
  patchCombo(info, 'LoraLoader', 'lora_name', options.loras ?? []);
  return info;
}

function noFaults(): FakeComfyFaults {
  return {
    failHttp: [],
    delayHttp: [],
    hangHttp: [],
    replyWith: [],
    replyAfterRun: false,
    refuseSockets: false,
    dropSocketsAtStep: undefined,
    freezeSocketsAtStep: undefined,
    nextSegmentMs: undefined,
    dieAtStep: undefined,
    foreignInterruptAtStep: undefined,
    errorAtStep: undefined,
    acceptWithoutReply: 0,
    staleSocketsAtStep: undefined,
    holdStart: undefined,
    onStep: undefined,
    holdHistory: undefined,
    lateHistoryMs: undefined,
    acceptWithNodeErrors: false,
    rewriteImages: undefined,
    corruptViews: 0,
    hostile: [],
  };
}

function takeFault<T extends HttpFault>(list: T[], method: string, path: string): T | undefined {
  const index = list.findIndex((f) => path.startsWith(f.path) && (f.method === undefined || f.method === method));
  if (index < 0) return undefined;
  const fault = list[index]!;
  fault.times--;
  if (fault.times <= 0) list.splice(index, 1);
  return fault;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startFakeComfy(options: FakeComfyOptions = {}): Promise<FakeComfy> {
  const objectInfo = buildObjectInfo(options);
  const root = mkdtempSync(join(tmpdir(), 'fake-comfy-'));
  const dirs = { output: join(root, 'output'), input: join(root, 'input'), temp: join(root, 'temp') } as const;
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  let segmentMs = options.segmentMs ?? 40;
  const historyDelayMs = options.historyDelayMs ?? 15;
  const systemStats = structuredClone(
    fixtureJson<{ devices: Array<{ name: string; type: string }> }>('get_system_stats.json'),
  );
  if (options.deviceName)
    systemStats.devices[0] = { ...systemStats.devices[0]!, name: options.deviceName, type: 'cuda' };
  const features = fixtureJson<Record<string, unknown>>('get_features.json');

  const faults = noFaults();
  const prompts: PromptRecord[] = [];
  const requests: Array<{ method: string; path: string }> = [];
  const uploads: string[] = [];
  const interrupts: Array<string | null> = [];
  const queueDeletes: string[] = [];
  const frees: unknown[] = [];
  const clientMessages: unknown[] = [];
  const clock = options.clock ?? Date.now;
  /** Sockets the server stopped reading (staleSocketsAtStep): it notices their close after the next connection. */
  const stale = new Set<WebSocket>();
  const socketConnections: string[] = [];
  const history = new Map<string, unknown>();
  const sockets = new Map<string, WebSocket>();
  const metadataClients = new Set<string>();
  const frozen = new Set<WebSocket>();
  const connections = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const counters = new Map<string, number>();
  const outputFiles = new Map<string, Buffer>();
  const encoded = new WeakMap<Uint8Array, Buffer>();
  const noiseFrames = new Map<string, Uint8Array[]>();
  let pending: PromptRecord[] = [];
  let running: PromptRecord | undefined;
  let lastNode: string | undefined;
  let interruptFlag = false;
  let dead = false;
  let number = 0;
  let working: Promise<void> | undefined;

  // ---- WebSocket ---------------------------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true });
  const sendJson = (ws: WebSocket, type: string, data: unknown): void => {
    if (ws.readyState === ws.OPEN && !frozen.has(ws)) ws.send(JSON.stringify({ type, data }));
  };
  const unstamped = (data: unknown): unknown => {
    if (options.timestamps !== false || typeof data !== 'object' || data === null || !('timestamp' in data))
      return data;
    const { timestamp: _timestamp, ...rest } = data as Record<string, unknown>;
    return rest;
  };
  const send = (clientId: string | undefined, type: string, data: unknown): void => {
    const ws = clientId === undefined ? undefined : sockets.get(clientId);
    if (ws) sendJson(ws, type, unstamped(data));
  };
  const queueRemaining = (): number => pending.length + (running ? 1 : 0);
  const broadcastStatus = (): void => {
    for (const ws of sockets.values())
      sendJson(ws, 'status', { status: { exec_info: { queue_remaining: queueRemaining() } } });
  };
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('clientId') || randomUUID().replace(/-/g, '');
    // server.py: "Reusing existing session, remove old" — the old socket is dropped from the map, not closed.
    sockets.set(sid, ws);
    socketConnections.push(sid);
    // The finally block of server.py's websocket_handler: the id goes, whichever socket has it now.
    const forget = (): void => {
      sockets.delete(sid);
      metadataClients.delete(sid);
      frozen.delete(ws);
    };
    ws.on('close', forget);
    // Read again: the closes of the sockets the client gave up come in now, after this one took the id.
    for (const old of stale) {
      stale.delete(old);
      old.resume();
    }
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      let message: { type?: unknown; data?: { supports_preview_metadata?: unknown } };
      try {
        message = JSON.parse(data.toString('utf8')) as typeof message;
      } catch {
        return;
      }
      clientMessages.push(message);
      if (message.type === 'feature_flags') {
        if (message.data?.supports_preview_metadata === true) metadataClients.add(sid);
        sendJson(ws, 'feature_flags', features);
      }
    });
    sendJson(ws, 'status', { status: { exec_info: { queue_remaining: queueRemaining() } }, sid });
    // server.py: on reconnect, the executing client hears its current node (without prompt_id).
    if (running?.clientId === sid && lastNode !== undefined) sendJson(ws, 'executing', { node: lastNode });
  });

  // ---- execution ---------------------------------------------------------------------------------
  const outputPathFor = (
    prefix: string,
    type: 'output' | 'temp',
  ): { folder: string; subfolder: string; name: string } => {
    const base = dirs[type];
    const folder = resolve(base, dirname(prefix));
    if (folder !== base && !folder.startsWith(base + sep))
      throw new Error('**** ERROR: Saving image outside the output folder is not allowed.');
    const subfolder = folder === base ? '' : folder.slice(base.length + 1);
    return { folder, subfolder, name: prefix.split('/').at(-1)! };
  };
  const saveImages = (
    prefix: string,
    images: { width: number; height: number; frames: Uint8Array[] },
    type: 'output' | 'temp',
  ): SavedImage[] => {
    const { folder, subfolder, name } = outputPathFor(prefix, type);
    // ComfyUI continues the highest counter of the prefix in that folder.
    const key = `${folder}|${name}`;
    let counter = counters.get(key) ?? 1;
    const saved: SavedImage[] = [];
    for (const frame of images.frames) {
      let png = encoded.get(frame);
      if (!png) {
        png = encodePng({ width: images.width, height: images.height, data: frame }, { level: 4 });
        encoded.set(frame, png);
      }
      const filename = `${name}_${String(counter).padStart(5, '0')}_.png`;
      // Outputs live in memory: a real server's disk is on its own machine, not the client's.
      outputFiles.set(join(folder, filename), png);
      saved.push({ filename, subfolder, type });
      counter++;
    }
    counters.set(key, counter);
    return saved;
  };
  const framesFor = (spec: FrameSpec): Uint8Array[] => {
    if (options.frames !== 'noise') return drawFrames(spec);
    const key = `${spec.width}x${spec.height}`;
    let frames = noiseFrames.get(key);
    if (!frames) {
      frames = drawFrames({ ...spec, frames: 32, init: undefined });
      let s = 12345;
      for (const frame of frames) {
        for (let i = 0; i < frame.length; i++) {
          s = (s * 1103515245 + 12345) & 0x7fffffff;
          // ±12 of noise: PNGs of about the size SD 1.5 frames have (≈ 450 kB at 512×512).
          frame[i] = Math.max(0, Math.min(255, frame[i]! + ((s >> 16) % 25) - 12));
        }
      }
      noiseFrames.set(key, frames);
    }
    return Array.from({ length: spec.frames }, (_, i) => frames[i % frames.length]!);
  };

  const historyEntry = (
    item: PromptRecord,
    outputs: Record<string, unknown>,
    status: string,
    messages: Array<[string, unknown]>,
  ): unknown => ({
    prompt: [item.number, item.id, item.graph, { client_id: item.clientId, create_time: Date.now() }, item.outputs],
    outputs,
    status: {
      status_str: status,
      completed: status === 'success',
      messages: messages.map(([type, data]) => [type, unstamped(data)]),
    },
    meta: Object.fromEntries(
      Object.keys(outputs).map((id) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }]),
    ),
  });

  const execute = async (item: PromptRecord): Promise<void> => {
    item.startedAt = performance.now();
    const duration = faults.nextSegmentMs ?? segmentMs;
    faults.nextSegmentMs = undefined;
    interruptFlag = false;
    broadcastStatus();
    const startMessage = { prompt_id: item.id, timestamp: clock() };
    item.startStamp = startMessage.timestamp;
    const cachedMessage = { nodes: [], prompt_id: item.id, timestamp: clock() };
    send(item.clientId, 'execution_start', startMessage);
    send(item.clientId, 'execution_cached', cachedMessage);
    const executed: string[] = [];
    let lastStepAt: number | undefined;
    const hooks = {
      executing: (nodeId: string) => {
        if (dead) throw new Died();
        lastNode = nodeId;
        send(item.clientId, 'executing', { node: nodeId, display_node: nodeId, prompt_id: item.id });
        executed.push(nodeId);
      },
      executed: (nodeId: string, ui: Record<string, unknown>) => {
        if (faults.rewriteImages && Array.isArray(ui['images']))
          ui['images'] = faults.rewriteImages(ui['images'] as SavedImage[]);
        send(item.clientId, 'executed', { node: nodeId, display_node: nodeId, output: ui, prompt_id: item.id });
      },
      step: async (nodeId: string, value: number, max: number, workFrames: number) => {
        faults.onStep?.(item, value);
        if (faults.staleSocketsAtStep === value) {
          faults.staleSocketsAtStep = undefined;
          for (const ws of sockets.values()) {
            stale.add(ws);
            frozen.add(ws);
            ws.pause();
          }
        }
        if (faults.dieAtStep === value) {
          faults.dieAtStep = undefined;
          await kill();
        }
        if (faults.dropSocketsAtStep === value) {
          faults.dropSocketsAtStep = undefined;
          for (const ws of sockets.values()) ws.terminate();
        }
        if (faults.freezeSocketsAtStep === value) {
          faults.freezeSocketsAtStep = undefined;
          for (const ws of sockets.values()) {
            frozen.add(ws);
            ws.pause();
          }
        }
        if (faults.foreignInterruptAtStep === value) {
          faults.foreignInterruptAtStep = undefined;
          interruptFlag = true;
        }
        if (faults.errorAtStep?.step === value) {
          const { type, message, times = 1 } = faults.errorAtStep;
          faults.errorAtStep = times > 1 ? { ...faults.errorAtStep, times: times - 1 } : undefined;
          throw new NodeFailure(nodeId, item.graph[nodeId]!.class_type, type, message);
        }
        const due =
          options.frameStepMs === undefined
            ? item.startedAt! + (duration * value) / max
            : (lastStepAt ?? item.startedAt!) + options.frameStepMs * workFrames;
        lastStepAt = due;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (dead) throw new Died();
        if (interruptFlag) throw new Interrupted(nodeId);
        const ws = item.clientId === undefined ? undefined : sockets.get(item.clientId);
        if (ws && ws.readyState === ws.OPEN && !frozen.has(ws)) {
          // A tiny stand-in for the JPEG preview the real server sends each step.
          const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);
          if (metadataClients.has(item.clientId!)) {
            const meta = Buffer.from(
              JSON.stringify({
                node_id: nodeId,
                prompt_id: item.id,
                display_node_id: nodeId,
                parent_node_id: null,
                real_node_id: nodeId,
                image_type: 'image/jpeg',
              }),
            );
            const head = Buffer.alloc(8);
            head.writeUInt32BE(4, 0);
            head.writeUInt32BE(meta.length, 4);
            ws.send(Buffer.concat([head, meta, jpeg]), { binary: true });
          } else {
            const head = Buffer.alloc(8);
            head.writeUInt32BE(1, 0);
            head.writeUInt32BE(1, 4);
            ws.send(Buffer.concat([head, jpeg]), { binary: true });
          }
        }
        send(item.clientId, 'progress', { value, max, prompt_id: item.id, node: nodeId });
      },
      readInput: (name: string) => {
        const path = resolve(dirs.input, name);
        return path.startsWith(dirs.input + sep) && existsSync(path) ? readFileSync(path) : undefined;
      },
      saveImages,
      saveLatent: (prefix: string, bytes: Buffer): SavedImage => {
        const { folder, subfolder, name } = outputPathFor(prefix, 'output');
        const key = `${folder}|${name}`;
        const counter = counters.get(key) ?? 1;
        counters.set(key, counter + 1);
        const filename = `${name}_${String(counter).padStart(5, '0')}_.latent`;
        outputFiles.set(join(folder, filename), bytes);
        return { filename, subfolder, type: 'output' };
      },
      drawFrames: framesFor,
    };
    const finish = async (
      status: PromptRecord['status'],
      outputs: Record<string, unknown>,
      last: [string, unknown],
    ): Promise<void> => {
      const write = (): void => {
        history.set(
          item.id,
          historyEntry(item, outputs, status === 'success' ? 'success' : 'error', [
            ['execution_start', startMessage],
            ['execution_cached', cachedMessage],
            last,
          ]),
        );
        item.status = status;
        item.finishedAt = performance.now();
        running = undefined;
        lastNode = undefined;
        broadcastStatus();
      };
      if (faults.lateHistoryMs !== undefined && status === 'success') {
        // Worse than the real race: the client hears "done" before the history exists.
        const late = faults.lateHistoryMs;
        faults.lateHistoryMs = undefined;
        running = undefined;
        send(item.clientId, 'executing', { node: null, prompt_id: item.id });
        await sleep(late);
        if (!dead) write();
        return;
      }
      write();
      send(item.clientId, 'executing', { node: null, prompt_id: item.id });
    };
    try {
      const { ui } = await executeGraph(item.graph, item.outputs, hooks);
      const success = { prompt_id: item.id, timestamp: clock() };
      item.successStamp = success.timestamp;
      send(item.clientId, 'execution_success', success);
      // main.py writes the history (task_done) only after execute() has sent execution_success.
      await sleep(historyDelayMs);
      const hold = faults.holdHistory;
      faults.holdHistory = undefined;
      await hold;
      if (dead) throw new Died();
      await finish('success', ui, ['execution_success', success]);
    } catch (error) {
      if (error instanceof Died || dead) {
        item.status = 'lost';
        return;
      }
      if (error instanceof Interrupted) {
        const data = {
          prompt_id: item.id,
          node_id: error.nodeId,
          node_type: item.graph[error.nodeId]?.class_type,
          executed: executed.slice(0, -1),
          timestamp: clock(),
        };
        send(item.clientId, 'execution_interrupted', data);
        await finish('interrupted', {}, ['execution_interrupted', data]);
        return;
      }
      const failure =
        error instanceof NodeFailure ? error : new NodeFailure(lastNode ?? '?', '?', 'Exception', String(error));
      const data = {
        prompt_id: item.id,
        node_id: failure.nodeId,
        node_type: failure.nodeType,
        executed: executed.slice(0, -1),
        exception_message: failure.message,
        exception_type: failure.exceptionType,
        traceback: ['  File "/srv/comfyui/execution.py", line 518, in execute\n'],
        current_inputs: {},
        current_outputs: item.outputs,
        timestamp: clock(),
      };
      send(item.clientId, 'execution_error', data);
      await finish('error', {}, ['execution_error', data]);
    }
  };

  const work = (): void => {
    if (working || dead) return;
    working = (async () => {
      while (pending.length > 0 && !dead) {
        const hold = faults.holdStart;
        faults.holdStart = undefined;
        // Held, the prompt waits in queue_pending, as behind someone else's.
        if (hold) await hold;
        if (pending.length === 0 || dead) break;
        pending.sort((a, b) => a.number - b.number);
        const item = pending.shift()!;
        running = item;
        item.status = 'running';
        await execute(item);
      }
      working = undefined;
    })();
  };

  // ---- HTTP --------------------------------------------------------------------------------------
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  };
  const text = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  };
  const objectInfoNow = (): ObjectInfoJson => {
    const files = readdirSync(dirs.input).sort();
    patchCombo(objectInfo, 'LoadImage', 'image', files);
    patchCombo(
      objectInfo,
      'LoadLatent',
      'latent',
      files.filter((f) => f.endsWith('.latent')),
    );
    return objectInfo;
  };
  const queueItem = (item: PromptRecord): unknown[] => [
    item.number,
    item.id,
    item.graph,
    { client_id: item.clientId, create_time: Date.now() },
    item.outputs,
  ];

  const postPrompt = (res: ServerResponse, body: Buffer): void => {
    let data: { prompt?: unknown; client_id?: unknown; prompt_id?: unknown; number?: unknown; front?: unknown };
    try {
      data = JSON.parse(body.toString('utf8')) as typeof data;
    } catch {
      return text(res, 500, INTERNAL_ERROR);
    }
    if (typeof data !== 'object' || data === null) return text(res, 500, INTERNAL_ERROR);
    const n = typeof data.number === 'number' ? data.number : data.front === true ? -number : number;
    if (typeof data.number !== 'number') number++;
    if (!('prompt' in data))
      return json(res, 400, {
        error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} },
        node_errors: {},
      });
    if (typeof data.prompt !== 'object' || data.prompt === null || Array.isArray(data.prompt))
      return text(res, 500, INTERNAL_ERROR);
    const graph = data.prompt as PromptRecord['graph'];
    const outcome = validatePrompt(graph, objectInfoNow(), {
      inputFileExists: (name) => existsSync(resolve(dirs.input, name)),
    });
    if (!outcome.ok) return json(res, 400, { error: outcome.error, node_errors: outcome.nodeErrors });
    let nodeErrors: Record<string, unknown> = outcome.nodeErrors;
    if (faults.acceptWithNodeErrors) {
      faults.acceptWithNodeErrors = false;
      nodeErrors = {
        '99': {
          errors: [
            {
              type: 'required_input_missing',
              message: 'Required input is missing',
              details: 'images',
              extra_info: { input_name: 'images' },
            },
          ],
          dependent_outputs: ['99'],
          class_type: 'PreviewImage',
        },
      };
    }
    const item: PromptRecord = {
      // server.py: str(json_data.get("prompt_id", uuid.uuid4())).
      id:
        typeof data.prompt_id === 'string' || typeof data.prompt_id === 'number'
          ? String(data.prompt_id)
          : randomUUID(),
      number: n,
      clientId: typeof data.client_id === 'string' ? data.client_id : undefined,
      graph,
      outputs: outcome.outputs,
      status: 'pending',
    };
    prompts.push(item);
    pending.push(item);
    broadcastStatus();
    work();
    const reply = (): void => json(res, 200, { prompt_id: item.id, number: n, node_errors: nodeErrors });
    if (faults.acceptWithoutReply > 0) {
      faults.acceptWithoutReply--;
      hanging.add(res);
      return;
    }
    if (faults.replyAfterRun) {
      faults.replyAfterRun = false;
      void (async () => {
        while (item.finishedAt === undefined && !dead) await sleep(5);
        reply();
      })();
    } else reply();
  };

  const view = (res: ServerResponse, query: URLSearchParams): void => {
    const filename = query.get('filename');
    if (filename === null) return text(res, 404, '');
    if (filename.startsWith('/') || filename.includes('..')) return text(res, 400, '');
    const type = query.get('type') ?? 'output';
    const base = type === 'input' || type === 'temp' || type === 'output' ? dirs[type] : undefined;
    if (!base) return text(res, 400, '');
    const folder = resolve(base, query.get('subfolder') ?? '');
    if (folder !== base && !folder.startsWith(base + sep)) return text(res, 403, '');
    const file = join(folder, filename.split('/').at(-1)!);
    let bytes = outputFiles.get(file) ?? (existsSync(file) ? readFileSync(file) : undefined);
    if (!bytes) return text(res, 404, '');
    if (faults.corruptViews > 0) {
      faults.corruptViews--;
      bytes = bytes.subarray(0, Math.floor(bytes.length / 2));
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-disposition': `filename="${filename}"` }).end(bytes);
  };

  const upload = async (res: ServerResponse, req: IncomingMessage, body: Buffer): Promise<void> => {
    let form: FormData;
    try {
      form = await new Request('http://fake/upload', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body,
      }).formData();
    } catch {
      return text(res, 400, '');
    }
    const image = form.get('image');
    if (!(image instanceof File) || image.name === '') return text(res, 400, '');
    const subfolder = String(form.get('subfolder') ?? '');
    const folder = resolve(dirs.input, subfolder);
    if (folder !== dirs.input && !folder.startsWith(dirs.input + sep)) return text(res, 400, '');
    mkdirSync(folder, { recursive: true });
    const bytes = Buffer.from(await image.arrayBuffer());
    let name = image.name;
    const overwrite = form.get('overwrite') === 'true' || form.get('overwrite') === '1';
    if (!overwrite) {
      const dot = name.lastIndexOf('.');
      for (let i = 1; existsSync(join(folder, name)) && !readFileSync(join(folder, name)).equals(bytes); i++) {
        name = dot > 0 ? `${image.name.slice(0, dot)} (${i})${image.name.slice(dot)}` : `${image.name} (${i})`;
      }
    }
    writeFileSync(join(folder, name), bytes);
    uploads.push(subfolder ? `${subfolder}/${name}` : name);
    json(res, 200, { name, subfolder, type: 'input' });
  };

  /** Writes `chunks` with backpressure until they end, the client hangs up or the server dies. */
  const stream = async (res: ServerResponse, chunks: Iterator<Buffer>, pauseMs: number): Promise<void> => {
    hanging.add(res);
    try {
      for (let next = chunks.next(); !next.done && !res.destroyed && !dead; next = chunks.next()) {
        if (!res.write(next.value))
          await new Promise<void>((resume) => {
            const go = (): void => {
              res.off('drain', go);
              res.off('close', go);
              resume();
            };
            res.on('drain', go);
            res.on('close', go);
          });
        if (pauseMs > 0) await sleep(pauseMs);
      }
      if (!res.destroyed) res.end();
    } finally {
      hanging.delete(res);
    }
  };
  const sendHostile = async (
    res: ServerResponse,
    kind: FakeComfyFaults['hostile'][number]['body'],
    bytes: number,
  ): Promise<void> => {
    const zeros = Buffer.alloc(64 * 1024);
    switch (kind) {
      case 'endless':
        res.writeHead(200, { 'content-type': 'image/png' });
        return stream(
          res,
          (function* () {
            for (;;) yield zeros;
          })(),
          0,
        );
      case 'drip':
        res.writeHead(200, { 'content-type': 'application/json' });
        return stream(
          res,
          (function* () {
            for (;;) yield Buffer.from(' ');
          })(),
          100,
        );
      case 'lying':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 ** 3) });
        res.write('{}');
        hanging.add(res);
        return;
      case 'huge': {
        const piece = Buffer.from('0,'.repeat(32 * 1024));
        res.writeHead(200, { 'content-type': 'application/json' });
        return stream(
          res,
          (function* () {
            yield Buffer.from('[');
            for (let sent = 0; sent < bytes; sent += piece.length) yield piece;
            yield Buffer.from('0]');
          })(),
          0,
        );
      }
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
    const method = req.method ?? 'GET';
    requests.push({ method, path: `${path}${url.search}` });
    const body = await readBody(req);
    if (takeFault(faults.hangHttp, method, path)) {
      hanging.add(res);
      return;
    }
    const hostile = takeFault(faults.hostile, method, path);
    if (hostile) return sendHostile(res, hostile.body, hostile.bytes ?? 1 << 30);
    const delay = takeFault(faults.delayHttp, method, path);
    if (delay) await sleep(delay.delayMs);
    const failure = takeFault(faults.failHttp, method, path);
    if (failure) return text(res, failure.status ?? 500, INTERNAL_ERROR);
    const replacement = takeFault(faults.replyWith, method, path);
    if (replacement) return text(res, replacement.status, replacement.body);
    if (method === 'GET') {
      if (path === '/system_stats') return json(res, 200, systemStats);
      if (path === '/features') return json(res, 200, features);
      if (path === '/prompt') return json(res, 200, { exec_info: { queue_remaining: queueRemaining() } });
      if (path === '/queue')
        return json(res, 200, {
          queue_running: running ? [queueItem(running)] : [],
          queue_pending: pending.map(queueItem),
        });
      if (path === '/object_info') return json(res, 200, objectInfoNow());
      if (path.startsWith('/object_info/')) {
        const name = decodeURIComponent(path.slice('/object_info/'.length));
        const info = objectInfoNow()[name];
        return json(res, 200, info ? { [name]: info } : {});
      }
      if (path === '/history') return json(res, 200, Object.fromEntries(history));
      if (path.startsWith('/history/')) {
        const id = decodeURIComponent(path.slice('/history/'.length));
        return json(res, 200, history.has(id) ? { [id]: history.get(id) } : {});
      }
      if (path === '/view') return view(res, url.searchParams);
      if (path === '/embeddings' || path === '/extensions') return json(res, 200, []);
      // Not ComfyUI: how long each prompt ran, for benchmarks that run this server in another process.
      if (path === '/fake/prompts')
        return json(
          res,
          200,
          prompts.map((p) => ({
            id: p.id,
            status: p.status,
            busyMs: p.finishedAt !== undefined ? p.finishedAt - p.startedAt! : null,
          })),
        );
      return text(res, 404, '');
    }
    if (path === '/prompt') return postPrompt(res, body);
    if (path === '/upload/image') return upload(res, req, body);
    let data: Record<string, unknown> = {};
    try {
      data = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      if (path !== '/interrupt') return text(res, 500, INTERNAL_ERROR);
    }
    if (path === '/interrupt') {
      const target = typeof data['prompt_id'] === 'string' ? data['prompt_id'] : null;
      interrupts.push(target);
      if (running && (target === null || target === running.id)) interruptFlag = true;
      return text(res, 200, '');
    }
    if (path === '/queue') {
      if (data['clear'] === true) pending = [];
      for (const id of Array.isArray(data['delete']) ? data['delete'] : []) {
        queueDeletes.push(String(id));
        const item = pending.find((p) => p.id === id);
        if (item) item.status = 'deleted';
        pending = pending.filter((p) => p.id !== id);
      }
      broadcastStatus();
      return text(res, 200, '');
    }
    if (path === '/history') {
      if (data['clear'] === true) history.clear();
      for (const id of Array.isArray(data['delete']) ? data['delete'] : []) history.delete(String(id));
      return text(res, 200, '');
    }
    if (path === '/free') {
      frees.push(data);
      return text(res, 200, '');
    }
    return text(res, 404, '');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) text(res, 500, `${INTERNAL_ERROR}\n${String(error)}`);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (faults.refuseSockets || dead || !(req.url ?? '').replace(/^\/api/, '').startsWith('/ws')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise<void>((resolveListen) => server.listen(options.port ?? 0, '127.0.0.1', resolveListen));
  const port = (server.address() as { port: number }).port;

  const kill = async (): Promise<void> => {
    if (dead) return;
    dead = true;
    if (running) running.status = 'lost';
    server.close();
    for (const ws of wss.clients) ws.terminate();
    for (const res of hanging) res.destroy();
    for (const socket of connections) socket.destroy();
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    faults,
    prompts,
    requests,
    uploads,
    interrupts,
    queueDeletes,
    frees,
    clientMessages,
    socketConnections,
    connectedClients: () => [...sockets.keys()],
    kill,
    async close() {
      await kill();
      await working?.catch(() => undefined);
      wss.close();
      rmSync(root, { recursive: true, force: true });
    },
    async idle() {
      while (pending.length > 0 || running || working) await sleep(5);
    },
    setSegmentMs(ms: number) {
      segmentMs = ms;
    },
  };
}

/**
 * A host:port that accepts connections and never answers (a wrong port, a hung proxy): every
 * request and WebSocket upgrade waits forever. `connections` counts what was accepted.
 */
export async function startSilentServer(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const { createServer: createTcpServer } = await import('node:net');
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
