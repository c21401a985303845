/**
 * Issue 7 at the command line: change one section's prompt in the mapping and run the same
 * command again — only that section's segments are rendered again (none continuity), and in
 * chain continuity that section's and every later segment.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyframesSchema } from '../src/keyframes/keyframes-schema.js';
import { DEFAULT_MAPPING_PATH } from '../src/shared/package-root.js';
import { ROOT, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/media.js';

const SONG = join(ROOT, 'samples', 'loom-groove.mp3');

async function mappingWith(path: string, continuity: string, breakPrompt: string): Promise<void> {
  const schedule = ['    - prompt: "neon city, rain"', '    - section: break', `      prompt: "${breakPrompt}"`].join(
    '\n',
  );
  const yaml = (await readFile(DEFAULT_MAPPING_PATH, 'utf8'))
    .replace(/continuity: \w+/, `continuity: ${continuity}`)
    .replace(/\nprompts:[\s\S]*$/, `\nprompts:\n  negative: blurry\n  schedule:\n${schedule}\n`);
  await writeFile(path, yaml);
}

interface Summary {
  segments: number;
  renderedSegments: number;
  cachedSegments: number;
}

describe('one section’s prompt changed in the mapping', () => {
  it.each(['none', 'chain'])('%s continuity: exactly the affected segments render again', async (continuity) => {
    const dir = await tempDir();
    const mapping = join(dir, 'map.yaml');
    const runDir = join(dir, 'run');
    const args = ['render', SONG, '--mapping', mapping, '--size', '64x64', '--run-dir', runDir, '--json'];
    await mappingWith(mapping, continuity, 'calm ocean at dawn');
    const first = await runCli(args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const keyframes = keyframesSchema.parse(JSON.parse(await readFile(join(runDir, 'keyframes.json'), 'utf8')));
    const breakSegments = keyframes.segments.filter((s) => s.section === 'break').map((s) => s.index);
    expect(breakSegments.length).toBeGreaterThan(2);
    expect(
      keyframes.segments.filter((s) => breakSegments.includes(s.index)).every((s) => s.prompt === 'calm ocean at dawn'),
    ).toBe(true);
    // The break's prompt holds for the break only: the return is the city again.
    expect(
      keyframes.segments.filter((s) => !breakSegments.includes(s.index)).every((s) => s.prompt === 'neon city, rain'),
    ).toBe(true);
    expect(breakSegments.at(-1)!).toBeLessThan(keyframes.segments.length - 3);

    await mappingWith(mapping, continuity, 'calm ocean at night');
    const second = await runCli(args);
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as Summary;
    const expected = continuity === 'chain' ? summary.segments - breakSegments[0]! : breakSegments.length;
    expect(summary.renderedSegments).toBe(expected);
    expect(summary.cachedSegments).toBe(summary.segments - expected);
  });
});
