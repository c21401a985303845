/**
 * analysis + mapping → keyframes: every signal and target per video frame, and the segments
 * with one value per segment for what a sampler call fixes (denoise, seed…).
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import type { Mapping, TargetDef } from '../config/mapping-schema.js';
import { round } from '../analysis/signal-utils.js';
import { KEYFRAMES_VERSION, type Keyframes, type KeyframeSegment } from './keyframes-schema.js';
import { planSegments, type PlannedSegment } from './plan-segments.js';
import { gridOf, sampleAtFrames, secPerBeatOf, shapeSignal } from './signals.js';
import { durationSec, formatFps, fpsValue, frameAtSec, frameCountFor, frameStartSec, type Rational, type SampleDuration } from './time.js';

export interface KeyframeOptions {
  readonly fps: Rational;
  readonly duration: SampleDuration;
  readonly prompt: string;
  readonly seed: number;
}

/** base + Σ amount · signal, clamped to the range. */
export function evaluateTarget(target: TargetDef, signals: ReadonlyMap<string, Float32Array>, frameCount: number): Float32Array {
  const out = new Float32Array(frameCount).fill(target.base);
  for (const term of target.add) {
    const signal = signals.get(term.signal);
    if (!signal) continue;
    for (let f = 0; f < frameCount; f++) out[f]! += term.amount * signal[f]!;
  }
  const [lo, hi] = target.range;
  for (let f = 0; f < frameCount; f++) out[f] = Math.min(hi, Math.max(lo, out[f]!));
  return out;
}

/** One value for a segment: mean or max over its frames, or the value where it takes over. */
export function reduceOverSegment(curve: Float32Array, segment: PlannedSegment, how: TargetDef['reduce']): number {
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
    case 'start':
      return curve[segment.leadFrame]!;
  }
}

function indexAtOrBefore(times: readonly number[], t: number): number {
  let index = -1;
  for (let i = 0; i < times.length && times[i]! <= t + 1e-9; i++) index = i;
  return index;
}

export function buildKeyframes(analysis: Analysis, mapping: Mapping, options: KeyframeOptions): Keyframes {
  const { fps, duration } = options;
  const frameCount = frameCountFor(duration, fps);
  const secPerBeat = secPerBeatOf(analysis);
  const context = { fps: fpsValue(fps), secPerBeat, beatsPerBar: analysis.beatsPerBar };
  const grid = gridOf(analysis);

  const signals = new Map<string, Float32Array>();
  for (const [name, def] of Object.entries(mapping.signals)) {
    signals.set(name, sampleAtFrames(shapeSignal(def, analysis, context), grid, fps, frameCount));
  }
  const motionScale = evaluateTarget(mapping.targets.motionScale, signals, frameCount);
  const denoise = evaluateTarget(mapping.targets.denoise, signals, frameCount);

  const seg = mapping.segments;
  const toFrames = (times: readonly number[]): number[] => times.map((t) => frameAtSec(t, fps));
  const alignment =
    seg.align === 'downbeats'
      ? { primary: toFrames(analysis.downbeats), secondary: toFrames(analysis.beats) }
      : seg.align === 'beats'
        ? { primary: toFrames(analysis.beats) }
        : { primary: [] };
  const planned = planSegments(frameCount, seg, alignment);

  const sectionStarts = analysis.sections.map((s) => s.startSec);
  const barSec = secPerBeat * analysis.beatsPerBar;
  const segments: KeyframeSegment[] = planned.map((segment) => {
    const t = frameStartSec(segment.leadFrame, fps);
    const sectionIndex = Math.max(0, indexAtOrBefore(sectionStarts, t));
    let seedOffset = 0;
    switch (mapping.seed.change) {
      case 'never':
        break;
      case 'section':
        seedOffset = sectionIndex;
        break;
      case 'bars': {
        const bar = analysis.downbeats.length > 0 ? Math.max(0, indexAtOrBefore(analysis.downbeats, t)) : Math.floor(t / barSec);
        seedOffset = Math.floor(bar / mapping.seed.everyBars);
        break;
      }
    }
    return {
      ...segment,
      motionScale: round(reduceOverSegment(motionScale, segment, mapping.targets.motionScale.reduce), 4),
      denoise: round(reduceOverSegment(denoise, segment, mapping.targets.denoise.reduce), 4),
      seed: options.seed + seedOffset,
      prompt: options.prompt,
      section: analysis.sections[sectionIndex]?.label ?? 'verse',
    };
  });

  const toArray = (values: Float32Array): number[] => Array.from(values, (v) => round(v, 4));
  return {
    version: KEYFRAMES_VERSION,
    fps: formatFps(fps),
    frameCount,
    durationSec: round(durationSec(duration), 6),
    sampleCount: duration.sampleCount,
    sampleRateHz: duration.sampleRateHz,
    continuity: seg.continuity,
    signals: Object.fromEntries([...signals].map(([name, values]) => [name, toArray(values)])),
    curves: { motionScale: toArray(motionScale), denoise: toArray(denoise) },
    segments,
  };
}
