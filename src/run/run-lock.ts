/**
 * One render at a time per run directory. Two processes rendering into the same folder would
 * delete each other's temp files and race on segment folders, so the run directory is locked by
 * a file naming the owner. A lock left by a killed process (kill -9, a power cut) is taken over
 * when its process is gone; that is what makes "run the same command again" always work.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { BeatloomError } from '../shared/errors.js';
import { tempPathFor } from '../shared/fs-atomic.js';

export const RUN_LOCK = 'run.lock';

const lockSchema = z.object({ pid: z.number().int().positive(), host: z.string(), startedAt: z.string() });
type LockOwner = z.infer<typeof lockSchema>;

/** Locks held by this process: a lock naming our own pid is stale unless it is in here. */
const heldHere = new Set<string>();

export interface RunLock {
  release(): Promise<void>;
}

/** Whether a process with this id runs on this machine. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(owner: LockOwner | undefined, path: string): boolean {
  // link(2) only ever publishes a complete file, so an unreadable lock was damaged by hand or by
  // the disk: treat it as stale rather than block the user forever.
  if (owner === undefined) return true;
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return !heldHere.has(path);
  return !processIsAlive(owner.pid);
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = lockSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    return undefined;
  }
}

/**
 * Takes the lock at `path`. The owner is written to a temp file first and published with
 * link(2), which fails when the lock exists: the lock file is never seen half-written.
 */
export async function acquireRunLock(path: string, runDir: string): Promise<RunLock> {
  const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const temp = tempPathFor(path);
  await writeFile(temp, `${JSON.stringify(owner)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(temp, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let current: LockOwner | undefined;
      try {
        current = await readOwner(path);
      } catch {
        continue; // released between our link and our read: try again
      }
      if (attempt < 3 && isStale(current, path)) {
        await rm(path, { force: true });
        continue;
      }
      const who = current
        ? `process ${current.pid} on ${current.host} (since ${current.startedAt})`
        : 'another process';
      throw new BeatloomError('E_RUN_DIR_BUSY', `run directory ${runDir} is in use by ${who}`, {
        kind: 'usage',
        hint: `wait for that render to finish, choose another --run-dir, or delete ${path} if no render is running`,
      });
    }
  } finally {
    await rm(temp, { force: true });
  }
  heldHere.add(path);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(path);
      await rm(path, { force: true });
    },
  };
}
