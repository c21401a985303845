/** `beatloom batch` through the CLI: one corrupt song among good ones, resume, dry run, bad files. */
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { decodedAudioSamples, decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

describe('beatloom batch', () => {
  let dir: string;
  let jobs: string;
  beforeAll(async () => {
    dir = await tempDir();
    await makeClickTrack(join(dir, 'one.wav'), { durationSec: 5, bpm: 120 });
    await makeClickTrack(join(dir, 'three.wav'), { durationSec: 4, bpm: 90, channels: 2 });
    await writeFile(join(dir, 'two.wav'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251)));
    jobs = join(dir, 'jobs.yaml');
    await writeFile(
      jobs,
      [
        'version: 1',
        'defaults:',
        '  prompt: neon city, rain',
        '  size: 64x64',
        'jobs:',
        '  - audio: one.wav',
        '  - audio: two.wav',
        '  - name: third',
        '    audio: three.wav',
        '    prompt: ocean waves',
        '    fps: 24000/1001',
        '    seed: 7',
        '    out: videos/third.mp4',
      ].join('\n'),
    );
  });

  it('a corrupt song fails alone: the others finish, the table says what happened, exit code 1', async () => {
    const result = await runCli(['batch', jobs]);
    expect(result.code).toBe(1);
    const table = result.stdout.trim().split('\n');
    expect(table[0]).toMatch(/^job +status +frames +duration +rendered\/reused +time +output or error$/);
    expect(table[1]).toMatch(
      new RegExp(`^one +done +40 +0:05\\.0 +3/0 +\\d+:\\d\\d +${join(dir, 'runs', 'one', 'out.mp4')}$`),
    );
    expect(table[2]).toMatch(
      new RegExp(
        `^two +failed +- +- +- +\\d+:\\d\\d +not an audio file ffmpeg can decode: ${join(dir, 'two.wav')} — give an mp3, wav, flac, ogg, opus or m4a file$`,
      ),
    );
    expect(table[3]).toMatch(
      new RegExp(`^third +done +96 +0:04\\.0 +\\d+/0 +\\d+:\\d\\d +${join(dir, 'videos', 'third.mp4')}$`),
    );
    expect(table[4]).toMatch(/^3 jobs: 2 done, 1 failed in \d+:\d\d$/);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      'beatloom: error: 1 of 3 jobs failed — see the table; run the batch again to retry them (finished jobs and segments are kept)',
    );

    expect((await decodeVideoFrames(join(dir, 'runs', 'one', 'out.mp4'), 64, 64)).length).toBe(40);
    expect((await decodeVideoFrames(join(dir, 'videos', 'third.mp4'), 64, 64)).length).toBe(96); // ceil(4 · 24000/1001)
    expect(Math.abs((await decodedAudioSamples(join(dir, 'videos', 'third.mp4'))) - 4 * 22050)).toBeLessThan(
      22050 / 24,
    );
    expect(existsSync(join(dir, 'runs', 'two', 'out.mp4'))).toBe(false);
  });

  it('run again: finished jobs are reused and up to date, the failed one fails again', async () => {
    const result = await runCli(['batch', jobs, '--json']);
    expect(result.code).toBe(1);
    const final = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      type: string;
      results: Array<{
        name: string;
        outcome: { status: string; summary?: { renderedSegments: number; stitched: boolean } };
      }>;
    };
    expect(final.type).toBe('result');
    expect(
      final.results.map((r) => [
        r.name,
        r.outcome.status,
        r.outcome.summary?.renderedSegments,
        r.outcome.summary?.stitched,
      ]),
    ).toEqual([
      ['one', 'done', 0, false],
      ['two', 'failed', undefined, undefined],
      ['third', 'done', 0, false],
    ]);
  });

  it('--dry-run plans every job and writes no video', async () => {
    const dry = join(dir, 'dry.yaml');
    await writeFile(
      dry,
      [
        'version: 1',
        'runsDir: dry-runs',
        'defaults: { prompt: x, size: 64x64 }',
        'jobs:',
        '  - audio: one.wav',
        '  - audio: three.wav',
      ].join('\n'),
    );
    const result = await runCli(['batch', dry, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('\none\ndry run: nothing rendered, no video written\n');
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(/^2 jobs: 2 planned in \d+:\d\d$/);
    for (const name of ['one', 'three']) expect(await readdir(join(dir, 'dry-runs', name))).toEqual(['analysis.json']);
  });

  it('a bad batch file: one located line, exit code 2, nothing run', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'version: 1\njobs:\n  - audio: one.wav\n    prompt: x\n    fps: fast\n');
    const result = await runCli(['batch', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `beatloom: error: ${bad}:5:10: jobs[0].fps: invalid fps: 'fast' — give a number like 8, 24 or 30, or a ratio like 24000/1001 — see \`beatloom batch --help\` for the format`,
    ]);
    const missing = await runCli(['batch', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^beatloom: error: batch file not found: .*nope\.yaml — give the path of a YAML batch file\n$/,
    );
  });
});
