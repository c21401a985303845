/**
 * analysis + mapping → keyframes: every signal and target per video frame, the prompt weights per
 * frame, and the segments with one value per segment for what a sampler call fixes (denoise, cfg,
 * seed, prompt, LoRA strengths).
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import type { Mapping, Reducer, TargetDef } from '../config/mapping-schema.js';
import type { PromptTexts } from '../config/prompt-texts.js';
import { round } from '../shared/math.js';
import {
  KEYFRAMES_VERSION,
  type Keyframes,
  type KeyframeSegment,
  type LoraStrength,
  type PromptWeight,
} from './keyframes-schema.js';
import { planSegments, type Alignment, type PlannedSegment } from './plan-segments.js';
import {
  promptChangeFrames,
  promptMixAtFrames,
  promptWeightsAtFrames,
  schedulePrompts,
  type PromptMix,
} from './prompt-schedule.js';
import { seedEventTimes, seedsForSegments } from './seed-schedule.js';
import { beatGridOf, FALLBACK_BPM, gridOf, signalAtFrames, type SignalContext } from './signals.js';
import { durationSec, frameAtSec, frameCountFor, type Rational, type SampleDuration } from '../shared/media-time.js';

export interface KeyframeOptions {
  readonly fps: Rational;
  readonly duration: SampleDuration;
  /** What {prompt} and {negative} stand for (see config/prompt-texts.ts). */
  readonly texts: PromptTexts;
  readonly seed: number;
}

/** base + Σ amount · signal, clamped to the range when there is one. */
export function evaluateTarget(
  target: TargetDef,
  signals: ReadonlyMap<string, Float64Array>,
  frameCount: number,
): Float64Array {
  const out = new Float64Array(frameCount).fill(target.base);
  for (const [name, amount] of Object.entries(target.add)) {
    const signal = signals.get(name);
    if (!signal)
      throw new Error(`target refers to signal '${name}', which the mapping validation should have rejected`);
    for (let f = 0; f < frameCount; f++) out[f]! += amount * signal[f]!;
  }
  if (target.range) {
    const [lo, hi] = target.range;
    for (let f = 0; f < frameCount; f++) out[f] = Math.min(hi, Math.max(lo, out[f]!));
  }
  return out;
}

/** A segment's frames, and the onsets (frame, strength) that fall inside them. */
export interface SegmentSpan {
  readonly startFrame: number;
  readonly frameCount: number;
  readonly leadFrame: number;
}

/**
 * One value for a segment: mean, max or min over its frames; `start`: at its lead frame (where it
 * takes over); `onset`: at its strongest onset (the earliest of equals), or at its lead frame when
 * none falls inside it.
 */
export function reduceOverSegment(
  curve: ArrayLike<number>,
  segment: SegmentSpan,
  how: Reducer,
  onsets: ReadonlyArray<{ frame: number; strength: number }> = [],
): number {
  const from = segment.startFrame;
  const to = segment.startFrame + segment.frameCount;
  switch (how) {
    case 'mean': {
      let sum = 0;
      for (let f = from; f < to; f++) sum += curve[f]!;
      return sum / (to - from);
    }
    case 'max': {
      let peak = -Infinity;
      for (let f = from; f < to; f++) peak = Math.max(peak, curve[f]!);
      return peak;
    }
    case 'min': {
      let low = Infinity;
      for (let f = from; f < to; f++) low = Math.min(low, curve[f]!);
      return low;
    }
    case 'start':
      return curve[segment.leadFrame]!;
    case 'onset': {
      let best: { frame: number; strength: number } | undefined;
      for (const o of onsets) {
        if (
          o.frame >= from &&
          o.frame < to &&
          (!best || o.strength > best.strength || (o.strength === best.strength && o.frame < best.frame))
        )
          best = o;
      }
      return curve[best ? best.frame : segment.leadFrame]!;
    }
  }
}

function indexAtOrBefore(frames: readonly number[], frame: number): number {
  let index = -1;
  for (let i = 0; i < frames.length && frames[i]! <= frame; i++) index = i;
  return index;
}

export function buildKeyframes(analysis: Analysis, mapping: Mapping, options: KeyframeOptions): Keyframes {
  const { fps, duration } = options;
  const frameCount = frameCountFor(duration, fps);
  const songSec = durationSec(duration);
  const { grid: beats, steady } = beatGridOf(analysis);
  const context: SignalContext = { analysis, grid: gridOf(analysis), beats, fps };
  const warnings: string[] = [];
  if (steady)
    warnings.push(
      `no beat found: lengths in beats and bars, bar and beat numbers use a steady ${analysis.bpm ?? FALLBACK_BPM} BPM from 0 s`,
    );

  const missingSections: Array<{ label: string; where: string }> = [];
  const signals = new Map<string, Float64Array>();
  for (const [name, def] of Object.entries(mapping.signals)) {
    signals.set(name, signalAtFrames(def, context, frameCount));
    for (const label of def.onlyIn ?? []) {
      if (!analysis.sections.some((s) => s.label === label))
        missingSections.push({ label, where: `signals.${name}.onlyIn` });
    }
  }
  const targets = mapping.targets;
  const motionScale = evaluateTarget(targets.motionScale, signals, frameCount);
  const denoise = evaluateTarget(targets.denoise, signals, frameCount);
  const cfg = evaluateTarget(targets.cfg, signals, frameCount);
  // A named family of targets (LoRA strengths, motion LoRA strengths): each name's curve.
  const evaluateAll = (family: Readonly<Record<string, TargetDef>>): Map<string, Float64Array> =>
    new Map(Object.entries(family).map(([name, target]) => [name, evaluateTarget(target, signals, frameCount)]));
  const loras = evaluateAll(targets.loras);
  const motionEffect = targets.motionEffect ? evaluateTarget(targets.motionEffect, signals, frameCount) : undefined;
  const motionLoras = evaluateAll(targets.motionLoras);

  const planned = planSegments(frameCount, mapping.segments, alignmentFor(analysis, mapping, fps, warnings));

  const schedule = schedulePrompts(mapping.prompts, options.texts, { analysis, beats, fps, durationSec: songSec });
  warnings.push(...schedule.warnings);
  missingSections.push(...schedule.missingSections);
  if (missingSections.length > 0) warnings.push(missingSectionsWarning(missingSections));
  const promptWeights = promptWeightsAtFrames(schedule, fps, frameCount);
  const promptMix = promptMixAtFrames(schedule, fps, frameCount);

  // A segment belongs to the section in effect at its lead frame (the frame a section starts in counts).
  const sectionStartFrames = analysis.sections.map((s) => frameAtSec(s.startSec, fps));
  const sectionOf = (segment: PlannedSegment): number =>
    Math.max(0, indexAtOrBefore(sectionStartFrames, segment.leadFrame));
  const seeds = seedsForSegments(
    mapping.seed,
    options.seed,
    planned.map((s) => s.leadFrame),
    planned.map(sectionOf),
    analysis.sections.map((s) => s.label),
    seedEventTimes(mapping.seed, { analysis, beats, fps, durationSec: songSec }),
    fps,
  );
  const onsets = analysis.onsets.map((t, i) => ({
    frame: frameAtSec(t, fps),
    strength: analysis.onsetStrengths[i] ?? 0,
  }));
  const reduce = (curve: Float64Array, segment: PlannedSegment, how: Reducer): number =>
    round(reduceOverSegment(curve, segment, how, onsets), 4);

  // Each name's strength over a segment, reduced as its target says.
  const strengthsOver = (
    curves: ReadonlyMap<string, Float64Array>,
    family: Readonly<Record<string, TargetDef>>,
    segment: PlannedSegment,
  ): LoraStrength[] =>
    [...curves].map(([name, curve]) => ({ name, strength: reduce(curve, segment, family[name]!.reduce) }));

  const segments: KeyframeSegment[] = planned.map((segment, k) => {
    const blend = promptBlendAt(schedule.prompts, promptMix, segment.leadFrame);
    return {
      ...segment,
      section: analysis.sections[sectionOf(segment)]?.label ?? 'verse',
      motionScale: reduce(motionScale, segment, targets.motionScale.reduce),
      denoise: reduce(denoise, segment, targets.denoise.reduce),
      cfg: reduce(cfg, segment, targets.cfg.reduce),
      seed: seeds[k]!,
      prompt: blend[0]!.prompt,
      negativePrompt: blend[0]!.negativePrompt,
      promptBlend: blend,
      loras: strengthsOver(loras, targets.loras, segment),
      ...(motionLoras.size > 0 ? { motionLoras: strengthsOver(motionLoras, targets.motionLoras, segment) } : {}),
    };
  });

  const toArray = (values: Float64Array): number[] => Array.from(values, (v) => round(v, 4));
  const arraysOf = (curves: ReadonlyMap<string, Float64Array>): Record<string, number[]> =>
    Object.fromEntries([...curves].map(([name, values]) => [name, toArray(values)]));
  return {
    version: KEYFRAMES_VERSION,
    fps,
    frameCount,
    durationSec: round(songSec, 6),
    sampleCount: duration.sampleCount,
    sampleRateHz: duration.sampleRateHz,
    continuity: mapping.segments.continuity,
    takeFrames: mapping.segments.takeFrames,
    bpm: analysis.bpm,
    beatsPerBar: analysis.beatsPerBar,
    warnings,
    signals: Object.fromEntries([...signals].map(([name, values]) => [name, toArray(values)])),
    curves: {
      motionScale: toArray(motionScale),
      denoise: toArray(denoise),
      cfg: toArray(cfg),
      loras: arraysOf(loras),
      ...(motionEffect ? { motionEffect: toArray(motionEffect) } : {}),
      ...(motionLoras.size > 0 ? { motionLoras: arraysOf(motionLoras) } : {}),
    },
    prompts: schedule.prompts.map((p, i) => ({ ...p, weights: toArray(promptWeights[i]!) })),
    promptChanges: promptChangeFrames(schedule, fps).filter((c) => c.frame < Math.max(1, frameCount)),
    segments,
  };
}

/** One line for every section label the mapping uses and the song lacks. */
function missingSectionsWarning(missing: ReadonlyArray<{ label: string; where: string }>): string {
  const labels = [...new Set(missing.map((m) => m.label))];
  const list = labels.length === 1 ? labels[0]! : `${labels.slice(0, -1).join(', ')} or ${labels.at(-1)!}`;
  return `the song has no ${list} section, so ${missing.map((m) => m.where).join(', ')} ${missing.length === 1 ? 'does' : 'do'} not apply`;
}

/** Where transitions should land: bar starts (beats second best), beats, or anywhere. */
function alignmentFor(analysis: Analysis, mapping: Mapping, fps: Rational, warnings: string[]): Alignment {
  const toFrames = (times: readonly number[]): number[] => times.map((t) => frameAtSec(t, fps));
  switch (mapping.segments.align) {
    case 'none':
      return { primary: [] };
    case 'beats':
      if (analysis.beats.length === 0)
        warnings.push('segments.align: beats, but the song has no beats: transitions are evenly spaced');
      return { primary: toFrames(analysis.beats) };
    case 'downbeats':
      if (analysis.downbeats.length === 0)
        warnings.push('segments.align: downbeats, but the song has no bar starts: transitions are evenly spaced');
      return { primary: toFrames(analysis.downbeats), secondary: toFrames(analysis.beats) };
  }
}

/** The prompts with weight at a frame, strongest first (ties: schedule order), weights rounded and summing to 1. */
function promptBlendAt(
  prompts: ReadonlyArray<{ prompt: string; negativePrompt: string }>,
  mix: PromptMix,
  frame: number,
): PromptWeight[] {
  // Only the (at most two) prompts with weight at the frame: linear in segments, whatever the number of prompts.
  const current = mix.current[frame];
  const next = mix.next[frame] ?? -1;
  const nextWeight = mix.nextWeight[frame] ?? 0;
  const candidates =
    current === undefined
      ? []
      : next >= 0
        ? [
            { index: current, weight: 1 - nextWeight },
            { index: next, weight: nextWeight },
          ]
        : [{ index: current, weight: 1 }];
  const present = candidates
    .map(({ index, weight }) => ({ ...prompts[index]!, weight, order: index }))
    .filter((p) => p.weight > 1e-6)
    .sort((a, b) => b.weight - a.weight || a.order - b.order);
  if (present.length === 0) return [{ ...prompts[0]!, weight: 1 }];
  const rounded = present.map(({ prompt, negativePrompt, weight }) => ({
    prompt,
    negativePrompt,
    weight: round(weight, 4),
  }));
  // Rounding must not break "weights sum to 1": the strongest absorbs the difference.
  rounded[0]!.weight = round(1 - rounded.slice(1).reduce((s, p) => s + p.weight, 0), 4);
  return rounded;
}
