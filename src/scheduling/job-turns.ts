/**
 * Turns taken strictly in job order: job N's turn starts once every earlier job has had its turn
 * or has given it up (failed before reaching it, or finished without needing it). A batch
 * analyses its songs this way, so the first song is always analysed first — whichever job's
 * file checks happen to finish first — and the first videos finish first.
 */

import { AbortedError } from '../shared/errors.js';
import type { Priority, SlotRunner } from './priority-slots.js';

export class JobTurns implements SlotRunner {
  /** The lowest job whose turn is not over. */
  private next = 0;
  private readonly over = new Set<number>();
  private readonly waiting = new Map<number, () => void>();

  /** Runs `work` in job `priority[0]`'s turn, then passes the turn on. */
  async run<T>(work: () => Promise<T>, priority: Priority = [], signal?: AbortSignal): Promise<T> {
    const job = priority[0] ?? 0;
    await this.wait(job, signal);
    try {
      return await work();
    } finally {
      this.pass(job);
    }
  }

  /** Job `job`'s turn is over, taken or not. Idempotent. */
  pass(job: number): void {
    this.over.add(job);
    while (this.over.has(this.next)) this.over.delete(this.next++);
    this.waiting.get(this.next)?.();
  }

  private wait(job: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (job <= this.next) return Promise.resolve();
    if (this.waiting.has(job)) throw new RangeError(`job ${job} is already waiting for its turn`);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiting.delete(job);
        reject(new AbortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(job, () => {
        this.waiting.delete(job);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
