/**
 * The native engine: AnimateDiff-Lightning in the beatloom process through onnxruntime-node, from
 * the SD 1.5 checkpoint and Lightning motion module a ComfyUI user has (DESIGN.md §4).
 *
 *   prepare:  buildNativeGraphs (cached by the files' hashes) → four onnxruntime sessions + tokenizer
 *   segment:  tokenise → text encoder (prompt blends averaged) → Euler over the UNet (sgm_uniform,
 *             the module's N steps, noise addressed by the frame's place in its seed's take) →
 *             VAE decode → PNG frames
 *   continue: the held frames go through the VAE encoder and are held by the sampler's per-frame
 *             mask; the other frames start from the last held latent, re-noised at the job's
 *             start step on the module's grid (DESIGN.md §3)
 *
 * `prepareNativeDeployment` returns an immutable deployment; `renderNativeSegment` does one job.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as OnnxRuntime from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { NativeConfig } from './native-config.js';
import { BeatloomError, throwIfAborted, usageError } from '../../shared/errors.js';
import { encodePng, type RgbImage } from '../../raster/png.js';
import { readFrameImage, readHeldFrames } from '../frame-image.js';
import {
  frameFileName,
  motionScaleAt,
  startStepFor,
  type ConfiguredEngine,
  type EngineHealth,
  type RenderEngine,
  type RenderNeeds,
  type RenderSegmentOptions,
  type SegmentJob,
  type SegmentResult,
} from '../engine.js';
import { buildNativeGraphs, type NativeBuildProgress, type NativeGraphFiles } from './build-graphs.js';
import { CLIP_CONTEXT_LENGTH, ClipTokenizer, loadClipVocabulary } from './clip-tokenizer.js';
import { blendConditionings, encodePrompt, truncateConditioning, type Conditioning } from './conditioning.js';
import { segmentNoise } from './frame-noise.js';
import { resolveNativeSettings, type NativeProvider, type NativeSettings } from './native-settings.js';
import { sampleEuler, type EpsRequest } from './sampler.js';
import { sgmUniformSigmas, sqrtLinearSchedule, type DiscreteSchedule } from './scheduler.js';

/** Bumped when the engine's maths changes, so cached native segments are re-rendered. */
const ENGINE_VERSION = 2;
/** Frames one sampling takes before context windows: AnimateDiff's context length. */
const MAX_FRAMES = 64;

type Ort = typeof OnnxRuntime;

export interface NativeSessions {
  readonly textEncoder: InferenceSession;
  readonly unet: InferenceSession;
  readonly vaeDecoder: InferenceSession;
  readonly vaeEncoder: InferenceSession;
}

export interface NativeDeployment {
  readonly settings: NativeSettings;
  readonly ort: Ort;
  readonly graphs: NativeGraphFiles;
  readonly sessions: NativeSessions;
  readonly tokenizer: ClipTokenizer;
  readonly schedule: DiscreteSchedule;
  readonly sigmas: Float32Array;
  /** Tokens the UNet's context input takes: a number when the graph fixes it (77), else undefined. */
  readonly contextTokens: number | undefined;
  readonly provider: 'cpu' | 'cuda';
  /** Names the cache entry (the files' hashes). */
  readonly graphKey: string;
  readonly buildMs: number;
  readonly loadMs: number;
}

export interface NativeEngineOptions {
  readonly onNotice?: (message: string) => void;
  /** Graph building / loading progress (hashing gigabytes takes a while). */
  readonly onBuildProgress?: (event: NativeBuildProgress) => void;
}

const require = createRequire(import.meta.url);

/** The CUDA provider is there when its library sits next to onnxruntime-node's binding. */
function cudaProviderInstalled(): boolean {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  try {
    const root = dirname(require.resolve('onnxruntime-node/package.json'));
    return existsSync(join(root, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

function chooseProvider(provider: NativeProvider): 'cpu' | 'cuda' {
  if (provider === 'cpu') return 'cpu';
  const cuda = cudaProviderInstalled();
  if (provider === 'cuda' && !cuda) {
    throw usageError(
      'E_NATIVE_CUDA',
      "onnxruntime-node's CUDA provider is not installed",
      'on a Linux x64 GPU machine run: npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12 (or use provider cpu)',
    );
  }
  return cuda ? 'cuda' : 'cpu';
}

export async function prepareNativeDeployment(
  settings: NativeSettings,
  options: { signal?: AbortSignal; onBuildProgress?: (event: NativeBuildProgress) => void } = {},
): Promise<NativeDeployment> {
  const built = performance.now();
  const graphs = await buildNativeGraphs({
    checkpointPath: settings.checkpoint,
    motionModulePath: settings.motionModel,
    cacheDir: settings.cacheDir,
    loras: settings.loras,
    signal: options.signal,
    onProgress: options.onBuildProgress,
  });
  const buildMs = performance.now() - built;
  throwIfAborted(options.signal);
  const tokenizer = new ClipTokenizer(loadClipVocabulary(settings.vocab));
  const loaded = performance.now();
  const ort: Ort = await import('onnxruntime-node');
  const provider = chooseProvider(settings.provider);
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(settings.threads === undefined ? {} : { intraOpNumThreads: settings.threads }),
  };
  const open = async (path: string): Promise<InferenceSession> => {
    try {
      return await ort.InferenceSession.create(path, sessionOptions);
    } catch (error) {
      throw new BeatloomError('E_NATIVE_SESSION', `onnxruntime could not load ${path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'delete the graph cache folder and run again; if it persists, report it',
      });
    }
  };
  const sessions: NativeSessions = {
    textEncoder: await open(graphs.textEncoder),
    unet: await open(graphs.unet),
    vaeDecoder: await open(graphs.vaeDecoder),
    vaeEncoder: await open(graphs.vaeEncoder),
  };
  const loadMs = performance.now() - loaded;
  const schedule = sqrtLinearSchedule();
  return {
    settings,
    ort,
    graphs,
    sessions,
    tokenizer,
    schedule,
    sigmas: sgmUniformSigmas(schedule, settings.steps),
    contextTokens: fixedContextTokens(sessions.unet),
    provider,
    graphKey: dirname(graphs.unet).split(/[\\/]/).at(-1) ?? '',
    buildMs,
    loadMs,
  };
}

function fixedContextTokens(unet: InferenceSession): number | undefined {
  const meta = (unet as { inputMetadata?: readonly InferenceSession.ValueMetadata[] }).inputMetadata;
  const context = meta?.find((m) => m.name === 'context');
  if (!context || !context.isTensor) return CLIP_CONTEXT_LENGTH;
  const tokens = context.shape[1];
  return typeof tokens === 'number' && tokens > 0 ? tokens : undefined;
}

export async function releaseSessions(sessions: NativeSessions): Promise<void> {
  await Promise.allSettled(Object.values(sessions).map((s: InferenceSession) => s.release()));
}

// ---------------------------------------------------------------- one segment

function tensorData(tensor: Tensor | undefined, what: string): Float32Array {
  if (!tensor || !(tensor.data instanceof Float32Array))
    throw new BeatloomError('E_NATIVE_RUN', `${what} gave no float tensor`);
  return tensor.data;
}

/** ComfyUI's motion scale values: three decimals, never below 0 (as the comfyui engine sends them). */
function motionScaleOf(job: SegmentJob, frame: number): number {
  const value = motionScaleAt(job.motion, frame);
  return Math.max(0, Math.round(value * 1000) / 1000);
}

/** The weighted texts of one side of the blend, each text once (comfyui/workflow.ts blendTexts). */
function weightedTexts(job: SegmentJob, side: 'prompt' | 'negativePrompt'): { text: string; weight: number }[] {
  const weights = new Map<string, number>();
  for (const entry of job.promptBlend) {
    if (entry.weight > 0) weights.set(entry[side], (weights.get(entry[side]) ?? 0) + entry.weight);
  }
  const texts = [...weights].map(([text, weight]) => ({ text, weight })).sort((a, b) => b.weight - a.weight);
  return texts.length > 1 ? texts : [{ text: job[side], weight: 1 }];
}

export interface NativeSegmentOptions extends RenderSegmentOptions {
  readonly onNotice?: (message: string) => void;
  /** Tests: the starting noise instead of the frame-indexed noise of the job's seed. */
  readonly noise?: Float32Array;
}

export async function encodeTexts(
  deployment: NativeDeployment,
  texts: readonly { text: string; weight: number }[],
  cache: Map<string, Conditioning>,
): Promise<Conditioning> {
  const { ort, sessions, tokenizer, graphs } = deployment;
  const width = graphs.dims.contextDim;
  const encode = async (rows: readonly (readonly number[])[]): Promise<Float32Array> => {
    const ids = new BigInt64Array(rows.length * CLIP_CONTEXT_LENGTH);
    rows.forEach((row, r) => row.forEach((id, j) => (ids[r * CLIP_CONTEXT_LENGTH + j] = BigInt(id))));
    const out = await sessions.textEncoder.run({
      input_ids: new ort.Tensor('int64', ids, [rows.length, CLIP_CONTEXT_LENGTH]),
    });
    return tensorData(out.hidden_states, 'the text encoder');
  };
  const parts: { conditioning: Conditioning; weight: number }[] = [];
  for (const { text, weight } of texts) {
    let conditioning = cache.get(text);
    if (!conditioning) {
      conditioning = await encodePrompt(text, tokenizer, encode, width);
      cache.set(text, conditioning);
    }
    parts.push({ conditioning, weight });
  }
  return blendConditionings(parts);
}

/** HWC bytes → CHW in [0, 1] (ComfyUI's LoadImage: / 255). */
function imageToTensor(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = Math.fround(image.data[p * 3 + c]! / 255);
  }
  return out;
}

/** Frames of one segment as ComfyUI's SaveImage writes them: 255 · x clipped, truncated to bytes. */
export function imageToRgb(image: Float32Array, width: number, height: number, frame: number): Uint8Array {
  const plane = width * height;
  const base = frame * 3 * plane;
  const rgb = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.fround(255 * image[base + c * plane + p]!);
      rgb[p * 3 + c] = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
    }
  }
  return rgb;
}

export interface SegmentLatents {
  /** The held frames as given (continuation), first in the segment; their latents are in `samples` too. */
  readonly held: readonly RgbImage[];
  /** The sampled latents, frameCount · frameSize (sampler space). */
  readonly samples: Float32Array;
  readonly frameSize: number;
}

/** Tokenise, encode, sample: the segment's latents before decoding. */
export async function sampleNativeLatents(
  deployment: NativeDeployment,
  job: SegmentJob,
  options: NativeSegmentOptions,
): Promise<SegmentLatents> {
  const { ort, sessions, schedule, sigmas, graphs, settings } = deployment;
  const { signal } = options;
  throwIfAborted(signal);
  if (job.width % 8 !== 0 || job.height % 8 !== 0) {
    throw usageError(
      'E_NATIVE_SIZE',
      `the native engine renders sizes that are multiples of 8, not ${job.width}x${job.height}`,
      'give --size with a width and height divisible by 8 (e.g. 512x512)',
    );
  }
  const frameCount = job.frameCount;
  const channels = graphs.dims.latentChannels;
  const h = job.height / 8;
  const w = job.width / 8;
  const frameSize = channels * h * w;

  const cache = new Map<string, Conditioning>();
  let positive = await encodeTexts(deployment, weightedTexts(job, 'prompt'), cache);
  let negative = job.cfg === 1 ? positive : await encodeTexts(deployment, weightedTexts(job, 'negativePrompt'), cache);
  if (deployment.contextTokens !== undefined) {
    if (
      (positive.tokens > deployment.contextTokens || negative.tokens > deployment.contextTokens) &&
      options.onNotice
    ) {
      options.onNotice(
        `segment ${job.index + 1}: the prompt is longer than ${deployment.contextTokens - 2} tokens; the native UNet graph takes its first ${deployment.contextTokens}`,
      );
    }
    positive = truncateConditioning(positive, deployment.contextTokens);
    negative = truncateConditioning(negative, deployment.contextTokens);
  }
  throwIfAborted(signal);

  const encodeImage = async (image: RgbImage): Promise<Float32Array> => {
    const out = await sessions.vaeEncoder.run({
      image: new ort.Tensor('float32', imageToTensor(image), [1, 3, job.height, job.width]),
    });
    return tensorData(out.latent, 'the VAE encoder');
  };
  // Where the frames start: an init image repeated (chain / anchor), or the held frames' latents
  // and, after them, the last one repeated (continuation); from noise otherwise.
  let latent: Float32Array | undefined;
  let heldMask: boolean[] | undefined;
  let startStep = 0;
  const held = (await readHeldFrames(job, options.heldFramePaths)).map((frame) => frame.image);
  if (held.length > 0) {
    latent = new Float32Array(frameCount * frameSize);
    for (let j = 0; j < held.length; j++) {
      throwIfAborted(signal);
      latent.set(await encodeImage(held[j]!), j * frameSize);
    }
    const last = latent.slice((held.length - 1) * frameSize, held.length * frameSize);
    for (let j = held.length; j < frameCount; j++) latent.set(last, j * frameSize);
    heldMask = Array.from({ length: frameCount }, (_, j) => j < held.length);
    startStep = startStepFor(job, settings.steps, false);
  } else if (options.initImagePath !== undefined) {
    const encoded = await encodeImage((await readFrameImage(options.initImagePath, job, 'init image')).image);
    latent = new Float32Array(frameCount * frameSize);
    for (let j = 0; j < frameCount; j++) latent.set(encoded, j * frameSize);
    startStep = startStepFor(job, settings.steps, true);
  }
  // Frame noiseFrame + j of the seed's take: the same noise in every job that holds the moment.
  const noise = options.noise ?? segmentNoise(job.seed, job.noiseFrame, frameCount, frameSize);

  const eps = async (request: EpsRequest): Promise<Float32Array> => {
    const n = request.frames.length;
    const conditioning = request.guidance === 'positive' ? positive : negative;
    const context = new Float32Array(n * conditioning.values.length);
    for (let k = 0; k < n; k++) context.set(conditioning.values, k * conditioning.values.length);
    const out = await sessions.unet.run({
      sample: new ort.Tensor('float32', request.sample, [n, channels, h, w]),
      timestep: new ort.Tensor('float32', new Float32Array(n).fill(request.timestep), [n]),
      context: new ort.Tensor('float32', context, [n, conditioning.tokens, conditioning.width]),
      motion_scale: new ort.Tensor(
        'float32',
        Float32Array.from(request.frames, (f) => motionScaleOf(job, f)),
        [n],
      ),
    });
    return tensorData(out.eps, 'the UNet');
  };
  const samples = await sampleEuler({
    schedule,
    sigmas,
    startStep,
    frameCount,
    frameSize,
    noise,
    latent,
    heldFrames: heldMask,
    cfg: job.cfg,
    eps,
    signal,
    onStep: (done, total) => options.onProgress?.({ segmentIndex: job.index, step: done, totalSteps: total }),
  });
  return { held, samples, frameSize };
}

/** One frame's latent through the VAE decoder → [3, height, width] in [0, 1]. */
export async function decodeNativeFrame(
  deployment: NativeDeployment,
  latents: SegmentLatents,
  frame: number,
  width: number,
  height: number,
): Promise<Float32Array> {
  const { ort, sessions, graphs } = deployment;
  const { samples, frameSize } = latents;
  const out = await sessions.vaeDecoder.run({
    latent: new ort.Tensor('float32', samples.subarray(frame * frameSize, (frame + 1) * frameSize), [
      1,
      graphs.dims.latentChannels,
      height / 8,
      width / 8,
    ]),
  });
  return tensorData(out.image, 'the VAE decoder');
}

export async function renderNativeSegment(
  deployment: NativeDeployment,
  job: SegmentJob,
  options: NativeSegmentOptions,
): Promise<SegmentResult> {
  const started = performance.now();
  const latents = await sampleNativeLatents(deployment, job, options);
  // One frame at a time through the decoder: its activations at 512×512 are hundreds of MB a frame.
  // Held frames are written as given: they are the previous segment's frames, and a VAE round
  // trip would only blur them.
  const frameFiles: string[] = [];
  for (let j = 0; j < job.frameCount; j++) {
    throwIfAborted(options.signal);
    const rgb =
      latents.held[j]?.data ??
      imageToRgb(await decodeNativeFrame(deployment, latents, j, job.width, job.height), job.width, job.height, 0);
    const name = frameFileName(j);
    await writeFile(join(options.workDir, name), encodePng({ width: job.width, height: job.height, data: rgb }));
    frameFiles.push(name);
  }
  return { frameFiles, elapsedMs: performance.now() - started };
}

// ---------------------------------------------------------------- the engine

export interface NativeEngine extends ConfiguredEngine {
  readonly settings: NativeSettings;
  /** The graphs and sessions (built or loaded on first use, kept until close): for benches and tests. */
  deployment(signal?: AbortSignal): Promise<NativeDeployment>;
}

/**
 * The native engine as configured: `prepare` builds (or finds in the cache) the graphs and opens
 * the onnxruntime sessions once, and hands out the engine bound to them; `close` releases them.
 */
export function createNativeEngine(config: NativeConfig, options: NativeEngineOptions = {}): NativeEngine {
  const settings = resolveNativeSettings(config);
  let prepared: Promise<NativeDeployment> | undefined;
  const deployment = (signal?: AbortSignal): Promise<NativeDeployment> => {
    if (!prepared) {
      prepared = prepareNativeDeployment(settings, { signal, onBuildProgress: options.onBuildProgress });
      // A failed or cancelled prepare may be tried again.
      prepared.catch(() => (prepared = undefined));
    }
    return prepared;
  };
  return {
    id: 'native',
    settings,
    deployment,
    async prepare({ signal }) {
      return preparedNativeEngine(settings, await deployment(signal), options);
    },
    async checkHealth({ signal }): Promise<EngineHealth> {
      try {
        const d = await deployment(signal);
        return {
          ok: true,
          engine: 'native',
          summary: `native engine ready on the ${d.provider.toUpperCase()} (${settings.steps}-step ${d.graphs.dims.contextDim}-wide model)`,
          details: {
            checkpoint: settings.checkpoint,
            motionModel: settings.motionModel,
            graphs: dirname(d.graphs.unet),
            tokenizer: d.tokenizer.vocabulary.source,
          },
          problems: [],
        };
      } catch (error) {
        if (!(error instanceof BeatloomError) || error.kind === 'interrupted') throw error;
        return {
          ok: false,
          engine: 'native',
          summary: 'native engine not ready',
          details: {},
          problems: [error.message],
        };
      }
    },
    async close() {
      const d = await prepared?.catch(() => undefined);
      prepared = undefined;
      if (d) await releaseSessions(d.sessions);
    },
  };
}

/** The engine bound to one deployment: everything it reports is fixed. */
function preparedNativeEngine(
  settings: NativeSettings,
  deployment: NativeDeployment,
  options: NativeEngineOptions,
): RenderEngine {
  // The one notice a segment can give (a prompt cut to the graph's context) is worth saying once per render.
  let noticed = false;
  const noticeOnce = (message: string): void => {
    if (noticed) return;
    noticed = true;
    options.onNotice?.(message);
  };
  return {
    id: 'native',
    capabilities: {
      initImage: true,
      continuation: true,
      // No context windows through the engine yet: a take falls back to continue (a plan notice).
      takeFrames: 0,
      motionEffect: false,
      perFrameMotionScale: true,
      maxFrames: MAX_FRAMES,
      concurrency: 1,
    },
    settingsFingerprint: {
      engine: 'native',
      version: ENGINE_VERSION,
      // The files' hashes (LoRA files included) are in the graphs' key.
      graphs: deployment.graphKey,
      steps: settings.steps,
      sampler: 'euler',
      scheduler: 'sgm_uniform',
      vocab: settings.vocab ?? 'shipped',
      loras: [],
    },
    sampler: { steps: settings.steps },
    checkNeeds(needs: RenderNeeds) {
      if (needs.loras.length > 0) {
        throw usageError(
          'E_NATIVE_LORA',
          `the mapping drives LoRA strengths per segment (${needs.loras.join(', ')}); the native engine merges LoRAs at fixed strengths when it builds its graphs`,
          'give the LoRA at a fixed strength with --native-lora FILE[:STRENGTH] and remove it from targets.loras, or render with --engine comfyui',
        );
      }
      if ((needs.motionLoras ?? []).length > 0) {
        throw usageError(
          'E_NATIVE_LORA',
          `the mapping drives motion LoRAs (${needs.motionLoras!.join(', ')}); the native engine does not load motion LoRAs`,
          'remove targets.motionLoras from the mapping, or render with --engine comfyui',
        );
      }
    },
    async renderSegment(job: SegmentJob, opts: RenderSegmentOptions): Promise<SegmentResult> {
      throwIfAborted(opts.signal);
      return await renderNativeSegment(deployment, job, { ...opts, onNotice: noticeOnce });
    },
  };
}
