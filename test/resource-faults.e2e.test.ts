/**
 * Resources are errors, not crashes: a full disk, a read-only mount, a run directory that is a
 * file — one line naming the path and what to do, nothing half-written, every finished segment
 * kept for the rerun. The disk-full and read-only cases use a real tmpfs (mount needs root; they
 * are skipped with the reason otherwise — CI runs as root).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessError } from '../src/ffmpeg/run-process.js';
import { fsFaultError } from '../src/shared/fs-faults.js';
import { runCli } from './helpers/cli.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

const run = promisify(execFile);

/** Mounts a tmpfs of `size` at a new folder; undefined (with why) where that is not possible. */
async function tmpfs(size: string): Promise<{ path: string; unmount(): Promise<void> } | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'mounting a tmpfs needs root' };
  const path = await tempDir('beatloom-tmpfs-');
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path]);
  } catch (error) {
    return { skip: `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}` };
  }
  return {
    path,
    unmount: async () => {
      await run('umount', [path]).catch(() => undefined);
      await rm(path, { recursive: true, force: true });
    },
  };
}

const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('beatloom: error:'));

describe('resource faults as one line', () => {
  let dir: string;
  let song: string;
  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 12, bpm: 120 });
  });

  describe('a disk that fills up mid-render', () => {
    let mount: Awaited<ReturnType<typeof tmpfs>>;
    beforeAll(async () => {
      mount = await tmpfs('1m');
    });
    afterAll(async () => {
      if ('unmount' in mount) await mount.unmount();
    });

    it('stops with exit 1 and the path, keeps finished segments and nothing half-written; a rerun with space finishes', async (context) => {
      if ('skip' in mount) return context.skip(mount.skip);
      const runDir = join(mount.path, 'run');
      const args = ['render', song, '-p', 'x', '--size', '128x128', '--run-dir', runDir, '-o', join(dir, 'out.mp4')];
      const full = await runCli(args);
      expect(full.code).toBe(1);
      expect(full.stderr).not.toMatch(/unexpected error|at async|ENOSPC: no space/);
      const [line, ...more] = errorLines(full.stderr);
      expect(more).toEqual([]);
      expect(line).toMatch(
        new RegExp(
          `^beatloom: error: cannot write ${runDir}/\\S+: the disk is full \\(ENOSPC\\) — free some space there .*then run the same command again \\(finished segments are kept\\)$`,
        ),
      );
      // Warned early: the estimate did not fit.
      expect(full.stderr).toMatch(/beatloom: note: the run directory .* has 1 MB free, and this render needs about/);
      // Nothing half-written: no temp files, no lock; every segment folder is complete.
      const names = [...(await readdir(runDir)), ...(await readdir(join(runDir, 'segments')))];
      expect(names.filter((n) => n.includes('.tmp-') || n === 'run.lock')).toEqual([]);
      const kept = (await readdir(join(runDir, 'segments'))).filter((n) => /^\d{4}$/.test(n));
      expect(kept.length).toBeGreaterThan(0);
      for (const name of kept) expect(existsSync(join(runDir, 'segments', name, 'segment.json'))).toBe(true);
      await run('mount', ['-o', 'remount,size=64m', mount.path]);
      const again = await runCli([...args, '--json']);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      const result = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { cachedSegments: number };
      expect(result.cachedSegments).toBe(kept.length);
    });
  });

  describe('a read-only run directory', () => {
    let mount: Awaited<ReturnType<typeof tmpfs>>;
    beforeAll(async () => {
      mount = await tmpfs('4m');
      if ('path' in mount) {
        await mkdir(join(mount.path, 'old-run'));
        await run('mount', ['-o', 'remount,ro', mount.path]);
      }
    });
    afterAll(async () => {
      if ('unmount' in mount) await mount.unmount();
    });

    it('names the run directory and --run-dir, not the output inside it, as an environment fault (exit 1)', async (context) => {
      if ('skip' in mount) return context.skip(mount.skip);
      for (const runDir of [join(mount.path, 'new-run'), join(mount.path, 'old-run')]) {
        const result = await runCli(['render', song, '-p', 'x', '--run-dir', runDir]);
        expect(result.code).toBe(1);
        expect(errorLines(result.stderr)).toEqual([
          `beatloom: error: cannot write to the run directory ${runDir}: the file system is read-only (EROFS) — choose a writable folder with --run-dir`,
        ]);
      }
    });

    it('a read-only place for -o is named as such (exit 1)', async (context) => {
      if ('skip' in mount) return context.skip(mount.skip);
      const out = join(mount.path, 'videos', 'out.mp4');
      const result = await runCli(['render', song, '-p', 'x', '--run-dir', join(dir, 'r'), '-o', out]);
      expect(result.code).toBe(1);
      expect(errorLines(result.stderr)).toEqual([
        `beatloom: error: cannot write output ${out}: the file system is read-only (EROFS) — choose a writable location with -o`,
      ]);
    });
  });

  it('a --run-dir that is a file is said to be a file', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const result = await runCli(['render', song, '-p', 'x', '--run-dir', file]);
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      `beatloom: error: the run directory ${file} is a file, not a folder — give --run-dir a folder (new or an earlier run directory)`,
    ]);
  });

  it('--codec vp9 -o x.mp4: the example has the right extension', async () => {
    const result = await runCli(['render', song, '-p', 'x', '--codec', 'vp9', '-o', join(dir, 'x.mp4')]);
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      `beatloom: error: output ${join(dir, 'x.mp4')} does not end in .webm — name the output file with .webm, e.g. x.webm`,
    ]);
  });

  it('verify of a file that is not a video: exit 2, and no "lines above" that are not there', async () => {
    const fake = join(dir, 'not-a-video.mp3');
    await writeFile(fake, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251)));
    const result = await runCli(['verify', fake, '--audio', song]);
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      `beatloom: error: no video stream ffmpeg can decode in ${fake} — give the video beatloom render wrote (mp4 or webm)`,
    ]);
  });
});

describe('fsFaultError', () => {
  const errno = (code: string, syscall: string, path?: string): NodeJS.ErrnoException =>
    Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, ...(path ? { path } : {}) });

  it.each([
    ['ENOSPC', 'write', 'E_DISK_FULL', 'cannot write /r/analysis.json: the disk is full (ENOSPC)'],
    ['EDQUOT', 'write', 'E_DISK_FULL', 'cannot write /r/analysis.json: the disk quota is used up (EDQUOT)'],
    ['EROFS', 'open', 'E_READ_ONLY', 'cannot write /r/analysis.json: the file system is read-only (EROFS)'],
    ['EACCES', 'open', 'E_PERMISSION', 'cannot write /r/analysis.json: permission denied (EACCES)'],
    ['EMFILE', 'open', 'E_TOO_MANY_FILES', 'cannot write /r/analysis.json: too many open files (EMFILE)'],
    ['ENOMEM', 'read', 'E_NO_MEMORY', 'cannot read /r/analysis.json: out of memory (ENOMEM)'],
  ])('%s → %s, naming the file (not its temp name)', (code, syscall, beatloomCode, message) => {
    const error = fsFaultError(errno(code, syscall, '/r/.analysis.json.tmp-123-0a1b2c3d'))!;
    expect(error.code).toBe(beatloomCode);
    expect(error.kind).toBe('failure');
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(/then run the same command again/);
  });

  it('names the fallback path when the error has none, and ignores other errors', () => {
    expect(fsFaultError(errno('ENOSPC', 'write'), '/r/segments/0003')!.message).toBe(
      'cannot write /r/segments/0003: the disk is full (ENOSPC)',
    );
    expect(fsFaultError(errno('ENOENT', 'open', '/x'))).toBeUndefined();
    expect(fsFaultError(new Error('boom'))).toBeUndefined();
  });

  it('V8 running out of memory, and ffmpeg on a full disk', () => {
    expect(fsFaultError(new RangeError('Array buffer allocation failed'))!.code).toBe('E_NO_MEMORY');
    const ffmpeg = new ProcessError(
      'ffmpeg',
      1,
      null,
      'frame= 10\n/r/.out.mp4.tmp-9-abcdef01: No space left on device',
    );
    expect(fsFaultError(ffmpeg)!.message).toBe('cannot write /r/out.mp4: the disk is full (ENOSPC)');
  });
});
