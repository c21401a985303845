/**
 * The servers of one render. Each takes up to `depth` of our segments at once: one running on
 * its GPU and the rest waiting in ComfyUI's own queue, so the GPU starts the next segment while
 * beatloom is still fetching the frames of the last. A segment takes the server with the most
 * room; on a tie, the one whose oldest segment was sent first (it frees soonest: ComfyUI runs its
 * queue in order), else the first listed — queued behind a segment that has just started, it
 * would wait a whole segment while another GPU frees up. It waits when all are full. A server
 * that fails is taken out for the rest of the render; when the last one goes, everyone waiting
 * is told why.
 */
import { AbortedError, BeatloomError } from '../../shared/errors.js';

export interface PoolServer<T> {
  readonly url: string;
  readonly value: T;
}

interface Entry<T> {
  readonly server: PoolServer<T>;
  /** When each of our segments in flight on it was sent, oldest first (its length: how many). */
  readonly sentAt: number[];
  removed: boolean;
}

interface Waiter<T> {
  readonly resolve: (server: PoolServer<T>) => void;
  readonly reject: (error: Error) => void;
}

export class ServerPool<T> {
  private readonly entries: Array<Entry<T>>;
  private readonly waiters: Array<Waiter<T>> = [];
  readonly failures: Array<{ readonly url: string; readonly reason: string }> = [];

  constructor(
    servers: ReadonlyArray<PoolServer<T>>,
    private readonly depth = 1,
    /** A clock for "sent first" (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.entries = servers.map((server) => ({ server, sentAt: [], removed: false }));
  }

  /** Servers still in the render. */
  get size(): number {
    return this.entries.filter((e) => !e.removed).length;
  }

  /** Segments the render can have in flight: servers × depth. */
  get capacity(): number {
    return this.size * this.depth;
  }

  private entryOf(server: PoolServer<T>): Entry<T> | undefined {
    return this.entries.find((e) => e.server === server);
  }

  private roomiest(): Entry<T> | undefined {
    let best: Entry<T> | undefined;
    for (const entry of this.entries) {
      const inUse = entry.sentAt.length;
      if (entry.removed || inUse >= this.depth) continue;
      if (
        !best ||
        inUse < best.sentAt.length ||
        (inUse === best.sentAt.length && inUse > 0 && entry.sentAt[0]! < best.sentAt[0]!)
      )
        best = entry;
    }
    return best;
  }

  private take(entry: Entry<T>): PoolServer<T> {
    entry.sentAt.push(this.now());
    return entry.server;
  }

  acquire(signal?: AbortSignal): Promise<PoolServer<T>> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (this.size === 0) return Promise.reject(this.noServersLeft());
    const entry = this.roomiest();
    if (entry) return Promise.resolve(this.take(entry));
    return new Promise<PoolServer<T>>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new AbortedError());
      };
      const waiter: Waiter<T> = {
        resolve: (s) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(server: PoolServer<T>): void {
    const entry = this.entryOf(server);
    if (!entry || entry.sentAt.length === 0) return;
    entry.sentAt.shift();
    if (entry.removed) return;
    const next = this.waiters.shift();
    if (next) next.resolve(this.take(this.roomiest()!));
  }

  /** Takes a failed server out for good (once, however many segments saw it fail); returns how many are left. */
  remove(server: PoolServer<T>, reason: string): number {
    const entry = this.entryOf(server);
    if (entry && !entry.removed) {
      entry.removed = true;
      this.failures.push({ url: server.url, reason });
    }
    if (this.size === 0) {
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.noServersLeft());
    }
    return this.size;
  }

  isRemoved(server: PoolServer<T>): boolean {
    return this.entryOf(server)?.removed ?? true;
  }

  noServersLeft(): BeatloomError {
    const why = this.failures.map((f) => `${f.url}: ${f.reason}`).join('; ');
    return new BeatloomError('E_COMFY_NO_SERVERS', `every ComfyUI server failed${why ? ` (${why})` : ''}`, {
      hint: 'bring a server back (beatloom engines check --comfy-url …) and run the same command again to resume',
    });
  }
}
