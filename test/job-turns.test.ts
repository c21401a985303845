import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { JobTurns } from '../src/scheduling/job-turns.js';

describe('JobTurns', () => {
  it('runs turns in job order whatever order the jobs arrive in', async () => {
    const turns = new JobTurns();
    const order: number[] = [];
    const take = (job: number, arriveAfterMs: number) =>
      sleep(arriveAfterMs).then(() =>
        turns.run(async () => {
          order.push(job);
          await sleep(2);
        }, [job]),
      );
    await Promise.all([take(3, 0), take(2, 1), take(0, 6), take(1, 3)]);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('a job that gives up its turn lets the next one go; passing twice changes nothing', async () => {
    const turns = new JobTurns();
    const order: number[] = [];
    const later = Promise.all([2, 3].map((job) => turns.run(async () => void order.push(job), [job])));
    await sleep(2);
    expect(order).toEqual([]);
    turns.pass(1);
    await turns.run(async () => void order.push(0), [0]);
    turns.pass(0);
    await later;
    expect(order).toEqual([0, 2, 3]);
  });

  it('a waiting job leaves the queue when its signal fires', async () => {
    const turns = new JobTurns();
    const stop = new AbortController();
    const waiting = turns.run(async () => 'ran', [1], stop.signal);
    stop.abort();
    await expect(waiting).rejects.toThrow(/interrupted|abort/i);
    turns.pass(0);
    turns.pass(1);
    await expect(turns.run(async () => 'next', [2])).resolves.toBe('next');
  });
});
