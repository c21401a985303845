/**
 * Global tempo from the autocorrelation of the onset envelope, with a log-normal prior around
 * 120 BPM (one octave wide) and harmonic support, so a lag wins when its multiples agree too.
 */

export interface TempoEstimate {
  readonly bpm: number;
  /** Beat period in envelope frames (fractional). */
  readonly periodFrames: number;
  /** 0..1: how much the winning periodicity stands out of the envelope's autocorrelation. */
  readonly confidence: number;
}

export interface TempoOptions {
  readonly minBpm: number;
  readonly maxBpm: number;
  readonly priorBpm: number;
  readonly priorOctaves: number;
}

export const DEFAULT_TEMPO_OPTIONS: TempoOptions = { minBpm: 50, maxBpm: 220, priorBpm: 120, priorOctaves: 1 };

export function autocorrelation(envelope: Float32Array, maxLag: number): Float64Array {
  const n = envelope.length;
  let meanValue = 0;
  for (let i = 0; i < n; i++) meanValue += envelope[i]!;
  meanValue /= Math.max(1, n);
  const centred = new Float64Array(n);
  for (let i = 0; i < n; i++) centred[i] = envelope[i]! - meanValue;
  const acf = new Float64Array(maxLag + 1);
  for (let lag = 0; lag <= maxLag && lag < n; lag++) {
    let sum = 0;
    for (let i = lag; i < n; i++) sum += centred[i]! * centred[i - lag]!;
    acf[lag] = sum / (n - lag);
  }
  return acf;
}

function interpolate(values: Float64Array, position: number): number {
  const i = Math.floor(position);
  if (i < 0 || i + 1 >= values.length) return 0;
  const t = position - i;
  return values[i]! * (1 - t) + values[i + 1]! * t;
}

export function estimateTempo(envelope: Float32Array, frameRate: number, options: TempoOptions = DEFAULT_TEMPO_OPTIONS): TempoEstimate {
  const minLag = (60 * frameRate) / options.maxBpm;
  const maxLag = (60 * frameRate) / options.minBpm;
  const acf = autocorrelation(envelope, Math.ceil(maxLag * 4) + 2);
  const zero = acf[0] ?? 0;
  if (zero <= 0) return { bpm: 0, periodFrames: 0, confidence: 0 };

  let bestScore = -Infinity;
  let bestLag = 0;
  const scores: number[] = [];
  for (let lag = Math.floor(minLag); lag <= Math.ceil(maxLag); lag++) {
    if (lag < 1) continue;
    const bpm = (60 * frameRate) / lag;
    const octaves = Math.log2(bpm / options.priorBpm) / options.priorOctaves;
    const prior = Math.exp(-0.5 * octaves * octaves);
    const support = acf[lag]! + 0.5 * interpolate(acf, 2 * lag) + 0.25 * interpolate(acf, 4 * lag) + 0.25 * interpolate(acf, 3 * lag);
    const score = prior * support;
    scores.push(support);
    if (score > bestScore) {
      bestScore = score;
      bestLag = lag;
    }
  }
  // Sub-lag precision from a parabola through the neighbouring lags' raw autocorrelation.
  const a = acf[bestLag - 1] ?? 0;
  const b = acf[bestLag]!;
  const c = acf[bestLag + 1] ?? 0;
  const denom = a - 2 * b + c;
  const offset = denom < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denom)) : 0;
  const periodFrames = bestLag + offset;

  const sorted = scores.slice().sort((x, y) => x - y);
  const medianSupport = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const peak = acf[bestLag]!;
  const confidence = Math.max(0, Math.min(1, (peak - Math.max(0, medianSupport * 0.5)) / zero));
  return { bpm: (60 * frameRate) / periodFrames, periodFrames, confidence };
}
