/**
 * Where there is no beat, there are no beats. The beat tracker chains beats through everything
 * (its score only penalises irregular intervals), so its beats are pruned afterwards:
 *
 * - At the edges of the song and of every passage between gaps (below): leading and trailing
 *   beats where the tempo path hears no beat, or where the envelope at the beat is below a fifth
 *   of the song's typical beat (a fade-out, a ringing last chord).
 * - Inside the song: runs of beats that fall in silence (50 dB below the song's loud level) for
 *   longer than a musical stop (`MIN_GAP_SEC`: a band stopping for a bar or two keeps its beat,
 *   and annotators keep it), or in a passage without pulse (the tempo path's periodicity below
 *   the beat threshold) for longer than one tempo window (`MIN_PULSELESS_SEC`: a free-time
 *   interlude, a gap between two pieces in a mix). A break without drums still has its pulse
 *   and keeps its beats.
 */
import { median, peakNear } from '../shared/math.js';

/** Edge beats weaker than this fraction of the median beat are dropped. */
const EDGE_STRENGTH_RATIO = 0.2;
/** Silence: this far (dB) below the song's loud level (its 90th-percentile RMS). */
const GAP_BELOW_LOUD_DB = 50;
/** Shortest silent stretch inside a song that loses its beats (s): longer than a two-bar stop. */
export const MIN_GAP_SEC = 4;
/** Shortest pulseless stretch inside a song that loses its beats (s): about one tempo window. */
export const MIN_PULSELESS_SEC = 12;

export interface PulseContext {
  /** The beat envelope (analysis frames). */
  readonly envelope: Float32Array;
  readonly frameRate: number;
  /** RMS per envelope frame, and analysis frames per envelope frame. */
  readonly rms: Float32Array;
  readonly envelopeStride: number;
  /** The song's loud level (RMS). */
  readonly loudRms: number;
  /** Whether the tempo path hears a beat at an analysis frame. */
  readonly present: (frame: number) => boolean;
}

/** The beats without those in gaps; each passage between gaps is trimmed at its edges like the song. */
export function keepBeatsWithPulse(frames: readonly number[], context: PulseContext): number[] {
  if (frames.length === 0) return [];
  const floor = EDGE_STRENGTH_RATIO * median(frames.map((f) => peakNear(context.envelope, f, 2)));
  return passagesBetweenGaps(frames, context).flatMap((passage) => trimEdges(passage, floor, context));
}

function trimEdges(frames: readonly number[], floor: number, context: PulseContext): number[] {
  if (frames.length === 0) return [];
  const strengths = frames.map((f) => peakNear(context.envelope, f, 2));
  const keep = (i: number): boolean => context.present(frames[i]!) && strengths[i]! >= floor;
  let first = 0;
  while (first < frames.length && !keep(first)) first++;
  let last = frames.length - 1;
  while (last >= first && !keep(last)) last--;
  return frames.slice(first, last + 1);
}

/** Whether the audio is silent around `frame` (± half the distance to the neighbouring beats). */
function silentAround(frame: number, halfSpanFrames: number, context: PulseContext): boolean {
  const threshold = context.loudRms * 10 ** (-GAP_BELOW_LOUD_DB / 20);
  const lo = Math.max(0, Math.floor((frame - halfSpanFrames) / context.envelopeStride));
  const hi = Math.min(context.rms.length - 1, Math.ceil((frame + halfSpanFrames) / context.envelopeStride));
  for (let e = lo; e <= hi; e++) if (context.rms[e]! >= threshold) return false;
  return true;
}

function passagesBetweenGaps(frames: readonly number[], context: PulseContext): number[][] {
  const n = frames.length;
  if (n < 3) return [[...frames]];
  /** Half the local beat interval at beat i. */
  const halfSpan = (i: number): number => {
    const interval =
      i === 0
        ? frames[1]! - frames[0]!
        : i === n - 1
          ? frames[n - 1]! - frames[n - 2]!
          : (frames[i + 1]! - frames[i - 1]!) / 2;
    return interval / 2;
  };
  const silent = frames.map((f, i) => silentAround(f, halfSpan(i), context));
  const pulseless = frames.map((f) => !context.present(f));
  const drop = new Uint8Array(n);
  const markRuns = (flags: boolean[], minSec: number): void => {
    for (let i = 0; i < n;) {
      if (!flags[i]) {
        i++;
        continue;
      }
      let j = i;
      while (j + 1 < n && flags[j + 1]) j++;
      // The run's extent: from half a beat before its first beat to half a beat after its last.
      const spanSec = (frames[j]! - frames[i]! + halfSpan(i) + halfSpan(j)) / context.frameRate;
      if (spanSec >= minSec) drop.fill(1, i, j + 1);
      i = j + 1;
    }
  };
  markRuns(silent, MIN_GAP_SEC);
  markRuns(pulseless, MIN_PULSELESS_SEC);
  const passages: number[][] = [[]];
  frames.forEach((f, i) => {
    if (drop[i] === 0) passages.at(-1)!.push(f);
    else if (passages.at(-1)!.length > 0) passages.push([]);
  });
  return passages;
}
