/**
 * The transport to one ComfyUI server: HTTP requests with timeouts and retries, the WebSocket,
 * and `runPrompt`, which queues a graph and follows it to its outputs the way ComfyUI's own
 * protocol demands (server.py, execution.py, main.py's prompt_worker):
 *
 * - we choose each prompt's prompt_id (a UUID, server.py takes "prompt_id" in the POST body), so
 *   a POST whose reply never comes can still be taken back by that id (a targeted /interrupt if
 *   it runs, a /queue delete otherwise) before the segment moves to another server;
 * - we have our own client_id; every event is matched to our prompt by prompt_id, and events
 *   that arrive before POST /prompt has answered are kept until it has;
 * - a 200 with non-empty node_errors means some outputs were dropped: a failure;
 * - `execution_success` (or `executing` with node null) comes before the history is written,
 *   so /history is read until the prompt is in it;
 * - when the socket drops, we reconnect under a new client_id (server.py's websocket_handler
 *   forgets an id when any socket that had it closes, even one a reconnect has replaced: reusing
 *   it can silently lose every later event) and follow the prompts queued under the old id by
 *   polling /history (and /queue, to notice a prompt that vanished with a restarted server);
 * - a prompt's time is the server's own: execution_success's timestamp minus execution_start's,
 *   so the time it waited in the queue (behind our other segment) is not in it;
 * - cancelling interrupts our prompt if it runs (a targeted /interrupt) or deletes it from the
 *   queue if it waits; other users' prompts are never touched.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { AbortedError, BeatloomError, isAbortError, throwIfAborted } from '../../shared/errors.js';
import {
  executionErrorSchema,
  executionInterruptedSchema,
  historySchema,
  objectInfoSchema,
  promptAcceptedSchema,
  promptRejectedSchema,
  queueSchema,
  serverExecutionMs,
  systemStatsSchema,
  uploadReplySchema,
  type ApiGraph,
  type FileRef,
  type HistoryEntry,
  type NodeOutput,
  type ObjectInfo,
  type QueueState,
  type SystemStats,
  type UploadReply,
  type WsMessage,
} from './comfy-schemas.js';
import {
  ComfyServerFailure,
  describeNetworkError,
  executionError,
  interruptedError,
  promptRejectedError,
} from './comfy-errors.js';
import { DEFAULT_TUNING, type ComfyTuning } from './settings.js';
import {
  BodyTooLargeError,
  formatBytes,
  MAX_JSON_BYTES,
  MAX_OBJECT_INFO_BYTES,
  maxPngBytes,
  readBoundedBody,
} from './bounded-body.js';
import { ComfySocket } from './socket.js';

export interface PromptProgress {
  readonly value: number;
  readonly max: number;
  readonly node: string | undefined;
}

export interface RunPromptOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PromptProgress) => void;
}

export interface PromptResult {
  readonly promptId: string;
  /** Node id → what it output (SaveImage: `{ images: [...] }`). */
  readonly outputs: Readonly<Record<string, NodeOutput>>;
  /** How long the server executed it, by its own clock (execution_start → execution_success); undefined if it did not say. */
  readonly executionMs: number | undefined;
  /** performance.now() when we learned that the server started it (execution_start, or a poll that saw it running). */
  readonly startedAt: number | undefined;
}

interface HttpReply {
  readonly status: number;
  readonly body: Buffer;
}

interface RequestOptions {
  readonly body?: string | FormData;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly retries?: number;
  /** The largest body to accept (default: MAX_JSON_BYTES). */
  readonly maxBytes?: number;
  /** What the body is, for the message when it is too large ("a 512x512 PNG"). */
  readonly expected?: string;
}

/** What one queued prompt has told us so far. */
interface Watch {
  readonly promptId: string;
  /** The client_id it was queued under: its events go to that id's socket only. */
  readonly clientId: string;
  readonly onProgress: ((progress: PromptProgress) => void) | undefined;
  readonly executedOutputs: Record<string, NodeOutput>;
  /** When the server said it started running the prompt (execution_start). */
  startedAt: number | undefined;
  /** The server's timestamps (ms) in execution_start and execution_success. */
  startStamp: number | undefined;
  successStamp: number | undefined;
  finished: boolean;
  failure: Error | undefined;
  cancelling: boolean;
  /** Set after a reconnect: the events in between are lost, so read /history now. */
  resync: boolean;
  wake: () => void;
}

const MAX_EARLY_PROMPTS = 32;
/** Events kept per unknown prompt: a server repeating one forever must not grow memory. */
const MAX_EARLY_EVENTS = 256;
const CANCEL_TIMEOUT_MS = 5_000;
/**
 * How long a failed or stopped render waits for its cancel requests (so a live server's GPU is
 * freed) before it gives up on them: a hung server must not delay the error line (issue 11).
 */
const CANCEL_BUDGET_MS = 2_000;

export function newClientId(): string {
  return `beatloom-${randomBytes(6).toString('hex')}`;
}

export class ComfyClient {
  readonly baseUrl: string;
  readonly tuning: ComfyTuning;
  /** The client_id of the socket now; a new one after every drop (see the top of this file). */
  private currentClientId: string;
  private readonly socket: ComfySocket;
  private readonly watches = new Map<string, Watch>();
  /** Events for prompt ids we do not know yet (they can outrun the POST /prompt reply). */
  private readonly early = new Map<string, WsMessage[]>();
  /** The prompt the server last said it runs: progress from old servers carries no prompt_id. */
  private runningPromptId: string | undefined;
  /** Aborted by close(): every request still in flight (a retry, a poll, a download) stops. */
  private readonly lifetime = new AbortController();

  constructor(baseUrl: string, options: { clientId?: string; tuning?: Partial<ComfyTuning> } = {}) {
    this.baseUrl = baseUrl;
    this.currentClientId = options.clientId ?? newClientId();
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.socket = new ComfySocket({
      url: () => {
        const wsUrl = new URL(`${baseUrl}/ws`);
        wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
        wsUrl.searchParams.set('clientId', this.currentClientId);
        return wsUrl.toString();
      },
      heartbeatMs: this.tuning.heartbeatMs,
      connectTimeoutMs: this.tuning.connectTimeoutMs,
      onMessage: (message) => this.onMessage(message),
      onConnectionChange: (connected) => {
        // The old socket's close, whenever the server gets to it, removes its id: come back as someone new.
        if (!connected) this.currentClientId = newClientId();
        for (const watch of this.watches.values()) {
          // Back: events in between are lost, read /history now. Gone: start polling now.
          if (connected) watch.resync = true;
          watch.wake();
        }
      },
    });
  }

  /** The client_id prompts are queued under now. */
  get clientId(): string {
    return this.currentClientId;
  }

  get socketConnected(): boolean {
    return this.socket.connected;
  }

  /** Closes the socket and cuts every request still in flight, so nothing keeps the process waiting. */
  close(): void {
    this.socket.close();
    this.lifetime.abort();
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async request(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<HttpReply> {
    const attempts = 1 + (options.retries ?? 0);
    const timeoutMs = options.timeoutMs ?? this.tuning.requestTimeoutMs;
    let failure: ComfyServerFailure | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0)
        await sleep(this.tuning.retryDelayMs * 2 ** (attempt - 1), undefined, { signal: options.signal }).catch(
          () => undefined,
        );
      throwIfAborted(options.signal);
      if (this.lifetime.signal.aborted) throw this.closedFailure();
      // The limit covers the whole exchange, body included: a server that drips its reply is as stuck as a silent one.
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([timeout, this.lifetime.signal, ...(options.signal ? [options.signal] : [])]);
      let answered = false;
      try {
        const headers = typeof options.body === 'string' ? { 'content-type': 'application/json' } : undefined;
        const response = await fetch(`${this.baseUrl}${path}`, { method, body: options.body, headers, signal });
        answered = true;
        const body = await readBoundedBody(response, options.maxBytes ?? MAX_JSON_BYTES);
        if (response.status < 500) return { status: response.status, body };
        failure = new ComfyServerFailure(
          this.baseUrl,
          `ComfyUI at ${this.baseUrl} failed: ${method} ${path.split('?')[0]} answered HTTP ${response.status} ${firstLine(body)}`,
        );
      } catch (error) {
        if (options.signal?.aborted) throw new AbortedError();
        if (this.lifetime.signal.aborted) throw this.closedFailure();
        if (error instanceof BodyTooLargeError) throw this.tooLarge(method, path, error, options.expected);
        // A server that let the whole limit pass without answering will not answer a second try sooner.
        if (timeout.aborted)
          throw new ComfyServerFailure(
            this.baseUrl,
            `ComfyUI at ${this.baseUrl} did not ${answered ? 'finish its reply to' : 'answer'} ${method} ${path.split('?')[0]} within ${timeoutMs} ms`,
            error,
          );
        failure = new ComfyServerFailure(
          this.baseUrl,
          `cannot reach ComfyUI at ${this.baseUrl}: ${describeNetworkError(error)}`,
          error,
        );
      }
    }
    throw failure!;
  }

  /** A request cut by close(): the server was given up (taken out of the render, or the render ended). */
  private closedFailure(): ComfyServerFailure {
    return new ComfyServerFailure(
      this.baseUrl,
      `ComfyUI at ${this.baseUrl} was given up while a request was in flight`,
    );
  }

  private tooLarge(method: string, path: string, error: BodyTooLargeError, expected: string | undefined): Error {
    const size = error.declared
      ? `announced ${formatBytes(error.seenBytes)}`
      : `sent more than ${formatBytes(error.limitBytes)}`;
    return new ComfyServerFailure(
      this.baseUrl,
      `ComfyUI at ${this.baseUrl} ${size} for ${method} ${path.split('?')[0]}, more than ${expected ?? 'such a reply'} can take (${formatBytes(error.limitBytes)}); beatloom stopped reading it`,
    );
  }

  private parseJson<T>(reply: HttpReply, schema: z.ZodType<T>, what: string): T {
    let json: unknown;
    try {
      json = JSON.parse(reply.body.toString('utf8'));
    } catch {
      throw new ComfyServerFailure(
        this.baseUrl,
        `ComfyUI at ${this.baseUrl} sent a reply to ${what} that is not JSON: ${firstLine(reply.body)}`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ComfyServerFailure(
        this.baseUrl,
        `ComfyUI at ${this.baseUrl} sent an unexpected reply to ${what}: ${issue.path.join('.') || '(body)'}: ${issue.message}`,
      );
    }
    return parsed.data;
  }

  private async getJson<T>(path: string, schema: z.ZodType<T>, options: RequestOptions = {}): Promise<T> {
    const reply = await this.request('GET', path, { retries: this.tuning.retries, ...options });
    if (reply.status !== 200) throw this.unexpectedStatus('GET', path, reply);
    return this.parseJson(reply, schema, `GET ${path.split('?')[0]}`);
  }

  private unexpectedStatus(method: string, path: string, reply: HttpReply): BeatloomError {
    return new BeatloomError(
      'E_COMFY_PROTOCOL',
      `${this.baseUrl} answered ${method} ${path.split('?')[0]} with HTTP ${reply.status} ${firstLine(reply.body)}`,
      {
        hint: 'is this the address of a ComfyUI server? (beatloom engines check --comfy-url …)',
      },
    );
  }

  objectInfo(options: RequestOptions = {}): Promise<ObjectInfo> {
    // The whole node catalogue is about a megabyte with custom nodes: allow it more time.
    return this.getJson('/object_info', objectInfoSchema, {
      timeoutMs: this.tuning.requestTimeoutMs * 2,
      maxBytes: MAX_OBJECT_INFO_BYTES,
      expected: 'a node catalogue',
      ...options,
    });
  }

  systemStats(options: RequestOptions = {}): Promise<SystemStats> {
    return this.getJson('/system_stats', systemStatsSchema, options);
  }

  queue(options: RequestOptions = {}): Promise<QueueState> {
    return this.getJson('/queue', queueSchema, options);
  }

  async history(promptId: string, options: RequestOptions = {}): Promise<HistoryEntry | undefined> {
    const history = await this.getJson(`/history/${encodeURIComponent(promptId)}`, historySchema, options);
    return history[promptId];
  }

  /** One output image; `size` (the frame the render expects) caps how much of it is read. */
  async view(
    ref: FileRef,
    options: RequestOptions & { readonly size?: { readonly width: number; readonly height: number } } = {},
  ): Promise<Buffer> {
    const query = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    const path = `/view?${query.toString()}`;
    const { size, ...rest } = options;
    const limits = size
      ? { maxBytes: maxPngBytes(size.width, size.height), expected: `a ${size.width}x${size.height} PNG` }
      : { maxBytes: MAX_JSON_BYTES, expected: 'an image' };
    const reply = await this.request('GET', path, { retries: this.tuning.retries, ...limits, ...rest });
    if (reply.status !== 200)
      throw this.unexpectedStatus('GET', `/view ${ref.subfolder ? `${ref.subfolder}/` : ''}${ref.filename}`, reply);
    return reply.body;
  }

  /** Uploads into the server's input folder; overwriting makes a retry (or a re-run) harmless. */
  async uploadImage(bytes: Uint8Array, name: string, options: RequestOptions = {}): Promise<UploadReply> {
    const makeForm = (): FormData => {
      const form = new FormData();
      form.append('image', new Blob([bytes], { type: 'image/png' }), name);
      form.append('type', 'input');
      form.append('overwrite', 'true');
      return form;
    };
    const reply = await this.request('POST', '/upload/image', {
      body: makeForm(),
      retries: this.tuning.retries,
      ...options,
    });
    if (reply.status !== 200) throw this.unexpectedStatus('POST', '/upload/image', reply);
    return this.parseJson(reply, uploadReplySchema, 'POST /upload/image');
  }

  /**
   * Queues a graph under `promptId` (ours: if the reply never comes, the prompt can still be
   * cancelled by it); resolves to the id the server queued it under (a server older than
   * client-chosen ids makes its own). Never retried: a second POST would queue it twice.
   */
  async submit(graph: ApiGraph, promptId: string = randomUUID(), clientId: string = this.clientId): Promise<string> {
    const reply = await this.request('POST', '/prompt', {
      body: JSON.stringify({ prompt: graph, client_id: clientId, prompt_id: promptId }),
    });
    if (reply.status === 400)
      throw promptRejectedError(this.baseUrl, this.parseJson(reply, promptRejectedSchema, 'POST /prompt'));
    if (reply.status !== 200) throw this.unexpectedStatus('POST', '/prompt', reply);
    const accepted = this.parseJson(reply, promptAcceptedSchema, 'POST /prompt');
    const nodeErrors = accepted.node_errors ?? {};
    if (Object.keys(nodeErrors).length > 0) {
      // Queued, but with some outputs dropped: take it back and report what was wrong.
      await this.deleteQueued([accepted.prompt_id]).catch(() => undefined);
      await this.interrupt(accepted.prompt_id).catch(() => undefined);
      throw promptRejectedError(this.baseUrl, { error: 'Some outputs failed validation', node_errors: nodeErrors });
    }
    return accepted.prompt_id;
  }

  /** Targeted: ComfyUI only interrupts when this prompt is the one running. */
  async interrupt(promptId: string): Promise<void> {
    await this.request('POST', '/interrupt', {
      body: JSON.stringify({ prompt_id: promptId }),
      timeoutMs: CANCEL_TIMEOUT_MS,
      retries: 1,
    });
  }

  /**
   * Asks the server to unload its models and drop its caches (server.py POST /free; main.py's
   * prompt_worker does it once the queue is idle or after the prompt running now).
   */
  async freeMemory(): Promise<void> {
    const reply = await this.request('POST', '/free', {
      body: JSON.stringify({ unload_models: true, free_memory: true }),
      timeoutMs: CANCEL_TIMEOUT_MS,
      retries: 1,
    });
    if (reply.status !== 200) throw this.unexpectedStatus('POST', '/free', reply);
  }

  async deleteQueued(promptIds: readonly string[]): Promise<void> {
    await this.request('POST', '/queue', {
      body: JSON.stringify({ delete: promptIds }),
      timeoutMs: CANCEL_TIMEOUT_MS,
      retries: 1,
    });
  }

  /**
   * Stops our prompt wherever it is: interrupted if running, deleted if waiting. Asks /queue
   * first, because servers older than targeted interrupts would stop whatever runs.
   */
  async cancel(promptId: string): Promise<void> {
    try {
      const queue = await this.queue({ timeoutMs: CANCEL_TIMEOUT_MS, retries: 0 });
      if (queue.queue_running.some((item) => item[1] === promptId)) await this.interrupt(promptId);
      else if (queue.queue_pending.some((item) => item[1] === promptId)) await this.deleteQueued([promptId]);
    } catch {
      await Promise.allSettled([this.deleteQueued([promptId]), this.interrupt(promptId)]);
    }
  }

  /**
   * Takes back a prompt whose POST got no reply (or a broken one): the server may have queued it,
   * or may still be about to. Interrupted if /queue shows it running (a targeted interrupt, which
   * 0.8.0 ignores unless that prompt runs: fixture 96), deleted otherwise — also when it is in
   * neither list, as the delete is then a no-op.
   */
  async withdraw(promptId: string): Promise<void> {
    const queue = await this.queue({ timeoutMs: CANCEL_TIMEOUT_MS, retries: 0 }).catch(() => undefined);
    if (queue === undefined) await Promise.allSettled([this.deleteQueued([promptId]), this.interrupt(promptId)]);
    else if (queue.queue_running.some((item) => item[1] === promptId)) await this.interrupt(promptId);
    else await this.deleteQueued([promptId]);
  }

  /** `work`, given up after `budgetMs`: a hung server must not hold the render's error line back. */
  private async within(work: Promise<void>, budgetMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      work.catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs))),
    ]);
    clearTimeout(timer);
  }

  private cancelWithin(promptId: string, budgetMs: number): Promise<void> {
    return this.within(this.cancel(promptId), budgetMs);
  }

  // ---- events ----------------------------------------------------------------------------------

  private onMessage(message: WsMessage): void {
    let promptId: string | undefined;
    switch (message.type) {
      case 'status':
        return;
      case 'executing':
        // Without prompt_id this is the server repeating its current node after a reconnect.
        if (message.data.prompt_id === undefined) return;
        promptId = message.data.prompt_id;
        this.runningPromptId = message.data.node === null ? undefined : promptId;
        break;
      case 'progress':
        promptId = message.data.prompt_id ?? this.runningPromptId;
        break;
      case 'execution_start':
        promptId = message.data.prompt_id;
        this.runningPromptId = promptId;
        break;
      default:
        promptId = message.data.prompt_id;
    }
    if (promptId === undefined) return;
    const watch = this.watches.get(promptId);
    if (watch) {
      this.apply(watch, message);
      return;
    }
    const list = this.early.get(promptId) ?? [];
    if (list.length >= MAX_EARLY_EVENTS) return;
    list.push(message);
    this.early.set(promptId, list);
    if (this.early.size > MAX_EARLY_PROMPTS) this.early.delete(this.early.keys().next().value!);
  }

  private apply(watch: Watch, message: WsMessage): void {
    switch (message.type) {
      case 'progress':
        watch.onProgress?.({ value: message.data.value, max: message.data.max, node: message.data.node ?? undefined });
        return;
      case 'executed':
        watch.executedOutputs[message.data.node] = message.data.output;
        return;
      case 'execution_start':
        watch.startedAt ??= performance.now();
        watch.startStamp ??= message.data.timestamp;
        return;
      case 'execution_success':
        watch.successStamp ??= message.data.timestamp;
        watch.finished = true;
        break;
      case 'executing':
        if (message.data.node !== null) return;
        watch.finished = true;
        break;
      case 'execution_error':
        watch.failure = executionError(this.baseUrl, message.data);
        break;
      case 'execution_interrupted':
        watch.failure = watch.cancelling ? new AbortedError() : interruptedError(this.baseUrl, message.data.node_type);
        break;
      default:
        return;
    }
    watch.wake();
  }

  // ---- running a prompt -----------------------------------------------------------------------

  /** Queues `graph`, follows it to the end, and returns its outputs from /history. */
  async runPrompt(graph: ApiGraph, options: RunPromptOptions = {}): Promise<PromptResult> {
    const { signal } = options;
    // Connect first, so no event of ours is sent to nobody; if the socket will not come up, poll.
    await this.socket.hold(signal);
    const epoch = this.socket.epoch;
    try {
      throwIfAborted(signal);
      const ourId = randomUUID();
      const clientId = this.clientId;
      // The POST itself is not aborted (a prompt the server has taken must be cancelled once it has
      // it), but a stop does not wait for it: it is cancelled when the POST settles, in the background.
      const submitting = this.submit(graph, ourId, clientId);
      const promptId = await untilAborted(submitting, signal).catch(async (error: unknown) => {
        if (signal?.aborted) {
          void submitting.then(
            (id) => this.cancelWithin(id, CANCEL_BUDGET_MS),
            () => this.within(this.withdraw(ourId), CANCEL_BUDGET_MS),
          );
        } else if (error instanceof ComfyServerFailure) {
          // No reply (or a broken one) does not mean not queued: take it back before the segment moves on.
          await this.within(this.withdraw(ourId), CANCEL_BUDGET_MS);
        }
        throw error;
      });
      const watch = this.watch(promptId, clientId, options.onProgress);
      // A socket that dropped (or never came) while we queued may have lost our first events.
      if (this.socket.epoch !== epoch || !this.socket.connected) watch.resync = true;
      try {
        throwIfAborted(signal);
        const { outputs, executionMs } = await this.waitForOutputs(watch, signal);
        return { promptId, outputs, executionMs, startedAt: watch.startedAt };
      } catch (error) {
        if (signal?.aborted || isAbortError(error)) {
          watch.cancelling = true;
          await this.cancelWithin(promptId, CANCEL_BUDGET_MS);
          throw new AbortedError();
        }
        // A stuck or lost prompt must not keep the GPU busy if the server comes back.
        if (error instanceof ComfyServerFailure) void this.cancel(promptId).catch(() => undefined);
        throw error;
      } finally {
        this.watches.delete(promptId);
      }
    } finally {
      this.socket.release();
    }
  }

  private watch(promptId: string, clientId: string, onProgress: RunPromptOptions['onProgress']): Watch {
    const watch: Watch = {
      promptId,
      clientId,
      onProgress,
      executedOutputs: {},
      startedAt: undefined,
      startStamp: undefined,
      successStamp: undefined,
      finished: false,
      failure: undefined,
      cancelling: false,
      resync: false,
      wake: () => undefined,
    };
    this.watches.set(promptId, watch);
    for (const message of this.early.get(promptId) ?? []) this.apply(watch, message);
    this.early.delete(promptId);
    return watch;
  }

  /** Waits until `wake()`, `ms` passes, or the signal fires (then throws). */
  private pause(watch: Watch, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanUp = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        watch.wake = () => undefined;
      };
      const finish = (): void => {
        cleanUp();
        resolve();
      };
      const onAbort = (): void => {
        cleanUp();
        reject(new AbortedError());
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      watch.wake = finish;
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async waitForOutputs(watch: Watch, signal: AbortSignal | undefined): Promise<Collected> {
    // The time limit counts from when the prompt starts running: waiting in a busy queue is not stuck.
    let queuedUntil = performance.now();
    let lastPoll = performance.now();
    let missingPolls = 0;
    for (;;) {
      if (watch.failure) throw watch.failure;
      if (watch.finished) return this.collectOutputs(watch, signal);
      const now = performance.now();
      const deadline = (watch.startedAt ?? queuedUntil) + this.tuning.segmentTimeoutMs;
      if (now >= deadline) {
        const limit = this.tuning.segmentTimeoutMs;
        const said = limit < 10_000 ? `${limit} ms` : `${Math.round(limit / 1000)} s`;
        throw new ComfyServerFailure(
          this.baseUrl,
          `ComfyUI at ${this.baseUrl} gave no result for prompt ${watch.promptId} within ${said} of starting it (is it stuck?)`,
        );
      }
      // Queued under an earlier client_id, its events go to a socket that is gone: only polling follows it.
      const heard = this.socket.connected && watch.clientId === this.currentClientId;
      const interval = heard ? this.tuning.safetyPollMs : this.tuning.pollIntervalMs;
      if (watch.resync || now - lastPoll >= interval) {
        watch.resync = false;
        lastPoll = now;
        const state = await this.poll(watch.promptId, signal);
        if (state === 'gone') {
          if (++missingPolls >= 2) {
            throw new ComfyServerFailure(
              this.baseUrl,
              `ComfyUI at ${this.baseUrl} lost prompt ${watch.promptId}: it is neither queued nor in the history (was the server restarted?)`,
            );
          }
        } else missingPolls = 0;
        if (state === 'queued') queuedUntil = performance.now();
        if (state === 'running') watch.startedAt ??= performance.now();
        if (state !== 'gone' && state !== 'queued' && state !== 'running') {
          if (state.failure) watch.failure = state.failure;
          else watch.finished = true;
        }
        continue;
      }
      await this.pause(watch, Math.min(interval - (now - lastPoll), deadline - now), signal);
    }
  }

  /** One look at /history (and /queue): is the prompt done, running, queued, or gone? */
  private async poll(
    promptId: string,
    signal: AbortSignal | undefined,
  ): Promise<'queued' | 'running' | 'gone' | { failure: Error | undefined }> {
    const entry = await this.history(promptId, { signal });
    if (entry) return { failure: this.failureIn(entry) };
    const queue = await this.queue({ signal });
    if (queue.queue_running.some((item) => item[1] === promptId)) return 'running';
    return queue.queue_pending.some((item) => item[1] === promptId) ? 'queued' : 'gone';
  }

  /** A finished history entry that records an error or interrupt, as the error the socket would have given. */
  private failureIn(entry: HistoryEntry): Error | undefined {
    if (entry.status?.status_str !== 'error') return undefined;
    for (const [type, data] of entry.status.messages) {
      if (type === 'execution_error') {
        const parsed = executionErrorSchema.safeParse(data);
        if (parsed.success) return executionError(this.baseUrl, parsed.data);
      }
      if (type === 'execution_interrupted') {
        const parsed = executionInterruptedSchema.safeParse(data);
        return interruptedError(this.baseUrl, parsed.success ? parsed.data.node_type : undefined);
      }
    }
    return new BeatloomError(
      'E_COMFY_EXECUTION',
      `ComfyUI at ${this.baseUrl} reports the prompt failed without saying why`,
      { hint: 'look at the server console' },
    );
  }

  /**
   * The history is written after execution_success, so it may not list the prompt yet: read it
   * until it does. Should it never appear, the outputs the socket reported will do.
   */
  private async collectOutputs(watch: Watch, signal: AbortSignal | undefined): Promise<Collected> {
    const deadline = performance.now() + this.tuning.historyTimeoutMs;
    const socketMs =
      watch.startStamp !== undefined && watch.successStamp !== undefined && watch.successStamp >= watch.startStamp
        ? watch.successStamp - watch.startStamp
        : undefined;
    let delayMs = 10;
    for (;;) {
      const entry = await this.history(watch.promptId, { signal });
      if (entry) {
        const failure = this.failureIn(entry);
        if (failure) throw failure;
        if (Object.keys(entry.outputs).length > 0 || entry.status?.completed === true)
          return { outputs: entry.outputs, executionMs: serverExecutionMs(entry) ?? socketMs };
      }
      if (performance.now() >= deadline) {
        if (Object.keys(watch.executedOutputs).length > 0)
          return { outputs: watch.executedOutputs, executionMs: socketMs };
        throw new ComfyServerFailure(
          this.baseUrl,
          `ComfyUI at ${this.baseUrl} finished prompt ${watch.promptId} but its history never listed it`,
        );
      }
      await sleep(delayMs, undefined, { signal }).catch(() => throwIfAborted(signal));
      delayMs = Math.min(500, delayMs * 2);
    }
  }
}

interface Collected {
  readonly outputs: Record<string, NodeOutput>;
  readonly executionMs: number | undefined;
}

/** `work`, or an AbortedError as soon as `signal` fires (the work itself goes on). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function firstLine(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, 300)).trim().split('\n')[0] ?? '';
  return text ? `(${text})` : '';
}
