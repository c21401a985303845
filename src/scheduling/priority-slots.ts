/**
 * A counting semaphore that serves waiters by priority (lowest first, ties first come, first
 * served). One per engine: in a batch every job's segments queue on it, so an engine's
 * concurrency holds across jobs and earlier jobs' segments go first — their videos finish first
 * instead of every job crawling along together.
 */

import { AbortedError } from '../shared/errors.js';

/** Compared element by element: [job, segment] orders by job, then by segment. */
export type Priority = readonly number[];

function compare(a: Priority, b: Priority): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Something that runs work in a turn: PrioritySlots, or JobTurns for strict job order. */
export interface SlotRunner {
  run<T>(work: () => Promise<T>, priority?: Priority, signal?: AbortSignal): Promise<T>;
}

interface Waiter {
  readonly priority: Priority;
  readonly order: number;
  readonly grant: () => void;
}

export class PrioritySlots implements SlotRunner {
  readonly size: number;
  private free: number;
  private arrivals = 0;
  private readonly waiting: Waiter[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots need a size of at least 1, got ${size}`);
    this.size = size;
    this.free = size;
  }

  /** Resolves when a slot is ours; rejects (and leaves the queue) when `signal` fires first. */
  acquire(priority: Priority = [], signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (this.free > 0 && this.waiting.length === 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new AbortedError());
      };
      const waiter: Waiter = {
        priority,
        order: this.arrivals++,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Insertion from the back keeps the queue sorted; arrivals mostly come in priority order, so
      // this is O(1) for the thousands of segments of a long song.
      let at = this.waiting.length;
      while (at > 0 && compare(this.waiting[at - 1]!.priority, priority) > 0) at--;
      this.waiting.splice(at, 0, waiter);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.free = Math.min(this.size, this.free + 1);
  }

  /** Runs `work` holding a slot. */
  async run<T>(work: () => Promise<T>, priority: Priority = [], signal?: AbortSignal): Promise<T> {
    await this.acquire(priority, signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}
