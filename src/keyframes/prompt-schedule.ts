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
  const indexOf = (p: ScheduledPrompt): number => {
    const found = prompts.findIndex((q) => q.prompt === p.prompt && q.negativePrompt === p.negativePrompt);
    if (found >= 0) return found;
    prompts.push(p);
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
    const back = base.findLast((e) => e.timeSec <= r.timeSec);
    if (back) events.push({ timeSec: r.timeSec, order: -1, prompt: back.prompt, blend: r.blend, fromSection: false });
  }
  // Later entries win where two start at the same time.
  events.sort((a, b) => a.timeSec - b.timeSec || a.order - b.order);
  const kept = events.filter((e, i) => !(events[i + 1] && events[i + 1]!.timeSec === e.timeSec));
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
  return {
    prompts: used.map((i) => prompts[i]!),
    changes: changes.map((c) => ({ ...c, prompt: used.indexOf(c.prompt) })),
    warnings,
    missingSections,
  };
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
  const weights = schedule.prompts.map(() => new Float64Array(frameCount));
  const changes = promptChangeFrames(schedule, fps).map((c) => ({
    frame: c.frame,
    blendFrame: c.blendFromFrame,
    prompt: c.prompt,
  }));
  let k = 0;
  for (let f = 0; f < frameCount; f++) {
    while (k + 1 < changes.length && changes[k + 1]!.frame <= f) k++;
    const current = changes[k]!;
    const next = changes[k + 1];
    if (next && f > next.blendFrame && next.frame > next.blendFrame) {
      const w = (f - next.blendFrame) / (next.frame - next.blendFrame);
      weights[next.prompt]![f]! += w;
      weights[current.prompt]![f]! += 1 - w;
    } else {
      weights[current.prompt]![f] = 1;
    }
  }
  return weights;
}
