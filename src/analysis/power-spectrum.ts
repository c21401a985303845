/**
 * Power spectra of real frames with PFFFT (Pommier's SIMD FFT, compiled to WebAssembly with SIMD by
 * @echogarden/pffft-wasm). Measured here for 1024 points: about 2 µs a frame, against about 10 µs
 * for fft.js (radix-4 JavaScript) and 30 µs for a plain radix-2 JavaScript FFT; the FFT was most
 * of the analysis time before.
 */
import PFFFT from '@echogarden/pffft-wasm/simd';

const PFFFT_REAL = 0;
const PFFFT_FORWARD = 0;
const PFFFT_BACKWARD = 1;

export interface PowerSpectrum {
  readonly size: number;
  /** The frame to transform: fill it (already windowed), then call `compute`. */
  readonly input: Float32Array;
  /** |X_k|² for k = 0 … size/2, unnormalised (a full-scale sine under a Hann window peaks at (size/4)²). */
  readonly power: Float32Array;
  compute(): void;
}

let modulePromise: Promise<PffftModule> | undefined;

/** One WebAssembly instance per process; each spectrum gets its own buffers in it. */
export async function createPowerSpectrum(size: number): Promise<PowerSpectrum> {
  if (size < 32 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size must be a power of two ≥ 32, got ${size}`);
  modulePromise ??= PFFFT();
  const m = await modulePromise;
  const setup = m._pffft_new_setup(size, PFFFT_REAL);
  const inPtr = m._pffft_aligned_malloc(size * 4);
  const outPtr = m._pffft_aligned_malloc(size * 4);
  const workPtr = m._pffft_aligned_malloc(size * 4);
  const input = new Float32Array(size);
  const power = new Float32Array(size / 2 + 1);
  const half = size / 2;
  return {
    size,
    input,
    power,
    compute(): void {
      // The heap view is fetched per call: a memory growth elsewhere replaces the buffer.
      const heap = m.HEAPF32;
      heap.set(input, inPtr >> 2);
      m._pffft_transform_ordered(setup, inPtr, outPtr, workPtr, PFFFT_FORWARD);
      const o = outPtr >> 2;
      // Ordered real output: [X_0, X_{N/2}, Re X_1, Im X_1, Re X_2, …].
      const dc = heap[o]!;
      const nyquist = heap[o + 1]!;
      power[0] = dc * dc;
      power[half] = nyquist * nyquist;
      for (let k = 1, j = o + 2; k < half; k++, j += 2) {
        const re = heap[j]!;
        const im = heap[j + 1]!;
        power[k] = re * re + im * im;
      }
    },
  };
}

export interface Autocorrelation {
  /** Signal length handled; the FFT is twice as long, so the result is linear, not circular. */
  readonly length: number;
  /** Fill with the (mean-removed) signal; zeros beyond what you fill. */
  readonly input: Float32Array;
  /** Σ_i x[i]·x[i+lag] for lag = 0 … length − 1, after `compute`. */
  readonly output: Float32Array;
  compute(): void;
}

/** Autocorrelation by FFT (Wiener–Khinchin): O(n log n) instead of O(n²) per window. */
export async function createAutocorrelation(length: number): Promise<Autocorrelation> {
  const size = length * 2;
  const spectrum = await createPowerSpectrum(size);
  const m = await modulePromise!;
  const setup = m._pffft_new_setup(size, PFFFT_REAL);
  const inPtr = m._pffft_aligned_malloc(size * 4);
  const outPtr = m._pffft_aligned_malloc(size * 4);
  const workPtr = m._pffft_aligned_malloc(size * 4);
  const input = new Float32Array(length);
  const output = new Float32Array(length);
  const half = size / 2;
  return {
    length,
    input,
    output,
    compute(): void {
      spectrum.input.fill(0);
      spectrum.input.set(input);
      spectrum.compute();
      const p = spectrum.power;
      const heap = m.HEAPF32;
      const i0 = inPtr >> 2;
      heap[i0] = p[0]!;
      heap[i0 + 1] = p[half]!;
      for (let k = 1; k < half; k++) {
        heap[i0 + 2 * k] = p[k]!;
        heap[i0 + 2 * k + 1] = 0;
      }
      m._pffft_transform_ordered(setup, inPtr, outPtr, workPtr, PFFFT_BACKWARD);
      const o = outPtr >> 2;
      const scale = 1 / size;
      for (let lag = 0; lag < length; lag++) output[lag] = m.HEAPF32[o + lag]! * scale;
    },
  };
}
