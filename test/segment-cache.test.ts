/**
 * The per-segment cache at the library level: a prompt changed for one section (as a section
 * prompt schedule in the mapping does) re-renders exactly that section's segments — and, in
 * chain continuity, every segment after them — and nothing else.
 */
import { readFile, rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseMapping } from '../src/config/load-mapping.js';
import { createPreviewEngine } from '../src/engines/preview/preview-engine.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import type { Keyframes } from '../src/keyframes/keyframes-schema.js';
import { rational } from '../src/shared/media-time.js';
import { buildRenderPlan, type PlanSettings } from '../src/pipeline/render-plan.js';
import { findReusableSegments, renderSegments } from '../src/pipeline/render-segments.js';
import { openRunDir } from '../src/run/run-dir.js';
import { DEFAULT_MAPPING_PATH } from '../src/shared/package-root.js';
import { tempDir } from './helpers/media.js';
import { syntheticAnalysis, SYNTHETIC_RATE_HZ } from './helpers/synthetic-analysis.js';

const DURATION_SEC = 24;
const prompts = { intro: 'misty forest', drop: 'neon city, rain', break: 'calm ocean' };
const analysis = syntheticAnalysis({
  durationSec: DURATION_SEC,
  bpm: 120,
  sections: [
    ['intro', 0],
    ['drop', 8],
    ['break', 16],
  ],
});

/** The default mapping with a prompt per section, as a creator would write it. */
async function keyframesFor(
  continuity: 'none' | 'chain' | 'anchor',
  sectionPrompts: Readonly<Record<string, string>> = prompts,
): Promise<Keyframes> {
  const schedule = Object.entries(sectionPrompts)
    .map(([section, prompt]) => `    - section: ${section}\n      prompt: "${prompt}"`)
    .join('\n');
  const yaml = (await readFile(DEFAULT_MAPPING_PATH, 'utf8'))
    .replace(/continuity: \w+/, `continuity: ${continuity}`)
    .replace(/\nprompts:[\s\S]*$/, `\nprompts:\n  negative: blurry\n  schedule:\n${schedule}\n`);
  const mapping = parseMapping(yaml, 'default.yaml');
  expect(mapping.segments.continuity).toBe(continuity);
  return buildKeyframes(analysis, mapping, {
    fps: rational(8),
    duration: { sampleCount: DURATION_SEC * SYNTHETIC_RATE_HZ, sampleRateHz: SYNTHETIC_RATE_HZ },
    texts: { prompt: '', negative: '' },
    seed: 42,
  });
}

const engine = await createPreviewEngine().prepare({});
const settings: PlanSettings = {
  engineId: 'preview',
  engineFingerprint: engine.settingsFingerprint,
  width: 64,
  height: 64,
  steps: 4,
  capabilities: engine.capabilities,
};

describe('one section’s prompt changes: exactly the segments it touches are rendered again', () => {
  it.each([
    // continuity, segments per section [intro, drop, break], re-rendered when the drop's prompt changes
    ['none', [6, 5, 5], 5],
    ['anchor', [6, 5, 5], 5],
    ['chain', [6, 5, 5], 10],
  ] as const)('%s continuity', async (continuity, perSection, expectedRerender) => {
    const keyframes = await keyframesFor(continuity);
    expect(keyframes.segments.map((s) => s.prompt)).toEqual(
      keyframes.segments.map((s) => prompts[s.section as keyof typeof prompts]),
    );
    const counts = ['intro', 'drop', 'break'].map(
      (name) => keyframes.segments.filter((s) => s.section === name).length,
    );
    expect(counts).toEqual(perSection);
    const firstDrop = keyframes.segments.findIndex((s) => s.section === 'drop');
    const dropCount = counts[1]!;
    // Independent of the table: none/anchor re-render the drop; chain also everything after it.
    expect(expectedRerender).toBe(continuity === 'chain' ? keyframes.segments.length - firstDrop : dropCount);

    const dir = await tempDir();
    const run = await openRunDir(dir);
    try {
      const first = await renderSegments(buildRenderPlan(keyframes, settings), engine, run);
      expect(first).toMatchObject({ rendered: 16, cached: 0 });

      const again = await renderSegments(buildRenderPlan(keyframes, settings), engine, run);
      expect(again).toMatchObject({ rendered: 0, cached: 16 });

      const changed = await keyframesFor(continuity, { ...prompts, drop: 'neon city, snow' });
      const plan = buildRenderPlan(changed, settings);
      const before = buildRenderPlan(keyframes, settings);
      const changedIndices = plan.jobs.filter((job, i) => job.hash !== before.jobs[i]!.hash).map((job) => job.index);
      const expectedIndices =
        continuity === 'chain'
          ? plan.jobs.slice(firstDrop).map((job) => job.index)
          : plan.jobs.filter((job) => job.section === 'drop').map((job) => job.index);
      expect(changedIndices).toEqual(expectedIndices);

      const third = await renderSegments(plan, engine, run);
      expect(third).toMatchObject({ rendered: expectedRerender, cached: 16 - expectedRerender });

      // --force: everything again, whatever the cache holds.
      const forced = await renderSegments(plan, engine, run, { force: true });
      expect(forced).toMatchObject({ rendered: 16, cached: 0 });
    } finally {
      await run.release();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a value the mapping adds to a segment flows into that segment’s hash, with no change to the plan builder', async () => {
    const keyframes = await keyframesFor('none');
    // A future per-segment target (a LoRA strength, say) on segment 3 only.
    const extended = {
      ...keyframes,
      segments: keyframes.segments.map((s) => (s.index === 3 ? { ...s, loraStrength: 0.7 } : s)),
    } as Keyframes;
    const a = buildRenderPlan(keyframes, settings);
    const b = buildRenderPlan(extended, settings);
    expect(b.jobs.filter((job, i) => job.hash !== a.jobs[i]!.hash).map((job) => job.index)).toEqual([3]);
  });

  it('re-timing a transition (lead frame, crossfade) changes no segment hash', async () => {
    const keyframes = await keyframesFor('chain');
    const retimed = {
      ...keyframes,
      segments: keyframes.segments.map((s) =>
        s.index === 5 ? { ...s, leadFrame: s.leadFrame + 1, crossfadeFrames: 0 } : s,
      ),
    };
    const a = buildRenderPlan(keyframes, settings);
    const b = buildRenderPlan(retimed, settings);
    expect(b.jobs.map((job) => job.hash)).toEqual(a.jobs.map((job) => job.hash));
  });

  it('in chain continuity a segment is kept only while the segment it starts from is kept', async () => {
    const keyframes = await keyframesFor('chain');
    const plan = buildRenderPlan(keyframes, settings);
    const dir = await tempDir();
    const run = await openRunDir(dir);
    try {
      await renderSegments(plan, engine, run);
      await rm(run.segmentDir(4), { recursive: true });
      const reusable = await findReusableSegments(plan, run, true);
      expect(reusable.map((ok, i) => (ok ? -1 : i)).filter((i) => i >= 0)).toEqual([
        4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
      ]);
      // Without init images (an engine that ignores them) only the missing one is rendered again.
      expect((await findReusableSegments(plan, run, false)).filter((ok) => !ok).length).toBe(1);
    } finally {
      await run.release();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
