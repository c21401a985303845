/**
 * The built-in preview engine: a deterministic animatic drawn on the CPU from the same segment
 * jobs a diffusion engine gets. It exists so timing can be judged on any machine in seconds; it
 * labels every frame PREVIEW and never pretends to be a diffusion model.
 *
 * It keeps a diffusion engine's continuity (DESIGN.md §3), so the seams a GPU render would have
 * show here first: a frame is a function of the seed, its place in the seed's take
 * (`noiseFrame`), the prompt and the motion, never of the job's index or the song time; jobs
 * from noise sample apart; a continuation holds its first frames and carries on from them
 * (framePlan below).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import { throwIfAborted } from '../../shared/errors.js';
import { encodePng, readPngText } from '../../raster/png.js';
import { VERSION } from '../../shared/version.js';
import { fpsValue } from '../../shared/media-time.js';
import {
  frameFileName,
  MAX_TAKE_FRAMES,
  motionScaleAt,
  type ConfiguredEngine,
  type RenderEngine,
  type RenderSegmentOptions,
  type SegmentJob,
  type SegmentResult,
} from '../engine.js';
import { drawText, textWidth } from '../../raster/bitmap-font.js';
import { readFrameImage, readHeldFrames } from '../frame-image.js';
import { departLayout, drawFrame, LayoutCache, layoutKey, makeScene, type LayoutBlend } from './draw-frame.js';
import { blendLooks, type Look } from './look.js';

/** Radians of path per second at motion scale 1: a calm drift that beats visibly push. */
const PHASE_PER_SEC = 1.1;
/** Bumped whenever the drawing changes, so cached preview segments are re-rendered. */
const DRAWING_VERSION = 2;
/** The tEXt key of each frame's state (phase and layout), read back when a continuation holds the frame. */
const STATE_KEY = 'beatloom-preview';

/**
 * What the preview knows of a frame it drew beyond its pixels: how far its forms have travelled
 * and the layout they travel on. It rides in the frame's PNG, so a continuation that holds the
 * frame carries on from exactly there.
 */
const frameStateSchema = z
  .object({
    drawing: z.literal(DRAWING_VERSION),
    phase: z.number().finite(),
    layout: z
      .array(z.tuple([z.number().int().nonnegative(), z.number().positive()]))
      .min(1)
      .max(64),
  })
  .strict();

interface FrameState {
  readonly phase: number;
  readonly layout: LayoutBlend;
}

export interface PreviewEngineOptions {
  /** Draw the PREVIEW label (on by default; tests of pixel values may turn it off). */
  readonly watermark?: boolean;
}

/** The preview has no backend to check: preparing it only hands out the engine that draws. */
export function createPreviewEngine(options: PreviewEngineOptions = {}): ConfiguredEngine {
  const engine = previewEngine(options.watermark ?? true);
  return {
    id: 'preview',
    checkHealth() {
      return Promise.resolve({
        ok: true,
        engine: 'preview',
        summary: `preview engine (beatloom ${VERSION}) on the CPU`,
        details: {},
        problems: [],
      });
    },
    prepare() {
      return Promise.resolve(engine);
    },
    async close() {},
  };
}

function previewEngine(watermark: boolean): RenderEngine {
  return {
    id: 'preview',
    capabilities: {
      initImage: true,
      continuation: true,
      takeFrames: MAX_TAKE_FRAMES,
      motionEffect: true,
      perFrameMotionScale: true,
      maxFrames: 64,
      concurrency: 1,
    },
    settingsFingerprint: { engine: 'preview', drawing: DRAWING_VERSION, watermark },
    // The preview draws, it does not sample: it records the steps of the AnimateDiff-Lightning
    // model it stands in for (4, the model card's default), so its plans read like a GPU engine's.
    sampler: { steps: 4 },
    checkNeeds() {},
    async renderSegment(job: SegmentJob, opts: RenderSegmentOptions): Promise<SegmentResult> {
      const started = performance.now();
      throwIfAborted(opts.signal);
      const held = await loadHeldFrames(job, opts.heldFramePaths);
      const init = opts.initImagePath
        ? (await readFrameImage(opts.initImagePath, job, 'init image')).image.data
        : undefined;
      const states = framePlan(job, held);
      const frameFiles: string[] = [];
      for (let j = 0; j < job.frameCount; j++) {
        throwIfAborted(opts.signal);
        const state = states(j);
        let rgb = held[j]?.rgb;
        if (rgb === undefined) {
          const scene = makeScene(lookAt(job, j), state.layout, layouts);
          rgb = drawFrame(scene, {
            width: job.width,
            height: job.height,
            phase: state.phase,
            energy: motionAt(job, j),
          });
          if (init) {
            // img2img: what survives of the init image is (1 − denoise), as with a real sampler.
            const keep = 1 - job.denoise;
            for (let p = 0; p < rgb.length; p++) rgb[p] = Math.round(init[p]! * keep + rgb[p]! * job.denoise);
          }
          if (watermark) stampLabel(rgb, job.width, job.height);
        }
        const name = frameFileName(j);
        const text = { [STATE_KEY]: JSON.stringify({ drawing: DRAWING_VERSION, ...state }) };
        await writeFile(
          join(opts.workDir, name),
          encodePng({ width: job.width, height: job.height, data: rgb }, { text }),
        );
        frameFiles.push(name);
        opts.onProgress?.({ segmentIndex: job.index, step: j + 1, totalSteps: job.frameCount });
        await yieldToEventLoop();
      }
      return { frameFiles, elapsedMs: performance.now() - started };
    },
  };
}

/** Layouts are drawn from their keys once per process: a render uses a handful. */
const layouts = new LayoutCache();

/** The seed's own layout: what every take of the seed starts on. */
function seedLayout(seed: number): LayoutBlend {
  return [[layoutKey(seed, 0), 1]];
}

/**
 * Where a take of `seed` is at its frame `noiseFrame` when nothing else is known: as if it had
 * moved at motion scale 1 from its first frame, on the seed's own layout. A job that starts
 * from noise starts there (so a frame's picture depends on the seed and its place in the take,
 * never on the job or the song time), and so does a held frame that carries no state of its
 * own (drawn by another engine or another drawing version).
 */
function takeStart(job: SegmentJob, noiseFrame: number): FrameState {
  return { phase: (PHASE_PER_SEC * noiseFrame) / fpsValue(job.fps), layout: seedLayout(job.seed) };
}

/** The motion at frame j: the motion scale, scaled by the motion module's effect where the job has one. */
function motionAt(job: SegmentJob, j: number): number {
  const scale = motionScaleAt(job.motion, j);
  return job.effect === undefined ? scale : scale * Math.max(0, motionScaleAt(job.effect, j));
}

/**
 * Each frame's state. Frames are sampled from their own first frame on (continuity none,
 * chain, anchor): the phase integrates the job's own motion from takeStart, so two jobs'
 * renders of one moment differ as much as their motion since their starts. A continuation
 * holds its first frames as they are and carries on from the last: the phase goes on from its
 * phase, and the layout departs from its layout towards a fresh one of (seed, noiseFrame),
 * reaching `denoise` of the way at the job's last frame.
 */
function framePlan(job: SegmentJob, held: readonly HeldFrame[]): (j: number) => FrameState {
  const states: FrameState[] = [];
  const heldCount = held.length;
  const fresh = layoutKey(job.seed, job.noiseFrame + 1);
  const newFrames = job.frameCount - heldCount;
  return (j) => {
    let state: FrameState;
    if (j < heldCount) state = held[j]!.state ?? takeStart(job, job.noiseFrame + j);
    else if (j === 0) state = takeStart(job, job.noiseFrame);
    else {
      const previous = states[j - 1]!;
      const phase = previous.phase + (PHASE_PER_SEC * motionAt(job, j - 1)) / fpsValue(job.fps);
      const layout =
        heldCount === 0
          ? previous.layout
          : departLayout(states[heldCount - 1]!.layout, fresh, (job.denoise * (j - heldCount + 1)) / newFrames);
      state = { phase, layout };
    }
    states[j] = state;
    return state;
  };
}

/**
 * The look at frame j: the job's prompt blend, or along a take's prompt travel, linearly
 * between its keys (the forms' kinds follow the stronger prompt).
 */
function lookAt(job: SegmentJob, j: number): Look {
  const schedule = job.promptSchedule;
  if (schedule === undefined) return cachedLook(job.promptBlend);
  let k = 0;
  while (k + 1 < schedule.length && schedule[k + 1]!.frame <= j) k++;
  const from = schedule[k]!;
  const to = schedule[k + 1];
  if (to === undefined || j <= from.frame) return cachedLook([{ prompt: from.prompt, weight: 1 }]);
  const t = (j - from.frame) / (to.frame - from.frame);
  const parts = [
    { prompt: from.prompt, weight: 1 - t },
    { prompt: to.prompt, weight: t },
  ];
  return cachedLook(t > 0.5 ? parts.reverse() : parts);
}

const looks = new Map<string, Look>();
function cachedLook(parts: ReadonlyArray<{ readonly prompt: string; readonly weight: number }>): Look {
  const key = JSON.stringify(parts.map((p) => [p.prompt, p.weight]));
  let look = looks.get(key);
  if (!look) {
    look = blendLooks(parts);
    if (looks.size > 1024) looks.clear();
    looks.set(key, look);
  }
  return look;
}

interface HeldFrame {
  readonly rgb: Uint8Array;
  /** The state the preview drew it with, when it did. */
  readonly state: FrameState | undefined;
}

async function loadHeldFrames(job: SegmentJob, paths: readonly string[] | undefined): Promise<HeldFrame[]> {
  const frames = await readHeldFrames(job, paths);
  return frames.map(({ image, file }, i) => ({
    rgb: image.data,
    state: stateOf(readPngText(file, paths?.[i])[STATE_KEY]),
  }));
}

function stateOf(text: string | undefined): FrameState | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = frameStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? { phase: parsed.data.phase, layout: parsed.data.layout } : undefined;
  } catch {
    return undefined;
  }
}

function stampLabel(rgb: Uint8Array, width: number, height: number): void {
  const scale = Math.max(1, Math.round(Math.min(width, height) / 256));
  const text = 'PREVIEW';
  const margin = 4 * scale;
  if (textWidth(text, scale) + 2 * margin > width) return;
  drawText(rgb, width, height, text, margin, height - margin - 7 * scale, scale, [255, 255, 255], 0.6);
}
