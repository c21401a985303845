/**
 * The WebSocket to one ComfyUI server (`/ws?clientId=…`): connects, says which features we
 * support, keeps itself alive with pings, and reconnects with backoff while anyone needs it.
 * It only delivers validated messages; deciding what they mean is the client's job.
 *
 * ComfyUI sends a prompt's events only to the socket of the client_id that queued it, and drops
 * them while that socket is away; so after every reconnect the client re-reads /history. The
 * address is asked for at every connection: the client takes a new client_id after a drop
 * (server.py forgets an id when any socket that had it closes, even after a new one took it).
 */
import WebSocket from 'ws';
import { parseWsBinary, parseWsText, type BinaryPreview, type WsMessage } from './comfy-schemas.js';

export interface ComfySocketOptions {
  /** `ws://host:port/ws?clientId=…`, asked for at every (re)connection. */
  readonly url: () => string;
  readonly heartbeatMs: number;
  readonly connectTimeoutMs: number;
  readonly onMessage: (message: WsMessage) => void;
  readonly onBinary?: (preview: BinaryPreview) => void;
  /** Called on every change; `true` after a (re)connect means events may have been missed. */
  readonly onConnectionChange: (connected: boolean) => void;
}

const MAX_BACKOFF_MS = 2_000;
/** The largest socket message accepted: previews of big frames are a few MB; past this the socket is dropped. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class ComfySocket {
  private ws: WebSocket | undefined;
  private holders = 0;
  private closed = false;
  private connectedNow = false;
  private backoffMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private alive = false;
  private opened = 0;
  private readonly openWaiters = new Set<() => void>();

  constructor(private readonly options: ComfySocketOptions) {}

  get connected(): boolean {
    return this.connectedNow;
  }

  /** Counts (re)connections: a change means messages may have been missed in between. */
  get epoch(): number {
    return this.opened;
  }

  /**
   * Keeps the socket up (reconnecting when it drops) until `release()`. Resolves `true` once it
   * is open, or `false` after connectTimeoutMs: the caller then polls, while reconnecting goes on.
   */
  async hold(signal?: AbortSignal): Promise<boolean> {
    this.holders++;
    if (this.connectedNow) return true;
    if (this.ws === undefined && this.reconnectTimer === undefined) this.connect();
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.openWaiters.delete(onOpen);
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onOpen = (): void => done(true);
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), this.options.connectTimeoutMs);
      this.openWaiters.add(onOpen);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    this.holders = Math.max(0, this.holders - 1);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
    }
    if (this.connectedNow) {
      this.connectedNow = false;
      this.options.onConnectionChange(false);
    }
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.options.url(), {
      handshakeTimeout: this.options.connectTimeoutMs,
      perMessageDeflate: false,
      // ws buffers a whole message (100 MB by default); ComfyUI's are JSON events and JPEG previews.
      maxPayload: MAX_MESSAGE_BYTES,
    });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.backoffMs = 100;
      this.connectedNow = true;
      this.opened++;
      // Ask for previews with metadata, so binary frames say which prompt they belong to.
      ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
      this.startHeartbeat(ws);
      for (const waiter of [...this.openWaiters]) waiter();
      this.options.onConnectionChange(true);
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      this.alive = true;
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) {
        const preview = parseWsBinary(buffer);
        if (preview) this.options.onBinary?.(preview);
        return;
      }
      const message = parseWsText(buffer.toString('utf8'));
      if (message) this.options.onMessage(message);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    // 'close' always follows 'error'; the reconnect decision is made there.
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.stopHeartbeat();
      if (this.connectedNow) {
        this.connectedNow = false;
        this.options.onConnectionChange(false);
      }
      if (!this.closed && this.holders > 0) this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && this.holders > 0 && this.ws === undefined) this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** A socket that misses a whole heartbeat (no pong, no message) is half-open: drop it. */
  private startHeartbeat(ws: WebSocket): void {
    this.alive = true;
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      if (!this.alive) {
        ws.terminate();
        return;
      }
      this.alive = false;
      try {
        ws.ping();
      } catch {
        ws.terminate();
      }
    }, this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}
