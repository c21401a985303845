import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PrioritySlots } from '../src/scheduling/priority-slots.js';

describe('PrioritySlots', () => {
  it('grants free slots at once, then serves waiters lowest priority first, ties in arrival order', async () => {
    const slots = new PrioritySlots(2);
    const order: string[] = [];
    await slots.acquire([0]);
    await slots.acquire([0]);
    const waiters = (
      [
        ['job1-seg3', [1, 3]],
        ['job0-seg7', [0, 7]],
        ['job1-seg1', [1, 1]],
        ['job0-seg7-again', [0, 7]],
        ['job0', [0]],
      ] as const
    ).map(([name, priority]) => slots.acquire(priority).then(() => order.push(name)));
    for (let i = 0; i < 5; i++) {
      slots.release();
      await sleep(1);
    }
    await Promise.all(waiters);
    expect(order).toEqual(['job0', 'job0-seg7', 'job0-seg7-again', 'job1-seg1', 'job1-seg3']);
  });

  it('never holds more than its size', async () => {
    const slots = new PrioritySlots(3);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        slots.run(async () => {
          running++;
          most = Math.max(most, running);
          await sleep(i % 3);
          running--;
        }, [i % 4, i]),
      ),
    );
    expect(most).toBe(3);
  });

  it('an aborted waiter leaves the queue and the slot goes to the next', async () => {
    const slots = new PrioritySlots(1);
    await slots.acquire();
    const controller = new AbortController();
    const aborted = slots.acquire([0], controller.signal);
    const next = slots.acquire([5]);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'E_ABORTED' });
    slots.release();
    await next;
    slots.release();
    // Both slots' worth of releases balanced: one free slot again, granted at once.
    await slots.acquire();
  });

  it('rejects a size below 1', () => {
    expect(() => new PrioritySlots(0)).toThrow('slots need a size of at least 1, got 0');
  });
});
