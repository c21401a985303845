/**
 * The run directory (DESIGN.md §6): every artifact of a render, each written under a temporary
 * name and renamed into place, so a crash never leaves a file that looks complete but is not.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { BeatloomError } from '../shared/errors.js';
import { writeJsonAtomic } from '../shared/fs-atomic.js';
import { acquireRunLock, processIsAlive, RUN_LOCK } from './run-lock.js';

export interface RunDir {
  readonly root: string;
  readonly runJson: string;
  readonly analysisJson: string;
  readonly keyframesJson: string;
  readonly planJson: string;
  readonly segmentsDir: string;
  readonly outMp4: string;
  readonly lockFile: string;
  segmentDir(index: number): string;
}

/** A run directory this process has locked; `release` when done with it. */
export interface OpenRunDir extends RunDir {
  release(): Promise<void>;
}

export function segmentDirName(index: number): string {
  return String(index).padStart(4, '0');
}

export function runDirAt(root: string): RunDir {
  const segmentsDir = join(root, 'segments');
  return {
    root,
    runJson: join(root, 'run.json'),
    analysisJson: join(root, 'analysis.json'),
    keyframesJson: join(root, 'keyframes.json'),
    planJson: join(root, 'plan.json'),
    segmentsDir,
    outMp4: join(root, 'out.mp4'),
    lockFile: join(root, RUN_LOCK),
    segmentDir: (index) => join(segmentsDir, segmentDirName(index)),
  };
}

/**
 * Creates (if needed) and locks the run directory, then clears what a killed render left behind.
 * Holding the lock, every temp file in it is garbage.
 */
export async function openRunDir(root: string): Promise<OpenRunDir> {
  const run = runDirAt(root);
  try {
    await mkdir(run.segmentsDir, { recursive: true });
  } catch (error) {
    throw new BeatloomError('E_RUN_DIR', `cannot create the run directory ${root}: ${(error as Error).message}`, {
      kind: 'usage',
      hint: 'choose another folder with --run-dir',
      cause: error,
    });
  }
  const lock = await acquireRunLock(run.lockFile, root);
  try {
    for (const dir of [run.root, run.segmentsDir]) {
      for (const name of await readdir(dir)) {
        if (TEMP_NAME.test(name)) await rm(join(dir, name), { recursive: true, force: true });
      }
    }
  } catch (error) {
    await lock.release();
    throw error;
  }
  return { ...run, release: () => lock.release() };
}

/** `.name.tmp-<pid>-<random>`, as made by tempPathFor. */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * Removes the temp files a killed process left beside `path` (an output outside the run
 * directory). Not holding a lock there, only temps whose process is gone are touched.
 */
export async function removeDeadTempsBeside(path: string): Promise<void> {
  const prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = TEMP_NAME.exec(name)?.[1];
    if (!name.startsWith(prefix) || pid === undefined || Number(pid) === process.pid) continue;
    if (!processIsAlive(Number(pid))) await rm(join(dirname(path), name), { recursive: true, force: true });
  }
}

/** Reads and validates a JSON artifact; undefined when it is missing or no longer valid. */
export async function readArtifact<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeArtifact(path: string, value: unknown): Promise<void> {
  await writeJsonAtomic(path, value);
}
