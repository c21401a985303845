import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyframesSchema } from '../src/keyframes/keyframes-schema.js';
import { decodePng } from '../src/raster/png.js';
import { BAD_MAPPINGS, VALID_MAPPING } from './helpers/bad-mappings.js';
import { runCli } from './helpers/cli.js';
import { decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

describe('beatloom plan', () => {
  let dir: string;
  let song: string;
  let runDir: string;
  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'clicks.wav');
    runDir = join(dir, 'run');
    await makeClickTrack(song, { durationSec: 8, bpm: 120, quietUntilSec: 4 });
  });

  it('writes keyframes.json where -o says, and caches the analysis in the run directory', async () => {
    const out = join(dir, 'out', 'kf.json');
    const result = await runCli([
      'plan',
      song,
      '--prompt',
      'neon city',
      '--fps',
      '24000/1001',
      '--run-dir',
      runDir,
      '-o',
      out,
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /wrote .*kf\.json: 192 frames at 24000\/1001 fps, \d+ segments, \d+ seeds?, 1 prompt, 120(\.\d+)? BPM/,
    );
    const keyframes = keyframesSchema.parse(JSON.parse(await readFile(out, 'utf8')));
    expect(keyframes.frameCount).toBe(192); // ceil(8 s · 24000/1001) = ceil(191.8…)
    expect(keyframes.fps).toBe('24000/1001');
    expect(keyframes.segments.every((s) => s.prompt === 'neon city')).toBe(true);
    const analysed = (await stat(join(runDir, 'analysis.json'))).mtimeMs;
    const again = await runCli(['plan', song, '--prompt', 'neon city', '--run-dir', runDir, '-o', out, '--json']);
    expect(again.code).toBe(0);
    expect((await stat(join(runDir, 'analysis.json'))).mtimeMs).toBe(analysed);
    const summary = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ type: 'result', keyframesPath: out, plotPath: null, fps: '8', frameCount: 64 });
  });

  it('draws the plan as a PNG: waveform, sections, segments and every curve', async () => {
    const png = join(dir, 'plan.png');
    const result = await runCli([
      'plan',
      song,
      '--prompt',
      'x',
      '--run-dir',
      runDir,
      '-o',
      join(dir, 'kf-png.json'),
      '--plot',
      png,
      '-q',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const image = decodePng(await readFile(png));
    expect(image.width).toBe(1600);
    const has = (rgb: [number, number, number]): boolean => {
      for (let p = 0; p < image.data.length; p += 3)
        if (image.data[p] === rgb[0] && image.data[p + 1] === rgb[1] && image.data[p + 2] === rgb[2]) return true;
      return false;
    };
    expect(has([40, 90, 200])).toBe(true); // per-frame curves
    expect(has([220, 110, 20])).toBe(true); // per-segment values
    expect(has([120, 132, 150])).toBe(true); // the waveform
    // Lanes: audio, segments, prompt, 3 signals of the default mapping, motion scale, denoise, cfg.
    expect(image.height).toBe(8 + 16 + 12 + (130 + 40 + 34 + 3 * 44 + 3 * 60) + 9 * 8 + 44);
  });

  it('draws the plan as an SVG with a lane per curve', async () => {
    const svg = join(dir, 'plan.svg');
    const result = await runCli([
      'plan',
      song,
      '--prompt',
      'x',
      '--run-dir',
      runDir,
      '-o',
      join(dir, 'kf-svg.json'),
      '--plot',
      svg,
      '-q',
    ]);
    expect(result.code).toBe(0);
    const text = await readFile(svg, 'utf8');
    expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="1600"')).toBe(true);
    expect(text.trimEnd().endsWith('</svg>')).toBe(true);
    expect(text.match(/<polyline /g)?.length).toBe(6); // kick, beat, level, motion scale, denoise, cfg
    for (const lane of [
      'audio',
      'segments',
      'prompt',
      'kick',
      'beat',
      'level',
      'motion scale',
      'denoise',
      'cfg',
      'time',
    ])
      expect(text).toContain(`>${lane}</text>`);
  });

  it.each([
    [
      'parseq',
      (out: string) => expect((JSON.parse(out) as { rendered_frames: unknown[] }).rendered_frames.length).toBe(64),
    ],
    [
      'deforum',
      (out: string) => expect(JSON.parse(out)).toMatchObject({ max_frames: 64, fps: 8, seed_behavior: 'schedule' }),
    ],
    ['csv', (out: string) => expect(out.trimEnd().split('\n').length).toBe(65)],
  ])('--export %s prints it on stdout', async (format, check) => {
    const result = await runCli([
      'plan',
      song,
      '--prompt',
      'x',
      '--run-dir',
      runDir,
      '-o',
      join(dir, `kf-${format}.json`),
      '--export',
      format,
      '-q',
    ]);
    expect(result.code).toBe(0);
    check(result.stdout);
  });

  it.each([
    [
      'a picture format it cannot draw',
      ['--plot', 'plan.jpg'],
      /--plot plan\.jpg: the picture must be a \.png or \.svg file/,
    ],
    [
      'an unknown export format',
      ['--export', 'after-effects'],
      /unknown export format 'after-effects' — use one of: parseq, deforum, csv/,
    ],
    ['--export with --json', ['--export', 'csv', '--json'], /--export and --json both print on stdout/],
    ['a missing --prompt the mapping needs', [], /missing --prompt \(the prompts in .*default\.yaml use \{prompt\}\)/],
    ['keyframes that are not .json', ['--prompt', 'x', '-o', 'kf.txt'], /keyframes .*kf\.txt does not end in \.json/],
  ])('%s: one line, exit code 2, nothing written', async (_what, args, message) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const withOut = args.includes('-o') ? args : [...args, '-o', join(out, 'kf.json')];
    const result = await runCli(['plan', song, '--run-dir', join(out, 'run'), ...withOut]);
    expect(result.code).toBe(2);
    const errors = result.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('beatloom: error:'));
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(message);
    expect(existsSync(join(out, 'kf.json'))).toBe(false);
  });

  it('--prompt is an error when the mapping does not use it', async () => {
    const mapping = join(dir, 'fixed.yaml');
    await writeFile(mapping, `${VALID_MAPPING}prompts:\n  schedule:\n    - prompt: a lighthouse\n`);
    const result = await runCli([
      'plan',
      song,
      '-m',
      mapping,
      '--prompt',
      'x',
      '--run-dir',
      runDir,
      '-o',
      join(dir, 'kf-fixed.json'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `beatloom: error: --prompt is not used: the prompts in ${mapping} do not contain {prompt}`,
    );
  });
});

describe('invalid mappings through the CLI: a specific message and exit code 2 for each kind', () => {
  let dir: string;
  let song: string;
  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 2, bpm: 120 });
  });

  // Concurrent: each case is a process start; they only wait on each other's CPU.
  it.concurrent.each(BAD_MAPPINGS.map((b, i) => [b.name, b, i] as const))('%s', async (_name, bad, index) => {
    const path = join(dir, `m${index}.yaml`);
    if (typeof bad.text === 'string') await writeFile(path, bad.text);
    else if (bad.text.special === 'folder') await mkdir(path);
    else if (bad.text.special === 'binary')
      await writeFile(path, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 0xff, 0xfe]));
    const out = join(dir, `kf-${index}.json`);
    const result = await runCli([
      'plan',
      song,
      '-m',
      path,
      '--prompt',
      'x',
      '--run-dir',
      join(dir, `run-${index}`),
      '-o',
      out,
    ]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines.length).toBe(1);
    expect(lines[0]!.startsWith(`beatloom: error: ${bad.message.replaceAll('FILE', path)} — `)).toBe(true);
    expect(existsSync(out)).toBe(false);
  });
});

describe('render with a prompt schedule', () => {
  it('reaches the engine: the preview changes palette where the prompt changes', async () => {
    const dir = await tempDir();
    const song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 6, bpm: 120 });
    const mapping = join(dir, 'fire-to-ocean.yaml');
    await writeFile(
      mapping,
      `${VALID_MAPPING}prompts:\n  schedule:\n    - prompt: fire\n    - time: 3\n      prompt: ocean\n`,
    );
    const out = join(dir, 'out.mp4');
    const result = await runCli([
      'render',
      song,
      '-m',
      mapping,
      '--size',
      '64x64',
      '--run-dir',
      join(dir, 'run'),
      '-o',
      out,
      '--quiet',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const frames = await decodeVideoFrames(out, 64, 64);
    const mean = (f: Uint8Array, c: number): number =>
      f.filter((_, i) => i % 3 === c).reduce((s, v) => s + v, 0) / (f.length / 3);
    const first = frames[4]!;
    const last = frames[frames.length - 4]!;
    expect(mean(first, 0)).toBeGreaterThan(mean(first, 2)); // fire: red over blue
    expect(mean(last, 2)).toBeGreaterThan(mean(last, 0)); // ocean: blue over red
    const plan = JSON.parse(await readFile(join(dir, 'run', 'plan.json'), 'utf8')) as {
      jobs: Array<{ prompt: string; cfg: number; negativePrompt: string }>;
    };
    expect(plan.jobs[0]).toMatchObject({
      prompt: 'fire',
      cfg: 1,
      negativePrompt: 'blurry, low quality, watermark, text',
    });
    expect(plan.jobs.at(-1)!.prompt).toBe('ocean');
  });
});
