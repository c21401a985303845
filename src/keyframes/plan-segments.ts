/**
 * Cuts the timeline into engine segments (DESIGN.md §3). Every frame is covered; neighbours
 * overlap; each transition has a frame where the next segment takes over, and when alignment
 * frames are given (beats or bar starts) the stride is chosen so that frame lands on one.
 */

export interface SegmentPlanOptions {
  /** Frames per segment (AnimateDiff's context: 16). */
  readonly frames: number;
  /** Default overlap when no alignment frame is in reach. */
  readonly overlap: number;
  readonly minOverlap: number;
  readonly maxOverlap: number;
  /** Crossfade length in frames, centred on each transition; 0 = hard cut. */
  readonly crossfade: number;
}

export interface PlannedSegment {
  readonly index: number;
  readonly startFrame: number;
  readonly frameCount: number;
  /** First frame where this segment leads (≥ half weight); equals startFrame for the first. */
  readonly leadFrame: number;
  /** Frames of crossfade from the previous segment, centred on leadFrame (see stitching/frame-sources.ts). */
  readonly crossfadeFrames: number;
}

/** The frame where the later of two overlapping segments takes over when nothing else decides: the overlap's middle. */
export function takeoverFrame(nextStart: number, previousEnd: number): number {
  return nextStart + Math.floor((previousEnd - nextStart) / 2);
}

/**
 * The frames where a transition between segments overlapping on [nextStart, previousEnd) may
 * take over: the crossfade [lead − ⌊C/2⌋, lead − ⌊C/2⌋ + C) must lie inside the overlap.
 */
export function takeoverRange(nextStart: number, previousEnd: number, crossfade: number): [number, number] {
  const c = Math.min(crossfade, previousEnd - nextStart);
  const half = Math.floor(c / 2);
  return [nextStart + half, c === 0 ? previousEnd : previousEnd - c + half];
}

/** Cost of a transition that misses every alignment frame, in segments (when alignment is asked). */
const MISSED_ALIGNMENT_COST = 1;
/** Cost of a transition that lands on a secondary frame (a beat, when bars were asked for). */
const SECONDARY_ALIGNMENT_COST = 0.5;

export interface Alignment {
  /** Frames a transition should land on (bar starts, or beats). */
  readonly primary: readonly number[];
  /** Second-best frames (beats, when bar starts were asked for). */
  readonly secondary?: readonly number[];
}
/** Cost per frame of stride away from the default: enough that, unaligned, the default overlap wins. */
const STRIDE_DEVIATION_COST = 0.25;

/**
 * Chooses segment starts by dynamic programming over start frames: every segment costs 1, every
 * transition that misses the alignment frames costs MISSED_ALIGNMENT_COST more, strides stay within
 * [frames − maxOverlap, frames − minOverlap], and the last segment ends exactly on the last frame
 * (its stride may be shorter: it is pulled back to fit). Segments are `frames` long unless the
 * whole timeline is shorter.
 */
export function planSegments(
  frameCount: number,
  options: SegmentPlanOptions,
  alignment: Alignment = { primary: [] },
): PlannedSegment[] {
  const { frames } = options;
  if (frameCount <= 0) return [];
  if (frameCount <= frames) return [{ index: 0, startFrame: 0, frameCount, leadFrame: 0, crossfadeFrames: 0 }];
  const minStride = Math.max(1, frames - options.maxOverlap);
  const maxStride = Math.max(minStride, frames - options.minOverlap);
  const defaultStride = frames - options.overlap;
  const primary = new Set(alignment.primary);
  const secondary = new Set(alignment.secondary ?? []);
  /** The best lead frame for a transition and what it costs: a primary frame, else a secondary, else the middle. */
  const chooseLead = (nextStart: number, previousEnd: number): { lead: number; cost: number } => {
    const middle = takeoverFrame(nextStart, previousEnd);
    if (primary.size === 0) return { lead: middle, cost: 0 };
    const [lo, hi] = takeoverRange(nextStart, previousEnd, options.crossfade);
    let best = { lead: middle, cost: MISSED_ALIGNMENT_COST };
    for (let t = lo; t <= hi; t++) {
      const c = primary.has(t) ? 0 : secondary.has(t) ? SECONDARY_ALIGNMENT_COST : MISSED_ALIGNMENT_COST;
      // Prefer the cheaper frame, then the one nearer the middle of the overlap.
      if (
        c < best.cost ||
        (c === best.cost && c < MISSED_ALIGNMENT_COST && Math.abs(t - middle) < Math.abs(best.lead - middle))
      )
        best = { lead: t, cost: c };
    }
    return best;
  };
  const lastStart = frameCount - frames;

  const cost = new Float64Array(lastStart + 1).fill(Infinity);
  const from = new Int32Array(lastStart + 1).fill(-1);
  cost[0] = 0;
  for (let p = 1; p <= lastStart; p++) {
    const lowest = p - maxStride;
    const highest = p === lastStart ? p - 1 : p - minStride;
    for (let q = Math.max(0, lowest); q <= highest; q++) {
      if (cost[q] === Infinity) continue;
      const stride = p - q;
      const c =
        cost[q]! + 1 + STRIDE_DEVIATION_COST * Math.abs(stride - defaultStride) + chooseLead(p, q + frames).cost;
      if (c < cost[p]!) {
        cost[p] = c;
        from[p] = q;
      }
    }
  }
  const starts: number[] = [];
  for (let p = lastStart; p >= 0; p = from[p]!) {
    starts.push(p);
    if (p === 0) break;
  }
  starts.reverse();

  return starts.map((startFrame, index) => {
    if (index === 0) return { index, startFrame, frameCount: frames, leadFrame: 0, crossfadeFrames: 0 };
    const previousEnd = starts[index - 1]! + frames;
    return {
      index,
      startFrame,
      frameCount: frames,
      leadFrame: chooseLead(startFrame, previousEnd).lead,
      crossfadeFrames: Math.min(options.crossfade, previousEnd - startFrame),
    };
  });
}
