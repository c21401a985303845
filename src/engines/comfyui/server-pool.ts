/**
 * The servers of one render. Each takes up to `depth` of our segments at once: one running on
 * its GPU and the rest waiting in ComfyUI's own queue, so the GPU starts the next segment while
 * beatloom is still fetching the frames of the last. A segment takes the server with the most
 * room; on a tie, the one whose oldest segment was sent first (it frees soonest: ComfyUI runs its
 * queue in order), else the first listed — queued behind a segment that has just started, it
 * would wait a whole segment while another GPU frees up. It waits when all are full. A server
 * that fails is taken out for the rest of the render; when the last one goes, everyone waiting
 * is told why. A segment may refuse some servers (those it ran out of memory on); it is then given
 * only the others.
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
  readonly accepts: (server: PoolServer<T>) => boolean;
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

  private roomiest(accepts: (server: PoolServer<T>) => boolean = () => true): Entry<T> | undefined {
    let best: Entry<T> | undefined;
    for (const entry of this.entries) {
      const inUse = entry.sentAt.length;
      if (entry.removed || inUse >= this.depth || !accepts(entry.server)) continue;
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

  /** Whether any server still in the render passes `accepts`. */
  hasAny(accepts: (server: PoolServer<T>) => boolean): boolean {
    return this.entries.some((e) => !e.removed && accepts(e.server));
  }

  /** A server with room that `accepts` allows; waits for one. Rejects when none is left that it allows. */
  acquire(signal?: AbortSignal, accepts: (server: PoolServer<T>) => boolean = () => true): Promise<PoolServer<T>> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (!this.hasAny(accepts)) return Promise.reject(this.noServersLeft());
    const entry = this.roomiest(accepts);
    if (entry) return Promise.resolve(this.take(entry));
    return new Promise<PoolServer<T>>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new AbortedError());
      };
      const waiter: Waiter<T> = {
        accepts,
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
    // The first waiter this server suits: one that refuses it keeps its place.
    const index = this.waiters.findIndex((w) => w.accepts(server));
    if (index < 0) return;
    const [next] = this.waiters.splice(index, 1);
    next!.resolve(this.take(this.roomiest(next!.accepts)!));
  }

  /** Takes a failed server out for good (once, however many segments saw it fail); returns how many are left. */
  remove(server: PoolServer<T>, reason: string): number {
    const entry = this.entryOf(server);
    if (entry && !entry.removed) {
      entry.removed = true;
      this.failures.push({ url: server.url, reason });
    }
    for (const waiter of this.waiters.filter((w) => !this.hasAny(w.accepts))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.reject(this.noServersLeft());
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
