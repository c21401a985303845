import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysisEventsSchema } from '../src/analysis/analysis-events.js';
import { analysisSchema } from '../src/analysis/analysis-schema.js';
import { decodePng } from '../src/raster/png.js';
import { runCli } from './helpers/cli.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

describe('beatloom analyze', () => {
  it('--events prints the compact form, -o writes the full analysis, --plot writes a PNG', async () => {
    const dir = await tempDir();
    const audio = join(dir, 'clicks.wav');
    await makeClickTrack(audio, { durationSec: 12, bpm: 120 });
    const out = join(dir, 'analysis.json');
    const png = join(dir, 'plot.png');
    const result = await runCli(['analyze', audio, '--events', '-o', out, '--plot', png, '-q']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const events = analysisEventsSchema.parse(JSON.parse(result.stdout));
    expect(events.bpm).toBeCloseTo(120, 0);
    expect(events.beats.length).toBeGreaterThanOrEqual(22);
    const analysis = analysisSchema.parse(JSON.parse(await readFile(out, 'utf8')));
    expect(analysis.beats).toEqual(events.beats);
    const image = decodePng(await readFile(png), 'plot');
    expect(image.width).toBe(1600);
    expect(image.height).toBeGreaterThan(500);
  });

  it('--json prints the analysis; --plot .svg writes an SVG document', async () => {
    const dir = await tempDir();
    const audio = join(dir, 'clicks.wav');
    await makeClickTrack(audio, { durationSec: 6, bpm: 100 });
    const svg = join(dir, 'plot.svg');
    const result = await runCli(['analyze', audio, '--json', '--plot', svg]);
    expect(result.code).toBe(0);
    expect(analysisSchema.parse(JSON.parse(result.stdout)).version).toBe(2);
    expect(result.stderr).toMatch(/^clicks\.wav: 6\.00 s, .* beats, .*; wrote .*plot\.svg\n$/);
    const text = await readFile(svg, 'utf8');
    expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="1600"')).toBe(true);
    expect(text.trimEnd().endsWith('</svg>')).toBe(true);
    expect(text).toContain('<polyline');
  });

  it.each([
    [['analyze', 'missing.mp3'], /^beatloom: error: input not found: missing\.mp3 — /],
    [['analyze', 'package.json'], /^beatloom: error: not an audio file ffmpeg can decode: .*package\.json — /],
    [
      ['analyze', 'samples/loom-groove.mp3', '--plot', 'out.gif'],
      /^beatloom: error: cannot plot to 'out\.gif': unknown image type '\.gif' — /,
    ],
    [
      ['analyze', 'samples/loom-groove.mp3', '--json', '--events'],
      /^beatloom: error: --json and --events both print to stdout — /,
    ],
  ])('%j exits 2 with one line and writes nothing', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    await expect(stat('out.gif')).rejects.toThrow();
  });
});
