/**
 * The shape of a crossfade: how the incoming segment's weight rises over the C blended frames.
 * Frame k of the fade (0 ≤ k < C) sits at x = (k + 1) / (C + 1), so neither end is a pure copy of
 * one segment (those are the frames just outside the fade); the curve maps x to the weight.
 */
import type { CrossfadeCurve } from '../config/mapping-schema.js';

export function curveValue(curve: CrossfadeCurve, x: number): number {
  switch (curve) {
    case 'linear':
      return x;
    case 'smoothstep':
      return x * x * (3 - 2 * x);
    case 'smootherstep':
      return x * x * x * (x * (6 * x - 15) + 10);
    case 'ease-in':
      return x * x;
    case 'ease-out':
      return 1 - (1 - x) * (1 - x);
  }
}

/** Weight of the incoming segment at frame k of a crossfade that is `crossfadeFrames` long. */
export function crossfadeWeight(curve: CrossfadeCurve, k: number, crossfadeFrames: number): number {
  return curveValue(curve, (k + 1) / (crossfadeFrames + 1));
}
