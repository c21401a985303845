/**
 * The run directory (DESIGN.md §6): every artifact of a render, each written under a temporary
 * name and renamed into place, so a crash never leaves a file that looks complete but is not.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { BeatloomError } from '../shared/errors.js';
import { writeJsonAtomic } from '../shared/fs-atomic.js';

export interface RunDir {
  readonly root: string;
  readonly runJson: string;
  readonly analysisJson: string;
  readonly keyframesJson: string;
  readonly planJson: string;
  readonly segmentsDir: string;
  readonly outMp4: string;
  segmentDir(index: number): string;
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
    segmentDir: (index) => join(segmentsDir, segmentDirName(index)),
  };
}

export async function openRunDir(root: string): Promise<RunDir> {
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
  await removeStaleTemps(run);
  return run;
}

/** Temp files and folders left by a killed process (`.name.tmp-<pid>-…`) are garbage. */
async function removeStaleTemps(run: RunDir): Promise<void> {
  for (const dir of [run.root, run.segmentsDir]) {
    for (const name of await readdir(dir)) {
      if (name.startsWith('.') && name.includes('.tmp-')) await rm(join(dir, name), { recursive: true, force: true });
    }
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
