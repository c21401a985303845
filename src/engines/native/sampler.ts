/**
 * Euler sampling of an eps-prediction model, as ComfyUI's KSampler runs it for
 * AnimateDiff-Lightning (k-diffusion sample_euler; comfy/model_sampling.py EPS; comfy/samplers.py
 * cfg_function and KSamplerX0Inpaint), pure over an `eps` callback so it runs without onnx.
 *
 * - txt2img starts from noise · sqrt(1 + sigma_max²); img2img / a continued segment starts at
 *   step k of the module's own N-step grid from latent + noise · sigma_k.
 * - cfg: one unconditional pass per step, skipped at cfg 1 (ComfyUI's cfg1 optimisation).
 * - Held frames (a continuation's frames from the previous segment) are re-noised to the current
 *   sigma before each call and come out as their latent, as ComfyUI's denoise mask does.
 * - More frames than the context length: AnimateDiff-Evolved's static standard context windows
 *   (16, overlap 4) with pyramid weights, each window one call; the denoised predictions are fused.
 *
 * Every operation rounds to float32 in PyTorch's order, so a stand-in model gives ComfyUI's
 * numbers to the bit (test/fixtures/native/native-euler-comfyui.json).
 */
import { throwIfAborted } from '../../shared/errors.js';
import { type DiscreteSchedule, isMaxDenoise, timestepOf } from './scheduler.js';

const f = Math.fround;

export type Guidance = 'positive' | 'negative';

export interface EpsRequest {
  /** The model's input for `frames` (x · c_in), frame after frame. */
  readonly sample: Float32Array;
  /** The discrete training timestep (ComfyUI's model_sampling.timestep of the step's sigma). */
  readonly timestep: number;
  /** Indices (into the sampling's frames) of the frames in `sample`, ascending. */
  readonly frames: readonly number[];
  readonly guidance: Guidance;
}

export type EpsModel = (request: EpsRequest) => Promise<Float32Array>;

export interface ContextWindows {
  readonly length: number;
  readonly overlap: number;
}

/** AnimateDiff's context length and the overlap DESIGN.md §3 asks for. */
export const DEFAULT_CONTEXT: ContextWindows = { length: 16, overlap: 4 };

export interface SampleOptions {
  readonly schedule: DiscreteSchedule;
  /** The whole grid of the module's steps, ending with 0 (sgmUniformSigmas). */
  readonly sigmas: Float32Array;
  /** First step to run (0: from pure noise). */
  readonly startStep: number;
  readonly frameCount: number;
  /** Values per frame (channels · height · width). */
  readonly frameSize: number;
  /** Unit-variance noise, frameCount · frameSize. */
  readonly noise: Float32Array;
  /** The starting latent (img2img / continuation); zeros when absent. */
  readonly latent?: Float32Array;
  /** Frames kept at `latent` (continuation): true = held. */
  readonly heldFrames?: readonly boolean[];
  readonly cfg: number;
  readonly context?: ContextWindows;
  readonly eps: EpsModel;
  readonly signal?: AbortSignal;
  /** After each step: steps done so far (1-based) of `total`. */
  readonly onStep?: (done: number, total: number) => void;
}

/** AnimateDiff-Evolved create_windows_static_standard: fixed windows, the last one moved back to fit. */
export function contextWindows(frameCount: number, context: ContextWindows = DEFAULT_CONTEXT): number[][] {
  const range = (start: number, length: number): number[] => Array.from({ length }, (_, i) => start + i);
  if (frameCount <= context.length) return [range(0, frameCount)];
  const delta = context.length - context.overlap;
  if (delta <= 0) throw new RangeError(`context overlap ${context.overlap} must be below its length ${context.length}`);
  const windows: number[][] = [];
  for (let start = 0; start < frameCount; start += delta) {
    const ending = start + context.length;
    if (ending >= frameCount) {
      windows.push(range(start - (ending - frameCount), context.length));
      break;
    }
    windows.push(range(start, context.length));
  }
  return windows;
}

/** AnimateDiff-Evolved create_weights_pyramid: weight by distance from the window's edge. */
export function pyramidWeights(length: number): number[] {
  const half = Math.floor(length / 2);
  if (length % 2 === 0)
    return [...Array.from({ length: half }, (_, i) => i + 1), ...Array.from({ length: half }, (_, i) => half - i)];
  const max = (length + 1) / 2;
  return [...Array.from({ length: max }, (_, i) => i + 1), ...Array.from({ length: max - 1 }, (_, i) => max - 1 - i)];
}

function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

function gather(x: Float32Array, frames: readonly number[], frameSize: number): Float32Array {
  const out = new Float32Array(frames.length * frameSize);
  frames.forEach((frame, i) => out.set(x.subarray(frame * frameSize, (frame + 1) * frameSize), i * frameSize));
  return out;
}

/** The sampling's result: the final latent, frameCount · frameSize. */
export async function sampleEuler(options: SampleOptions): Promise<Float32Array> {
  const { schedule, sigmas, startStep, frameCount, frameSize, noise, cfg, eps, signal } = options;
  const size = frameCount * frameSize;
  if (noise.length !== size) throw new RangeError(`noise has ${noise.length} values, not ${size}`);
  const latent = options.latent ?? new Float32Array(size);
  if (latent.length !== size) throw new RangeError(`latent has ${latent.length} values, not ${size}`);
  const held = options.heldFrames;
  if (held && held.length !== frameCount)
    throw new RangeError(`heldFrames has ${held.length} entries, not ${frameCount}`);
  const steps = sigmas.length - 1;
  if (startStep >= steps) return Float32Array.from(latent);
  const grid = sigmas.subarray(startStep);
  const windows = contextWindows(frameCount, options.context ?? DEFAULT_CONTEXT);
  const weights = windows.length > 1 ? pyramidWeights(windows[0]!.length) : undefined;
  const skipUncond = isClose(cfg, 1);
  const cfgScale = f(cfg);

  // EPS.noise_scaling
  const first = grid[0]!;
  const scale = isMaxDenoise(schedule, first) ? f(Math.sqrt(f(1 + f(first * first)))) : first;
  const x = new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = f(f(noise[i]! * scale) + latent[i]!);

  // One model call per window and guidance: EPS.calculate_input → eps → calculate_denoised.
  const denoise = async (input: Float32Array, sigma: number, guidance: Guidance): Promise<Float32Array> => {
    const cIn = f(Math.sqrt(f(f(sigma * sigma) + 1)));
    const timestep = timestepOf(schedule, sigma);
    const out = new Float32Array(size);
    const counts = weights ? new Float32Array(frameCount) : undefined;
    for (const frames of windows) {
      throwIfAborted(signal);
      const windowX = windows.length > 1 ? gather(input, frames, frameSize) : input;
      const sample = new Float32Array(windowX.length);
      for (let i = 0; i < sample.length; i++) sample[i] = f(windowX[i]! / cIn);
      const prediction = await eps({ sample, timestep, frames, guidance });
      if (prediction.length !== sample.length) {
        throw new RangeError(`the model gave ${prediction.length} values for ${sample.length}`);
      }
      frames.forEach((frame, k) => {
        const w = weights ? weights[k]! : 1;
        if (counts) counts[frame] = f(counts[frame]! + w);
        for (let j = 0; j < frameSize; j++) {
          const i = frame * frameSize + j;
          const denoised = f(windowX[k * frameSize + j]! - f(prediction[k * frameSize + j]! * sigma));
          out[i] = weights ? f(out[i]! + f(denoised * w)) : denoised;
        }
      });
    }
    if (counts) {
      for (let frame = 0; frame < frameCount; frame++) {
        for (let j = 0; j < frameSize; j++)
          out[frame * frameSize + j] = f(out[frame * frameSize + j]! / counts[frame]!);
      }
    }
    return out;
  };

  for (let step = 0; step < grid.length - 1; step++) {
    throwIfAborted(signal);
    const sigma = grid[step]!;
    // KSamplerX0Inpaint: held frames enter at their latent, noised to this sigma.
    let input = x;
    if (held) {
      input = Float32Array.from(x);
      held.forEach((isHeld, frame) => {
        if (!isHeld) return;
        for (let j = frame * frameSize; j < (frame + 1) * frameSize; j++)
          input[j] = f(f(noise[j]! * sigma) + latent[j]!);
      });
    }
    const positive = await denoise(input, sigma, 'positive');
    let denoised = positive;
    if (!skipUncond) {
      const negative = await denoise(input, sigma, 'negative');
      denoised = new Float32Array(size);
      for (let i = 0; i < size; i++) denoised[i] = f(negative[i]! + f(f(positive[i]! - negative[i]!) * cfgScale));
    }
    if (held) {
      held.forEach((isHeld, frame) => {
        if (isHeld) denoised.set(latent.subarray(frame * frameSize, (frame + 1) * frameSize), frame * frameSize);
      });
    }
    // sample_euler: d = (x − denoised) / sigma; x += d · (sigma_next − sigma)
    const dt = f(grid[step + 1]! - sigma);
    for (let i = 0; i < size; i++) {
      const d = f(f(x[i]! - denoised[i]!) / sigma);
      x[i] = f(x[i]! + f(d * dt));
    }
    options.onStep?.(step + 1, grid.length - 1);
  }
  return x;
}
