/**
 * Power spectra of real frames with PFFFT (Pommier's SIMD FFT, compiled to WebAssembly with SIMD by
 * @echogarden/pffft-wasm). Measured here for 1024 points: about 2 µs a frame, against about 10 µs
 * for fft.js (radix-4 JavaScript) and 30 µs for a plain radix-2 JavaScript FFT.
 *
 * The frame is written straight into WebAssembly memory (`input` is a view of it) and the power is
 * read straight out of it: no copies per frame.
 */
import PFFFT from '@echogarden/pffft-wasm/simd';

const PFFFT_REAL = 0;
const PFFFT_FORWARD = 0;
const PFFFT_BACKWARD = 1;

export interface PowerSpectrum {
  readonly size: number;
  /**
   * The frame to transform, a view of WebAssembly memory: fill it (already windowed), then call
   * `compute`. Read the property again after creating another transform: growing the memory
   * replaces the view.
   */
  readonly input: Float32Array;
  /** |X_k|² for k = 0 … size/2, unnormalised (a full-scale sine under a Hann window peaks at (size/4)²). */
  readonly power: Float32Array;
  compute(): void;
}

let modulePromise: Promise<PffftModule> | undefined;

interface Transform {
  readonly module: PffftModule;
  readonly run: (direction: number) => void;
  /** Views of the transform's input and output in the current WebAssembly memory. */
  readonly views: () => { input: Float32Array; output: Float32Array };
}

async function createTransform(size: number): Promise<Transform> {
  if (size < 32 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size must be a power of two ≥ 32, got ${size}`);
  modulePromise ??= PFFFT();
  const m = await modulePromise;
  const setup = m._pffft_new_setup(size, PFFFT_REAL);
  const inPtr = m._pffft_aligned_malloc(size * 4);
  const outPtr = m._pffft_aligned_malloc(size * 4);
  const workPtr = m._pffft_aligned_malloc(size * 4);
  let heap: Float32Array | undefined;
  let input: Float32Array = new Float32Array(0);
  let output: Float32Array = new Float32Array(0);
  return {
    module: m,
    run: (direction) => m._pffft_transform_ordered(setup, inPtr, outPtr, workPtr, direction),
    views: () => {
      if (heap !== m.HEAPF32) {
        heap = m.HEAPF32;
        input = heap.subarray(inPtr >> 2, (inPtr >> 2) + size);
        output = heap.subarray(outPtr >> 2, (outPtr >> 2) + size);
      }
      return { input, output };
    },
  };
}

/** One WebAssembly instance per process; each spectrum gets its own buffers in it. */
export async function createPowerSpectrum(size: number): Promise<PowerSpectrum> {
  const transform = await createTransform(size);
  const power = new Float32Array(size / 2 + 1);
  const half = size / 2;
  return {
    size,
    get input(): Float32Array {
      return transform.views().input;
    },
    power,
    compute(): void {
      transform.run(PFFFT_FORWARD);
      const out = transform.views().output;
      // Ordered real output: [X_0, X_{N/2}, Re X_1, Im X_1, Re X_2, …].
      power[0] = out[0]! * out[0]!;
      power[half] = out[1]! * out[1]!;
      for (let k = 1, j = 2; k < half; k++, j += 2) {
        const re = out[j]!;
        const im = out[j + 1]!;
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
  const inverse = await createTransform(size);
  const input = new Float32Array(length);
  const output = new Float32Array(length);
  const half = size / 2;
  return {
    length,
    input,
    output,
    compute(): void {
      const frame = spectrum.input;
      frame.fill(0);
      frame.set(input);
      spectrum.compute();
      const p = spectrum.power;
      const views = inverse.views();
      const packed = views.input;
      packed[0] = p[0]!;
      packed[1] = p[half]!;
      for (let k = 1; k < half; k++) {
        packed[2 * k] = p[k]!;
        packed[2 * k + 1] = 0;
      }
      inverse.run(PFFFT_BACKWARD);
      const back = inverse.views().output;
      const scale = 1 / size;
      for (let lag = 0; lag < length; lag++) output[lag] = back[lag]! * scale;
    },
  };
}

/**
 * The unbiased autocorrelation of envelope[start, start + windowFrames), mean removed, relative
 * to its variance: lag → each lag's sum over its own overlap / the zero-lag value. Undefined for
 * a flat window. The function reads `ac`'s output: use it before the next compute.
 */
export function windowAutocorrelation(
  ac: Autocorrelation,
  envelope: ArrayLike<number>,
  start: number,
  windowFrames: number,
): ((lag: number) => number) | undefined {
  let mean = 0;
  for (let i = 0; i < windowFrames; i++) mean += envelope[start + i]!;
  mean /= windowFrames;
  ac.input.fill(0);
  for (let i = 0; i < windowFrames; i++) ac.input[i] = envelope[start + i]! - mean;
  ac.compute();
  const zero = ac.output[0]! / windowFrames;
  if (!(zero > 0)) return undefined;
  return (lag) => ac.output[lag]! / (windowFrames - lag) / zero;
}
