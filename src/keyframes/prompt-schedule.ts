/**
 * Prompt schedules: when each prompt starts (at a time, bar, beat or every section with a label)
 * and the blend into it; an entry for a section holds for that section, then the prompt in force
 * without it comes back, as a weight per prompt per video frame. A blend ends where its entry
 * starts, so the new prompt is fully there on the beat it was asked for. Times become frames the
 * way every event does: the frame on screen at that time (a prompt that starts at 6.71 s at 8 fps
 * is fully in from frame 53, which shows 6.625–6.75 s).
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import type { PromptSettings } from '../config/mapping-schema.js';
import type { PromptTexts } from '../config/prompt-texts.js';
import { usageError } from '../shared/errors.js';
import { frameAtSec, type Rational } from '../shared/media-time.js';
import { barStartSec, beatStartSec, secBefore, type BeatGrid } from './beat-grid.js';

export interface ScheduledPrompt {
  readonly prompt: string;
  readonly negativePrompt: string;
}

export interface PromptChange {
  /** Where the prompt is fully in. */
  readonly timeSec: number;
  /** Where the blend into it starts (≤ timeSec; equal for a cut). */
  readonly blendStartSec: number;
  /** Index into the schedule's distinct prompts. */
  readonly prompt: number;
}

export interface PromptSchedule {
  readonly prompts: readonly ScheduledPrompt[];
  /** In time order; the first one holds from the start of the song. */
  readonly changes: readonly PromptChange[];
  readonly warnings: readonly string[];
  /** Entries for a section label the song does not have: label → the entries' key paths. */
  readonly missingSections: ReadonlyArray<{ readonly label: string; readonly where: string }>;
}

export interface PromptScheduleContext {
  readonly analysis: Analysis;
  readonly beats: BeatGrid;
  readonly fps: Rational;
  readonly durationSec: number;
}

function fill(template: string, placeholder: string, text: string): string {
  return template.replaceAll(placeholder, text);
}

export function schedulePrompts(
  settings: PromptSettings,
  texts: PromptTexts,
  context: PromptScheduleContext,
): PromptSchedule {
  const prompts: ScheduledPrompt[] = [];
  // Linear in entries (issue 11: a findIndex here made 500 000 entries take minutes).
  const indexByText = new Map<string, number>();
  const indexOf = (p: ScheduledPrompt): number => {
    const key = `${p.prompt}\u0000${p.negativePrompt}`;
    const found = indexByText.get(key);
    if (found !== undefined) return found;
    prompts.push(p);
    indexByText.set(key, prompts.length - 1);
    return prompts.length - 1;
  };
  const warnings: string[] = [];
  const missingSections: Array<{ label: string; where: string }> = [];
  const events: Array<{
    timeSec: number;
    order: number;
    prompt: number;
    blend: PromptSettings['blend'];
    fromSection: boolean;
  }> = [];
  const reverts: Array<{ timeSec: number; blend: PromptSettings['blend'] }> = [];
  settings.schedule.forEach((entry, order) => {
    const prompt = indexOf({
      prompt: fill(entry.prompt, '{prompt}', texts.prompt),
      negativePrompt: fill(entry.negative ?? settings.negative, '{negative}', texts.negative),
    });
    const where = `prompts.schedule[${order}]`;
    let times: number[];
    if (entry.section !== undefined) {
      const sections = context.analysis.sections;
      times = [];
      sections.forEach((section, i) => {
        if (section.label !== entry.section) return;
        times.push(section.startSec);
        // The entry holds for its section; then the prompt without a section comes back.
        const end = sections[i + 1]?.startSec ?? context.durationSec;
        if (end < context.durationSec) reverts.push({ timeSec: end, blend: entry.blend ?? settings.blend });
      });
      if (times.length === 0) missingSections.push({ label: entry.section, where });
    } else if (entry.bar !== undefined) times = [barStartSec(context.beats, entry.bar)];
    else if (entry.beat !== undefined) times = [beatStartSec(context.beats, entry.beat)];
    else times = [entry.time ?? 0];
    for (const t of times) {
      if (t >= context.durationSec)
        warnings.push(
          `${where} starts at ${t.toFixed(2)} s, after the song ends (${context.durationSec.toFixed(2)} s)`,
        );
      else
        events.push({
          timeSec: Math.max(0, t),
          order,
          prompt,
          blend: entry.blend ?? settings.blend,
          fromSection: entry.section !== undefined,
        });
    }
  });
  // A section's end returns to the latest entry without a section that started by then (none: the
  // section's prompt holds on). Any entry starting at the same time wins over the return.
  const base = events.filter((e) => !e.fromSection).sort((a, b) => a.timeSec - b.timeSec || a.order - b.order);
  for (const r of reverts) {
    const back = base[lastAtOrBefore(base, r.timeSec)];
    if (back) events.push({ timeSec: r.timeSec, order: -1, prompt: back.prompt, blend: r.blend, fromSection: false });
  }
  // Later entries win where two start at the same time — or in the same video frame: the earlier
  // one would never be shown (and would cost a weight curve over the whole song).
  events.sort((a, b) => a.timeSec - b.timeSec || a.order - b.order);
  const frameOf = (e: { timeSec: number }): number => frameAtSec(e.timeSec, context.fps);
  const kept = events.filter((e, i) => !(events[i + 1] && frameOf(events[i + 1]!) === frameOf(e)));
  const changes: PromptChange[] = [];
  for (const e of kept) {
    const previous = changes[changes.length - 1];
    if (previous && previous.prompt === e.prompt) continue;
    const blendStart = previous
      ? Math.max(previous.timeSec, secBefore(e.blend, e.timeSec, context.fps, context.beats))
      : e.timeSec;
    changes.push({ timeSec: e.timeSec, blendStartSec: Math.min(e.timeSec, blendStart), prompt: e.prompt });
  }
  if (changes.length === 0) {
    // Every entry pointed past the end or at a missing section: the first entry holds throughout.
    changes.push({ timeSec: 0, blendStartSec: 0, prompt: 0 });
  }
  // Only the prompts that are ever shown, numbered in the order they first appear.
  const used = [...new Set(changes.map((c) => c.prompt))];
  const usedIndex = new Map(used.map((p, i) => [p, i]));
  return {
    prompts: used.map((i) => prompts[i]!),
    changes: changes.map((c) => ({ ...c, prompt: usedIndex.get(c.prompt)! })),
    warnings,
    missingSections,
  };
}

/** The index of the last event at or before `timeSec` in events sorted by time (−1: none). */
function lastAtOrBefore(events: ReadonlyArray<{ timeSec: number }>, timeSec: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.timeSec <= timeSec) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export interface PromptChangeFrame {
  readonly frame: number;
  readonly blendFromFrame: number;
  readonly prompt: number;
}

/** The changes on the frame grid: a change is fully in from the frame its time falls in. */
export function promptChangeFrames(schedule: PromptSchedule, fps: Rational): PromptChangeFrame[] {
  return schedule.changes.map((c) => ({
    frame: frameAtSec(c.timeSec, fps),
    blendFromFrame: frameAtSec(c.blendStartSec, fps),
    prompt: c.prompt,
  }));
}

/**
 * Each prompt's weight per video frame; a frame's weights sum to 1. A change is fully in from the
 * frame its time falls in; a blend rises linearly over the frames from its start's frame to that
 * frame: w = (f − blendStart) / (change − blendStart).
 */
export function promptWeightsAtFrames(schedule: PromptSchedule, fps: Rational, frameCount: number): Float64Array[] {
  assertWeightsFit(schedule, frameCount);
  const weights = schedule.prompts.map(() => new Float64Array(frameCount));
  const mix = promptMixAtFrames(schedule, fps, frameCount);
  for (let f = 0; f < frameCount; f++) {
    const next = mix.next[f]!;
    if (next >= 0) {
      weights[next]![f]! += mix.nextWeight[f]!;
      weights[mix.current[f]!]![f]! += 1 - mix.nextWeight[f]!;
    } else weights[mix.current[f]!]![f] = 1;
  }
  return weights;
}

/**
 * At most two prompts have weight at a frame: the one in force, and the next while blending into
 * it. Per frame: `current`, `next` (−1 outside a blend) and next's weight — linear in frames and
 * changes, whatever the number of prompts.
 */
export interface PromptMix {
  readonly current: Int32Array;
  readonly next: Int32Array;
  readonly nextWeight: Float64Array;
}

export function promptMixAtFrames(schedule: PromptSchedule, fps: Rational, frameCount: number): PromptMix {
  const mix: PromptMix = {
    current: new Int32Array(frameCount),
    next: new Int32Array(frameCount).fill(-1),
    nextWeight: new Float64Array(frameCount),
  };
  const changes = promptChangeFrames(schedule, fps);
  let k = 0;
  for (let f = 0; f < frameCount; f++) {
    while (k + 1 < changes.length && changes[k + 1]!.frame <= f) k++;
    const current = changes[k]!;
    const next = changes[k + 1];
    mix.current[f] = current.prompt;
    if (next && f > next.blendFromFrame && next.frame > next.blendFromFrame) {
      mix.next[f] = next.prompt;
      mix.nextWeight[f] = (f - next.blendFromFrame) / (next.frame - next.blendFromFrame);
    }
  }
  return mix;
}

/**
 * keyframes.json holds a weight per prompt per frame: past this many, it would take gigabytes
 * (an hour at 30 fps with 1 000 prompts is 108 million). Refused with a clear line instead.
 */
export const MAX_PROMPT_WEIGHTS = 50_000_000;

function assertWeightsFit(schedule: PromptSchedule, frameCount: number): void {
  const count = schedule.prompts.length * frameCount;
  if (count <= MAX_PROMPT_WEIGHTS) return;
  throw usageError(
    'E_MAPPING_TOO_MANY_PROMPTS',
    `the prompt schedule shows ${schedule.prompts.length} different prompts over ${frameCount} frames: keyframes.json would hold ${count} prompt weights (at most ${MAX_PROMPT_WEIGHTS})`,
    `use at most ${Math.max(1, Math.floor(MAX_PROMPT_WEIGHTS / Math.max(1, frameCount)))} different prompts for a song this long at this frame rate, or a lower --fps`,
  );
}
