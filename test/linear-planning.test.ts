/**
 * Planning is linear in schedule entries and frames (issue 11: 20 000 distinct prompts took 49 s
 * and 600 MB, 500 000 were still planning after 120 s at 3.1 GB), and a schedule past the limits
 * is one clear line, found before the slow YAML parse.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadMapping, parseMapping } from '../src/config/load-mapping.js';
import { mappingSchema, MAX_SCHEDULE_ENTRIES, promptsSchema } from '../src/config/mapping-schema.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import {
  MAX_PROMPT_WEIGHTS,
  promptWeightsAtFrames,
  schedulePrompts,
  type PromptSchedule,
} from '../src/keyframes/prompt-schedule.js';
import { beatGridOf } from '../src/keyframes/signals.js';
import { parseFps } from '../src/shared/media-time.js';
import { type BeatloomError } from '../src/shared/errors.js';
import { makeAnalysis, steadyBeats } from './helpers/analysis.js';
import { tempDir } from './helpers/media.js';

const FPS8 = parseFps('8');
const texts = { prompt: 'city', negative: 'blur' };

describe('prompt schedules of any length', () => {
  const durationSec = 180;
  const analysis = makeAnalysis({
    durationSec,
    beats: steadyBeats(120, 0.1, durationSec),
    sections: [
      { startSec: 0, label: 'intro' },
      { startSec: 90, label: 'drop' },
    ],
  });

  it('500 000 entries with distinct prompts plan in seconds; only the prompts ever shown are kept', () => {
    const base = parseMapping(
      'version: 2\ntargets:\n  motionScale: { base: 1 }\n  denoise: { base: 0.5 }\nprompts:\n  blend: 0.2\n',
      'm.yaml',
    );
    const n = 500_000;
    const schedule = [
      { prompt: 'start' },
      ...Array.from({ length: n - 1 }, (_, i) => ({ prompt: `p ${i + 1}`, time: ((i + 1) * durationSec) / n })),
    ];
    const mapping = { ...base, prompts: { ...base.prompts, schedule } } as typeof base;
    const started = performance.now();
    const keyframes = buildKeyframes(analysis, mapping, {
      fps: FPS8,
      duration: { sampleCount: durationSec * 22050, sampleRateHz: 22050 },
      texts,
      seed: 1,
    });
    // Generous: 7 s on a loaded 2-core machine; the quadratic version took 49 s for 20 000.
    expect(performance.now() - started).toBeLessThan(60_000);
    const frameCount = durationSec * 8;
    expect(keyframes.frameCount).toBe(frameCount);
    // 2 778 entries per second, 347 per frame: in each frame only the last one is ever shown.
    expect(keyframes.prompts).toHaveLength(frameCount);
    expect(keyframes.prompts[0]!.prompt).toBe('p 347');
    // Frame f shows the last entry whose time falls in it: entry k is at k · 0.00036 s, frame 1 ends at 0.25 s.
    expect(keyframes.prompts[1]!.prompt).toBe('p 694');
    const last = keyframes.segments.at(-1)!;
    expect(last.promptBlend.reduce((sum, p) => sum + p.weight, 0)).toBeCloseTo(1, 4);
  });

  it('of two changes in one frame, the later wins and the earlier is never a prompt', () => {
    const context = { analysis, beats: beatGridOf(analysis).grid, fps: FPS8, durationSec };
    const schedule = schedulePrompts(
      promptsSchema.parse({
        schedule: [{ prompt: 'a' }, { time: 1.0, prompt: 'b' }, { time: 1.06, prompt: 'c' }, { time: 2, prompt: 'd' }],
      }),
      texts,
      context,
    );
    // 1.0 s and 1.06 s are both in frame 8 (1.0–1.125 s): only c is shown.
    expect(schedule.prompts.map((p) => p.prompt)).toEqual(['a', 'c', 'd']);
    expect(schedule.changes.map((c) => c.timeSec)).toEqual([0, 1.06, 2]);
  });

  it('refuses a schedule whose weights would not fit, with a clear line', () => {
    const schedule: PromptSchedule = {
      prompts: Array.from({ length: 600 }, (_, i) => ({ prompt: `p${i}`, negativePrompt: '' })),
      changes: Array.from({ length: 600 }, (_, i) => ({ timeSec: i, blendStartSec: i, prompt: i })),
      warnings: [],
      missingSections: [],
    };
    const frameCount = Math.ceil(MAX_PROMPT_WEIGHTS / 600) + 1;
    expect(() => promptWeightsAtFrames(schedule, FPS8, frameCount)).toThrow(
      `the prompt schedule shows 600 different prompts over ${frameCount} frames: keyframes.json would hold ${600 * frameCount} prompt weights (at most ${MAX_PROMPT_WEIGHTS})`,
    );
  });
});

describe('limits, found before the slow parse', () => {
  it(`more than ${MAX_SCHEDULE_ENTRIES} entries is a range error`, () => {
    const result = mappingSchema.safeParse({
      version: 2,
      targets: { motionScale: { base: 1 }, denoise: { base: 0.5 } },
      prompts: { schedule: Array.from({ length: MAX_SCHEDULE_ENTRIES + 1 }, (_, i) => ({ prompt: 'p', time: i })) },
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]).toMatchObject({ code: 'too_big', path: ['prompts', 'schedule'] });
  });

  it('a YAML file with 500 000 entries is refused in milliseconds, not parsed for minutes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'huge.yaml');
    const lines = ['version: 2', 'prompts:', '  schedule:'];
    for (let i = 0; i < 500_000; i++) lines.push(`    - {time: ${i / 100}, prompt: p}`);
    await writeFile(path, lines.join('\n'));
    const started = performance.now();
    const error = await loadMapping(path).catch((e: unknown) => e);
    expect((error as BeatloomError).code).toBe('E_MAPPING_TOO_LARGE');
    expect((error as BeatloomError).kind).toBe('usage');
    expect((error as Error).message).toBe(
      `the mapping ${path} has 500000 list entries: prompts.schedule takes at most ${MAX_SCHEDULE_ENTRIES}`,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a file past 16 MB is refused by its size', async () => {
    const dir = await tempDir();
    const path = join(dir, 'big.yaml');
    await writeFile(path, `version: 2\n${'# padding\n'.repeat(1_700_000)}`);
    await expect(loadMapping(path)).rejects.toThrow(`the mapping ${path} is 16 MB: a mapping is at most 16 MB`);
  });

  it('a fifo as the mapping is refused, not read forever', async () => {
    const dir = await tempDir();
    const path = join(dir, 'fifo.yaml');
    await promisify(execFile)('mkfifo', [path]);
    await expect(loadMapping(path)).rejects.toThrow(`cannot read the mapping ${path}: it is not a regular file`);
  });
});
