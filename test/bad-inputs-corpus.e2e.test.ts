/**
 * A corpus of careless inputs beyond the list: fifos where files are read (a read that
 * would block forever, past Ctrl-C), fifos and devices where files are written (a rename would
 * replace them), symlink loops, empty files, folders for files and files for folders. Each is one
 * line with exit 2, and nothing is written.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

const run = promisify(execFile);

interface BadInput {
  readonly name: string;
  readonly args: readonly string[];
  readonly message: RegExp;
}

const CASES: readonly BadInput[] = [
  {
    name: 'a fifo as the config file',
    args: ['render', 'song.wav', '-p', 'x', '--config', 'fifo.yaml'],
    message: /^config file .*fifo\.yaml is not a regular file \(a fifo or a device\?\) — give a file$/,
  },
  {
    name: 'a fifo as the batch file',
    args: ['batch', 'fifo.yaml'],
    message: /^batch file .*fifo\.yaml is not a regular file/,
  },
  {
    name: 'a fifo as the workflow',
    args: [
      'render',
      'song.wav',
      '-p',
      'x',
      '--engine',
      'comfyui',
      '--comfy-url',
      'http://127.0.0.1:9',
      '--comfy-workflow',
      'fifo.yaml',
      '--comfy-workflow-map',
      'fifo.yaml',
    ],
    message: /^workflow .*fifo\.yaml is not a regular file/,
  },
  {
    name: 'a fifo as the mapping',
    args: ['plan', 'song.wav', '-p', 'x', '-m', 'fifo.yaml'],
    message: /^cannot read the mapping .*fifo\.yaml: it is not a regular file/,
  },
  { name: 'a fifo as the song', args: ['analyze', 'fifo.yaml'], message: /^input is not a file: fifo\.yaml/ },
  {
    name: 'a symlink loop as the song',
    args: ['analyze', 'loop1.wav'],
    message: /^input loop1\.wav is a loop of symbolic links — give the path of the file itself$/,
  },
  {
    name: 'an empty song',
    args: ['analyze', 'empty.wav'],
    message: /^not an audio file ffmpeg can decode: .*empty\.wav/,
  },
  { name: 'a folder as the song', args: ['analyze', 'folder'], message: /^input is not a file: folder/ },
  {
    name: 'a fifo as analyze -o (a rename would replace it)',
    args: ['analyze', 'song.wav', '-o', 'out-fifo'],
    message: /^analysis out-fifo is a device, fifo or socket, not a file/,
  },
  {
    name: 'a fifo as plan -o',
    args: ['plan', 'song.wav', '-p', 'x', '-o', 'out-fifo.json'],
    message: /^keyframes .*out-fifo\.json is a device, fifo or socket, not a file/,
  },
  {
    name: 'a folder as analyze -o',
    args: ['analyze', 'song.wav', '-o', 'folder'],
    message: /^analysis folder is a folder — give a file path/,
  },
  {
    name: 'a file as the folder of -o',
    args: ['render', 'song.wav', '-p', 'x', '--run-dir', 'r', '-o', 'song.wav/out.mp4'],
    message: /^cannot write output .*song\.wav\/out\.mp4: .*song\.wav is a file, not a folder/,
  },
  {
    name: 'a file as frames-only -o',
    args: ['render', 'song.wav', '-p', 'x', '--run-dir', 'r', '--frames-only', '-o', 'empty.wav'],
    message: /^output .*empty\.wav is a file, not a folder/,
  },
];

describe('a corpus of bad inputs: one line, exit 2, nothing written', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await makeClickTrack(join(dir, 'song.wav'), { durationSec: 2, bpm: 120 });
    await run('mkfifo', [join(dir, 'fifo.yaml'), join(dir, 'out-fifo'), join(dir, 'out-fifo.json')]);
    await symlink('loop2.wav', join(dir, 'loop1.wav'));
    await symlink('loop1.wav', join(dir, 'loop2.wav'));
    await writeFile(join(dir, 'empty.wav'), '');
    await mkdir(join(dir, 'folder'));
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, bad) => {
    const result = await runCli(bad.args, { cwd: dir, env: { BEATLOOM_COMFY_URL: undefined } });
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.replace(/^beatloom: error: /, '')).toMatch(bad.message);
    expect(result.code).toBe(2);
    for (const fifo of ['fifo.yaml', 'out-fifo', 'out-fifo.json'])
      expect(statSync(join(dir, fifo)).isFIFO()).toBe(true);
    // At most an empty run directory (made while checking it can be written); no file in it.
    const files = existsSync(join(dir, 'runs'))
      ? (await readdir(join(dir, 'runs'), { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory())
      : [];
    expect(files.map((e) => e.name)).toEqual([]);
  });
});
