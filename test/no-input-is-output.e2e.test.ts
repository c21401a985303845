/**
 * No input is ever an output: every command that writes refuses, before any work, a destination
 * that is (after links, `..` and hard links) a file it reads — exit 2, one line naming both, the
 * input untouched and no run.lock left behind.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';
import { VALID_MAPPING } from './helpers/bad-mappings.js';
import { runCli } from './helpers/cli.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

const run = promisify(execFile);

describe('no input is ever an output', () => {
  let dir: string;
  let song: string;
  let clip: string;
  let songBytes: Buffer;
  let clipBytes: Buffer;

  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    clip = join(dir, 'clip.mp4');
    await makeClickTrack(song, { durationSec: 2, bpm: 120 });
    // A video whose audio is the song: the render reads it and must never replace it.
    await run(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'color=c=blue:s=32x32:r=4:d=2',
      '-i',
      song,
      '-shortest',
      '-c:v',
      'libx264',
      '-c:a',
      'aac',
      '-y',
      clip,
    ]);
    songBytes = await readFile(song);
    clipBytes = await readFile(clip);
  });

  /** Runs the CLI in `dir` and checks the promise: exit 2, one line naming both paths, inputs untouched. */
  async function refused(args: string[], named: RegExp): Promise<string> {
    const result = await runCli(args, { cwd: dir });
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(named);
    expect(result.code).toBe(2);
    expect((await readFile(song)).equals(songBytes)).toBe(true);
    expect((await readFile(clip)).equals(clipBytes)).toBe(true);
    return result.stderr;
  }

  it('analyze -o the song', async () => {
    await refused(['analyze', 'song.wav', '-o', 'song.wav'], /analysis song\.wav is the audio input song\.wav/);
  });

  it('analyze -o the song through ..', async () => {
    await mkdir(join(dir, 'sub'), { recursive: true });
    await refused(['analyze', 'song.wav', '-o', 'sub/../song.wav'], /analysis sub\/\.\.\/song\.wav is the audio input/);
  });

  it('render clip.mp4 -o clip.mp4 (a video whose audio is the song)', async () => {
    await refused(
      ['render', 'clip.mp4', '-p', 'x', '--run-dir', 'runs/clip', '-o', 'clip.mp4'],
      new RegExp(`output ${join(dir, 'clip.mp4')} is the audio input ${join(dir, 'clip.mp4')}`),
    );
    expect(existsSync(join(dir, 'runs', 'clip', 'run.lock'))).toBe(false);
  });

  it('render -o a symlink to the input', async () => {
    await symlink(clip, join(dir, 'link.mp4'));
    await refused(['render', 'clip.mp4', '-p', 'x', '-o', 'link.mp4'], /link\.mp4 is the audio input .*clip\.mp4/);
  });

  it('render -o a hard link to the input (same device and inode)', async () => {
    await link(clip, join(dir, 'hard.mp4'));
    await refused(
      ['render', 'clip.mp4', '-p', 'x', '-o', 'hard.mp4'],
      /hard\.mp4 is the audio input .*clip\.mp4 \(the same file on disk/,
    );
  });

  it('plan -o the song leaves no run.lock (nor anything else) behind', async () => {
    await refused(['plan', 'song.wav', '-p', 'x', '-o', 'song.wav'], /keyframes .*song\.wav is the audio input/);
    expect(existsSync(join(dir, 'runs', 'song'))).toBe(false);
  });

  it('plan -o the mapping', async () => {
    // JSON is YAML: a mapping can be a .json file, and keyframes.json could land on it.
    const mapping = join(dir, 'map.json');
    await writeFile(mapping, VALID_MAPPING);
    await refused(['plan', 'song.wav', '-p', 'x', '-m', 'map.json', '-o', 'map.json'], /is the mapping .*map\.json/);
    expect(await readFile(mapping, 'utf8')).toBe(VALID_MAPPING);
  });

  it('render -o the config file', async () => {
    const config = join(dir, 'beatloom.config.yaml');
    await writeFile(config, 'engine: preview\n');
    await refused(
      ['render', 'song.wav', '-p', 'x', '--config', 'beatloom.config.yaml', '-o', 'beatloom.config.yaml'],
      /is the config file .*beatloom\.config\.yaml/,
    );
    expect(await readFile(config, 'utf8')).toBe('engine: preview\n');
  });

  it('render --frames-only -o a folder that holds the song', async () => {
    await refused(['render', 'song.wav', '-p', 'x', '--frames-only', '-o', '.'], /holds the audio input .*song\.wav/);
  });

  it("plan -o beatloom's own run.json in the run directory", async () => {
    await refused(
      ['plan', 'song.wav', '-p', 'x', '--run-dir', 'r', '-o', 'r/run.json'],
      /is beatloom's own run\.json in the run directory/,
    );
  });

  it('a batch whose job writes over its own song, or over another job’s song, or over the batch file', async () => {
    const other = join(dir, 'other.wav');
    await copyFile(song, other);
    for (const [out, named] of [
      ['clip.mp4', /job clip: output .*clip\.mp4 is the audio input .*clip\.mp4/],
      ['other.mp4', /is the audio input of job other/],
    ] as const) {
      const jobs = join(dir, 'jobs.yaml');
      await writeFile(
        jobs,
        [
          'version: 1',
          'defaults:',
          '  prompt: x',
          'jobs:',
          '  - audio: clip.mp4',
          `    out: ${out}`,
          '  - audio: other.wav',
        ].join('\n'),
      );
      if (out === 'other.mp4') await link(other, join(dir, 'other.mp4'));
      await refused(['batch', 'jobs.yaml'], named);
    }
    const before = await readFile(join(dir, 'jobs.yaml'));
    await writeFile(join(dir, 'jobs2.mp4'), before);
    await writeFile(
      join(dir, 'jobs2.mp4'),
      ['version: 1', 'defaults:', '  prompt: x', 'jobs:', '  - audio: song.wav', '    out: jobs2.mp4'].join('\n'),
    );
    await refused(['batch', 'jobs2.mp4'], /is the batch file .*jobs2\.mp4/);
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});
