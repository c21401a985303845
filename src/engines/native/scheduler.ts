/**
 * SD 1.5's discrete noise schedule as AnimateDiff-Lightning samples it in ComfyUI:
 * AnimateDiff-Evolved's `sqrt_linear (AnimateDiff)` beta schedule (betas linear from 0.00085 to
 * 0.012 over 1000 steps — the model card's "linear"), ComfyUI's ModelSamplingDiscrete over it,
 * and the `sgm_uniform` sigmas for N steps (comfy/samplers.py normal_scheduler, sgm=True).
 *
 * The arithmetic follows PyTorch's, precision for precision: the betas, their cumulative product
 * and the sigmas in float64, stored as float32; interpolation, exp and log in float32
 * (Math.fround after every operation), so the sigmas and timesteps are ComfyUI's to the bit
 * (test/fixtures/native/native-schedule-comfyui.json).
 */

export interface DiscreteSchedule {
  /** sigma of each of the 1000 training timesteps, ascending (float32). */
  readonly sigmas: Float32Array;
  readonly logSigmas: Float32Array;
}

export interface BetaRange {
  readonly linearStart: number;
  readonly linearEnd: number;
  readonly timesteps: number;
}

/** SD 1.5's training range (ComfyUI ModelSamplingDiscrete's defaults). */
export const SD15_BETAS: BetaRange = { linearStart: 0.00085, linearEnd: 0.012, timesteps: 1000 };

const f = Math.fround;

/**
 * torch.linspace's CPU kernel: the first half counts up from start, the second half down from
 * end. In float64 as written; in float32 each value is one fused multiply-add (PyTorch's
 * vectorised kernel on this AVX-512 CPU — measured against torch for 2…129 points, where separate
 * roundings differ in 497 values). Here the product and sum are exact in float64, so one
 * Math.fround is the fused result.
 */
function linspace(start: number, end: number, steps: number, float32: boolean): number[] {
  if (steps === 1) return [float32 ? f(start) : start];
  if (!float32) {
    const step = (end - start) / (steps - 1);
    const halfway = Math.floor(steps / 2);
    return Array.from({ length: steps }, (_, i) => (i < halfway ? start + step * i : end - step * (steps - i - 1)));
  }
  const step = f(f(f(end) - f(start)) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) =>
    i < halfway ? f(f(start) + step * i) : f(f(end) - step * (steps - i - 1)),
  );
}

/** ComfyUI make_beta_schedule('sqrt_linear') → ModelSamplingDiscrete._register_schedule. */
export function sqrtLinearSchedule(range: BetaRange = SD15_BETAS): DiscreteSchedule {
  const betas = linspace(range.linearStart, range.linearEnd, range.timesteps, false);
  const sigmas = new Float32Array(range.timesteps);
  const logSigmas = new Float32Array(range.timesteps);
  let alphasCumprod = 1;
  betas.forEach((beta, i) => {
    alphasCumprod *= 1 - beta;
    const sigma = Math.sqrt((1 - alphasCumprod) / alphasCumprod);
    sigmas[i] = sigma;
    logSigmas[i] = Math.log(sigma);
  });
  return { sigmas, logSigmas };
}

export function sigmaMin(schedule: DiscreteSchedule): number {
  return schedule.sigmas[0]!;
}

export function sigmaMax(schedule: DiscreteSchedule): number {
  return schedule.sigmas[schedule.sigmas.length - 1]!;
}

/** ModelSamplingDiscrete.timestep: the training timestep whose log sigma is nearest (first on a tie). */
export function timestepOf(schedule: DiscreteSchedule, sigma: number): number {
  const logSigma = f(Math.log(sigma));
  let best = 0;
  let bestDistance = Infinity;
  schedule.logSigmas.forEach((value, i) => {
    const distance = Math.abs(f(logSigma - value));
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i;
    }
  });
  return best;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** The float32 next to x (x ≠ 0) away from or towards zero. */
function neighbour(x: number, awayFromZero: boolean): number {
  f32Scratch[0] = x;
  u32Scratch[0] = u32Scratch[0]! + (awayFromZero ? 1 : -1);
  return f32Scratch[0];
}

/** float32 a·b + c rounded once, for float32 a, b, c (their product is exact in float64). */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const v = s - p;
  const e = p - (s - v) + (c - v);
  const r = f(s);
  if (e === 0 || r === s) return r;
  // s is within half a float64 ulp of the true sum: only a float32 tie at s can round the other way.
  const other = neighbour(r, s > r === r > 0);
  if ((r + other) / 2 !== s) return r;
  return e > 0 ? Math.max(r, other) : Math.min(r, other);
}

/**
 * float32 exp as PyTorch computes it on the CPU (SLEEF's expf_u10, the vectorised kernel it
 * calls even for one value; not correctly rounded: Math.fround(Math.exp(x)) differs by one ulp
 * in 17 of the 225 sgm_uniform sigmas of 20–100 steps).
 */
function expf(d: number): number {
  const x = f(d * f(1.4426950408889634));
  const up = Math.round(x);
  // Round half to even, as the vector instruction does.
  const rint = x - up === -0.5 && up % 2 !== 0 ? up - 1 : up;
  let s = fmaf(rint, -f(0.693145751953125), d);
  s = fmaf(rint, -f(1.428606765330187e-6), s);
  let u = f(0.000198527617612853646278381);
  u = fmaf(u, s, f(0.00139304355252534151077271));
  u = fmaf(u, s, f(0.00833336077630519866943359));
  u = fmaf(u, s, f(0.0416664853692054748535156));
  u = fmaf(u, s, f(0.166666671633720397949219));
  u = fmaf(u, s, 0.5);
  u = f(1 + fmaf(f(s * s), u, s));
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  return f(u * 2 ** rint);
}

/** ModelSamplingDiscrete.sigma: log-linear interpolation between training timesteps, in float32. */
export function sigmaAt(schedule: DiscreteSchedule, timestep: number): number {
  const t = Math.min(Math.max(f(timestep), 0), schedule.sigmas.length - 1);
  const low = Math.floor(t);
  const high = Math.ceil(t);
  const w = f(t - Math.trunc(t));
  const logSigma = f(f(f(1 - w) * schedule.logSigmas[low]!) + f(w * schedule.logSigmas[high]!));
  return expf(logSigma);
}

/**
 * comfy/samplers.py normal_scheduler(sgm=True): N timesteps evenly from the last training
 * timestep towards the first (the end excluded), their sigmas, then 0. N + 1 values.
 */
export function sgmUniformSigmas(schedule: DiscreteSchedule, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, not ${steps}`);
  const start = timestepOf(schedule, sigmaMax(schedule));
  const end = timestepOf(schedule, sigmaMin(schedule));
  const timesteps = linspace(start, end, steps + 1, true).slice(0, -1);
  return Float32Array.from([...timesteps.map((t) => sigmaAt(schedule, t)), 0]);
}

/**
 * KSAMPLER.max_denoise: a sampling that starts at the schedule's top sigma scales its noise by
 * sqrt(1 + sigma²) rather than sigma (comfy/model_sampling.py EPS.noise_scaling).
 */
export function isMaxDenoise(schedule: DiscreteSchedule, sigma: number): boolean {
  const max = sigmaMax(schedule);
  return Math.abs(max - sigma) <= 1e-5 * Math.max(Math.abs(max), Math.abs(sigma)) || sigma > max;
}
