/**
 * Resume after kill -9, the cache, --force, --dry-run and run.json, through the CLI. The render
 * uses chain continuity: a resumed segment starts from a frame the killed process wrote.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderPlanSchema, planHash } from '../src/pipeline/render-plan.js';
import { runRecordSchema } from '../src/run/run-record.js';
import { DEFAULT_OUTPUT_SETTINGS } from '../src/stitching/output-settings.js';
import { DEFAULT_MAPPING_PATH } from '../src/shared/package-root.js';
import { VERSION } from '../src/shared/version.js';
import { runCli } from './helpers/cli.js';
import { decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

const SIZE = 96;

async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

interface Result {
  segments: number;
  renderedSegments: number;
  cachedSegments: number;
  stitched: boolean;
  frameCount: number;
}

describe('kill -9 half-way, run again: the same video as an uninterrupted render', () => {
  let dir: string;
  let song: string;
  let mapping: string;
  const args = (runDir: string, out: string, ...more: string[]): string[] => [
    'render',
    song,
    '--prompt',
    'forest at night',
    '--mapping',
    mapping,
    '--size',
    `${SIZE}x${SIZE}`,
    '--seed',
    '77',
    '--run-dir',
    runDir,
    '-o',
    out,
    '--json',
    ...more,
  ];

  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 20, bpm: 110, quietUntilSec: 8 });
    mapping = join(dir, 'chain.yaml');
    await writeFile(
      mapping,
      (await readFile(DEFAULT_MAPPING_PATH, 'utf8')).replace(/continuity: \w+/, 'continuity: chain'),
    );
  });

  it('resumes, keeps what finished, and matches frame for frame and byte for byte', async () => {
    const clean = await runCli(args(join(dir, 'clean'), join(dir, 'clean.mp4')));
    expect(clean.code).toBe(0);
    const total = lastJson<Result>(clean.stdout).segments;
    expect(total).toBe(13);

    // Kill the second render once at least 6 segments are done.
    const runDir = join(dir, 'killed');
    const out = join(dir, 'resumed.mp4');
    let killed = false;
    const first = await runCli(args(runDir, out), {
      onStdout: (text, kill) => {
        if (!killed && /"stage":"render","done":([6-9]|1\d)/.test(text)) {
          killed = true;
          kill('SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(first.code).toBe(null); // killed by the signal: no handler ran
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(runDir, 'run.lock'))).toBe(true); // left behind by the dead process
    const kept = (await readdir(join(runDir, 'segments'))).filter((n) => /^\d{4}$/.test(n)).length;
    expect(kept).toBeGreaterThanOrEqual(6);
    expect(kept).toBeLessThan(total);
    expect(runRecordSchema.parse(JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8'))).status).toBe(
      'rendering',
    );

    const second = await runCli(args(runDir, out));
    expect(second.code).toBe(0);
    expect(lastJson<Result>(second.stdout)).toMatchObject({
      segments: total,
      cachedSegments: kept,
      renderedSegments: total - kept,
      stitched: true,
    });
    const leftovers = [...(await readdir(runDir)), ...(await readdir(join(runDir, 'segments')))].filter(
      (n) => n.includes('.tmp-') || n === 'run.lock',
    );
    expect(leftovers).toEqual([]);

    const a = await decodeVideoFrames(join(dir, 'clean.mp4'), SIZE, SIZE);
    const b = await decodeVideoFrames(out, SIZE, SIZE);
    expect(a.length).toBe(lastJson<Result>(clean.stdout).frameCount);
    expect(b.length).toBe(a.length);
    expect(b.findIndex((frame, i) => !Buffer.from(frame).equals(Buffer.from(a[i]!)))).toBe(-1);
    // x264 is deterministic for a given thread count, which is picked from the CPU count: the
    // same machine gives the same bytes (another machine may not; see run.json environment.cpus).
    expect(await sha256Of(out)).toBe(await sha256Of(join(dir, 'clean.mp4')));

    // The segment frames themselves match too.
    for (const seg of ['0000', '0008', String(total - 1).padStart(4, '0')]) {
      expect(await sha256Of(join(runDir, 'segments', seg, 'frame-0015.png'))).toBe(
        await sha256Of(join(dir, 'clean', 'segments', seg, 'frame-0015.png')),
      );
    }
  });

  it('records in run.json what reproduces the video', async () => {
    const runDir = join(dir, 'clean');
    const record = runRecordSchema.parse(JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8')));
    const plan = renderPlanSchema.parse(JSON.parse(await readFile(join(runDir, 'plan.json'), 'utf8')));
    // As run.json stores it (a rate as its text).
    expect(runRecordSchema.encode(record)).toMatchObject({
      version: 1,
      tool: { name: 'beatloom', version: VERSION },
      status: 'complete',
      inputs: {
        audio: {
          path: song,
          sha256: await sha256Of(song),
          sizeBytes: (await readFile(song)).length,
          sampleCount: 20 * 22050,
          sampleRateHz: 22050,
          durationSec: 20,
          channels: 1,
        },
        mapping: {
          path: mapping,
          sha256: await sha256Of(mapping),
          resolved: { version: 2, segments: { continuity: 'chain', frames: 16 } },
        },
      },
      prompt: 'forest at night',
      negativePrompt: 'blurry, low quality, watermark, text',
      seeds: { base: 77, used: [...new Set(plan.jobs.map((j) => j.seed))].sort((x, y) => x - y) },
      video: { fps: '8', frameCount: 160, width: SIZE, height: SIZE, continuity: 'chain' },
      engine: { id: 'preview', settings: { engine: 'preview', watermark: true }, concurrency: 1 },
      sampler: { steps: 4 },
      encode: { ...DEFAULT_OUTPUT_SETTINGS },
      plan: { hash: planHash(plan), segments: 13 },
      segments: { rendered: 13, reused: 0 },
      output: {
        path: join(dir, 'clean.mp4'),
        sha256: await sha256Of(join(dir, 'clean.mp4')),
        sizeBytes: (await readFile(join(dir, 'clean.mp4'))).length,
      },
      environment: { node: process.version, platform: process.platform, arch: process.arch },
    });
    expect(record.seeds.used[0]).toBe(77);
    expect(record.ffmpeg.version).toMatch(/^\S+$/);
    expect(record.ffmpeg.version).not.toBe('unknown');
    const t = record.timings;
    expect(Date.parse(t.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(t.startedAt));
    expect(t.totalMs).toBeGreaterThanOrEqual(t.renderMs);
    expect(t.engineMs).toBeGreaterThan(0);
    expect(t.stitchMs).toBeGreaterThan(0);
  });

  it('the same command again reuses everything and leaves the video as it is; --force renders everything again', async () => {
    const runDir = join(dir, 'killed');
    const out = join(dir, 'resumed.mp4');
    const before = await sha256Of(out);
    const again = await runCli(args(runDir, out));
    expect(again.code).toBe(0);
    expect(lastJson<Result>(again.stdout)).toMatchObject({ renderedSegments: 0, cachedSegments: 13, stitched: false });

    const forced = await runCli(args(runDir, out, '--force'));
    expect(forced.code).toBe(0);
    expect(lastJson<Result>(forced.stdout)).toMatchObject({ renderedSegments: 13, cachedSegments: 0, stitched: true });
    expect(await sha256Of(out)).toBe(before);
    const record = runRecordSchema.parse(JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8')));
    expect(record.segments).toEqual({ rendered: 13, reused: 0 });
  });

  it('a changed prompt renders every segment again: each segment hash covers its prompt', async () => {
    const changed = await runCli(
      args(join(dir, 'killed'), join(dir, 'resumed.mp4')).map((a) => (a === 'forest at night' ? 'forest at dawn' : a)),
    );
    expect(changed.code).toBe(0);
    expect(lastJson<Result>(changed.stdout)).toMatchObject({ renderedSegments: 13, cachedSegments: 0 });
  });
});

describe('--dry-run', () => {
  it('prints the plan and an estimate, renders nothing, writes no video; after a render it measures', async () => {
    const dir = await tempDir();
    const song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 6, bpm: 120 });
    const runDir = join(dir, 'run');
    const base = ['render', song, '--prompt', 'paper lanterns', '--size', '64x64', '--run-dir', runDir];

    const text = await runCli([...base, '--dry-run']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toBe('dry run: nothing rendered, no video written');
    expect(lines).toContain(`video     48 frames at 8 fps, 64x64 → ${join(runDir, 'out.mp4')}`);
    expect(lines.find((l) => l.startsWith('segments  '))).toBe(
      'segments  4 of up to 16 frames, 4 sampler steps each, continuity continue: 4 to render, 0 already rendered',
    );
    expect(lines.at(-2)).toMatch(
      /^engine {4}preview: ~\d+\.\d\d s per segment \(calibrated: one segment rendered just now\)$/,
    );
    expect(lines.at(-1)).toMatch(/^ {10}4 segments → ~\d+:\d\d of engine time, ~\d+:\d\d at concurrency 1$/);
    // Only the analysis (a cache keyed by the audio's hash) is kept.
    expect(await readdir(runDir)).toEqual(['analysis.json']);

    const render = await runCli([...base, '--json']);
    expect(render.code).toBe(0);
    const json = await runCli([...base, '--dry-run', '--json']);
    const report = lastJson<{
      type: string;
      overview: { segments: number; toRender: number; reused: number };
      estimate: { basis: { kind: string } };
    }>(json.stdout);
    expect(report).toMatchObject({
      type: 'dry-run',
      overview: { segments: 4, toRender: 0, reused: 4 },
      estimate: { basis: { kind: 'nothing-to-render' } },
    });
    const forced = lastJson<typeof report>((await runCli([...base, '--dry-run', '--json', '--force'])).stdout);
    expect(forced).toMatchObject({
      overview: { toRender: 4, reused: 0 },
      estimate: { basis: { kind: 'measured', segments: 4 } },
    });
    // The plan the dry run showed is the plan the render followed.
    const plan = renderPlanSchema.parse(JSON.parse(await readFile(join(runDir, 'plan.json'), 'utf8')));
    expect(plan.jobs.length).toBe(report.overview.segments);
  });
});
