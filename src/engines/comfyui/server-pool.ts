/**
 * The servers of one render: each renders one segment at a time; a segment takes whichever is
 * free (first come, first served) and waits when all are busy. A server that fails is taken
 * out for the rest of the render; when the last one goes, everyone waiting is told why.
 */
import { AbortedError, BeatloomError } from '../../shared/errors.js';

export interface PoolServer<T> {
  readonly url: string;
  readonly value: T;
}

interface Waiter<T> {
  readonly resolve: (server: PoolServer<T>) => void;
  readonly reject: (error: Error) => void;
}

export class ServerPool<T> {
  private readonly idle: Array<PoolServer<T>>;
  private readonly busy = new Set<PoolServer<T>>();
  private readonly waiters: Array<Waiter<T>> = [];
  readonly failures: Array<{ readonly url: string; readonly reason: string }> = [];

  constructor(servers: ReadonlyArray<PoolServer<T>>) {
    this.idle = [...servers];
  }

  /** Servers still in the render, busy or not. */
  get size(): number {
    return this.idle.length + this.busy.size;
  }

  get all(): ReadonlyArray<PoolServer<T>> {
    return [...this.idle, ...this.busy];
  }

  acquire(signal?: AbortSignal): Promise<PoolServer<T>> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (this.size === 0) return Promise.reject(this.noServersLeft());
    const server = this.idle.shift();
    if (server) {
      this.busy.add(server);
      return Promise.resolve(server);
    }
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
    if (!this.busy.delete(server)) return;
    const next = this.waiters.shift();
    if (next) {
      this.busy.add(server);
      next.resolve(server);
    } else this.idle.push(server);
  }

  /** Takes a failed server out for good; returns how many are left. */
  remove(server: PoolServer<T>, reason: string): number {
    this.busy.delete(server);
    const index = this.idle.indexOf(server);
    if (index >= 0) this.idle.splice(index, 1);
    this.failures.push({ url: server.url, reason });
    if (this.size === 0) {
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.noServersLeft());
    }
    return this.size;
  }

  noServersLeft(): BeatloomError {
    const why = this.failures.map((f) => `${f.url}: ${f.reason}`).join('; ');
    return new BeatloomError('E_COMFY_NO_SERVERS', `every ComfyUI server failed${why ? ` (${why})` : ''}`, {
      hint: 'bring a server back (beatloom engines check --comfy-url …) and run the same command again to resume',
    });
  }
}
