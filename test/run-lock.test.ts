import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRunDir, removeDeadTempsBeside } from '../src/run/run-dir.js';
import { tempDir } from './helpers/media.js';

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('close', resolve));
  return child.pid!;
}

describe('run directory lock', () => {
  it('refuses a second holder with one clear line, and is free again once released', async () => {
    const dir = await tempDir();
    const run = await openRunDir(dir);
    await expect(openRunDir(dir)).rejects.toMatchObject({
      code: 'E_RUN_DIR_BUSY',
      kind: 'usage',
      message: expect.stringMatching(new RegExp(`^run directory ${dir} is in use by process ${process.pid} on `)),
    });
    await run.release();
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    const again = await openRunDir(dir);
    await again.release();
  });

  it('takes over a lock left by a process that died (kill -9), and clears its temp files', async () => {
    const dir = await tempDir();
    const pid = await deadPid();
    const first = await openRunDir(dir);
    await first.release();
    await writeFile(
      join(dir, 'run.lock'),
      JSON.stringify({ pid, host: hostname(), startedAt: '2025-01-01T00:00:00.000Z' }),
    );
    await writeFile(join(dir, `.plan.json.tmp-${pid}-0badc0de`), '{"half');
    await writeFile(join(dir, 'segments', `.0003.tmp-${pid}-deadbeef`), '');
    const run = await openRunDir(dir);
    expect((await readdir(dir)).sort()).toEqual(['run.lock', 'segments']);
    expect(await readdir(join(dir, 'segments'))).toEqual([]);
    await run.release();
  });

  it('leaves a lock from another machine alone (its process cannot be checked)', async () => {
    const dir = await tempDir();
    await (await openRunDir(dir)).release();
    await writeFile(
      join(dir, 'run.lock'),
      JSON.stringify({ pid: 1, host: 'render-box-2', startedAt: '2025-01-01T00:00:00.000Z' }),
    );
    await expect(openRunDir(dir)).rejects.toMatchObject({
      code: 'E_RUN_DIR_BUSY',
      hint: expect.stringContaining(`delete ${join(dir, 'run.lock')} if no render is running`),
    });
  });

  it('removes only dead processes’ temp files beside an output elsewhere', async () => {
    const dir = await tempDir();
    const pid = await deadPid();
    const out = join(dir, 'video.mp4');
    const names = [
      `.video.mp4.tmp-${pid}-00aa11bb`,
      `.video.mp4.tmp-${process.pid}-00aa11bb`,
      `.other.mp4.tmp-${pid}-00aa11bb`,
      'video.mp4',
    ];
    for (const name of names) await writeFile(join(dir, name), '');
    await removeDeadTempsBeside(out);
    expect((await readdir(dir)).sort()).toEqual(
      [`.other.mp4.tmp-${pid}-00aa11bb`, `.video.mp4.tmp-${process.pid}-00aa11bb`, 'video.mp4'].sort(),
    );
  });
});
