/**
 * Which segment frames make each timeline frame, and with what weights. Segments overlap; each
 * transition has a lead frame (where the incoming segment takes over) and a crossfade of C frames
 * around it. Every timeline frame f is made from frame f − startFrame of its segments, so a
 * crossfade blends frames that belong at the same time: it never shortens the video or shifts
 * anything after it.
 */
import type { CrossfadeCurve, TransitionSettings } from '../config/mapping-schema.js';
import type { PlannedSegment } from '../keyframes/plan-segments.js';
import { frameAtSec, type Rational } from '../shared/media-time.js';
import { crossfadeWeight } from './crossfade-curve.js';

export interface FrameSource {
  readonly segment: number;
  /** Frame index inside the segment. */
  readonly localFrame: number;
  readonly weight: number;
}

/** First frame of the crossfade into `incoming`: C frames [lead − ⌊C/2⌋, lead − ⌊C/2⌋ + C). */
export function fadeStart(incoming: PlannedSegment): number {
  return incoming.leadFrame - Math.floor(incoming.crossfadeFrames / 2);
}

function blendOf(from: PlannedSegment, to: PlannedSegment, frame: number, curve: CrossfadeCurve): FrameSource[] {
  const w = crossfadeWeight(curve, frame - fadeStart(to), to.crossfadeFrames);
  return [
    { segment: from.index, localFrame: frame - from.startFrame, weight: 1 - w },
    { segment: to.index, localFrame: frame - to.startFrame, weight: w },
  ];
}

/**
 * The sources of timeline frame `frame`, weights summing to 1: one segment outside crossfades,
 * two inside one (outgoing first). A crossfade of 0 frames is a hard cut at the lead frame.
 */
export function frameSources(
  segments: readonly PlannedSegment[],
  frame: number,
  curve: CrossfadeCurve = 'linear',
): FrameSource[] {
  // The segment leading at `frame`: the last whose leadFrame ≤ frame.
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segments[mid]!.leadFrame <= frame) lo = mid;
    else hi = mid - 1;
  }
  const current = segments[lo]!;
  const next = segments[lo + 1];
  if (next && next.crossfadeFrames > 0 && frame >= fadeStart(next)) return blendOf(current, next, frame, curve);
  const previous = segments[lo - 1];
  if (previous && current.crossfadeFrames > 0 && frame < fadeStart(current) + current.crossfadeFrames)
    return blendOf(previous, current, frame, curve);
  return [{ segment: current.index, localFrame: frame - current.startFrame, weight: 1 }];
}

/** The frames where a transition becomes a hard cut: those holding a beat or a bar start. */
export function cutFramesFor(
  cutOn: TransitionSettings['cutOn'],
  beats: { readonly beats: readonly number[]; readonly downbeats: readonly number[] },
  fps: Rational,
): Set<number> {
  switch (cutOn) {
    case 'none':
      return new Set();
    case 'beats':
      return new Set(beats.beats.map((t) => frameAtSec(t, fps)));
    case 'downbeats':
      return new Set(beats.downbeats.map((t) => frameAtSec(t, fps)));
  }
}

/** Transitions whose lead frame is a cut frame lose their crossfade: the new segment starts on that frame. */
export function applyCuts(segments: readonly PlannedSegment[], cutFrames: ReadonlySet<number>): PlannedSegment[] {
  return segments.map((s) =>
    s.index > 0 && s.crossfadeFrames > 0 && cutFrames.has(s.leadFrame) ? { ...s, crossfadeFrames: 0 } : s,
  );
}

/** The mapping's transition settings, resolved against the song's beats at this frame rate. */
export function transitionsFor(
  settings: TransitionSettings,
  beats: { readonly beats: readonly number[]; readonly downbeats: readonly number[] },
  fps: Rational,
): { curve: CrossfadeCurve; cutFrames: Set<number> } {
  return { curve: settings.curve, cutFrames: cutFramesFor(settings.cutOn, beats, fps) };
}
