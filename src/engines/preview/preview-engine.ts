/**
 * The built-in preview engine: a deterministic animatic drawn on the CPU from the same segment
 * jobs a diffusion engine gets. It exists so timing can be judged on any machine in seconds; it
 * labels every frame PREVIEW and never pretends to be a diffusion model.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { throwIfAborted, BeatloomError } from '../../shared/errors.js';
import { decodePng, encodePng } from '../../raster/png.js';
import { VERSION } from '../../shared/version.js';
import { fpsValue, frameStartSec } from '../../shared/media-time.js';
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
import { drawFrame, makeScene } from './draw-frame.js';
import { blendLooks } from './look.js';

/** Radians of path per second at motion scale 1: a calm drift that beats visibly push. */
const PHASE_PER_SEC = 1.1;
/** Bumped whenever the drawing changes, so cached preview segments are re-rendered. */
const DRAWING_VERSION = 1;

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
    // model it stands in for (4, the model card's default), so its plans read like a GPU
    // engine's and its segment hashes stay those of earlier versions.
    sampler: { steps: 4 },
    checkNeeds() {},
    async renderSegment(job: SegmentJob, opts: RenderSegmentOptions): Promise<SegmentResult> {
      const started = performance.now();
      const { fps } = job;
      const scene = makeScene(blendLooks(job.promptBlend), job.seed, job.index, job.denoise);
      const init = opts.initImagePath ? await loadInit(opts.initImagePath, job) : undefined;
      let phase = PHASE_PER_SEC * frameStartSec(job.startFrame, fps);
      const frameFiles: string[] = [];
      for (let j = 0; j < job.frameCount; j++) {
        throwIfAborted(opts.signal);
        const energy = motionScaleAt(job.motion, j);
        const rgb = drawFrame(scene, { width: job.width, height: job.height, phase, energy });
        if (init) {
          // img2img: what survives of the init image is (1 − denoise), as with a real sampler.
          const keep = 1 - job.denoise;
          for (let p = 0; p < rgb.length; p++) rgb[p] = Math.round(init[p]! * keep + rgb[p]! * job.denoise);
        }
        if (watermark) stampLabel(rgb, job.width, job.height);
        const name = frameFileName(j);
        await writeFile(join(opts.workDir, name), encodePng({ width: job.width, height: job.height, data: rgb }));
        frameFiles.push(name);
        phase += (PHASE_PER_SEC * energy) / fpsValue(fps);
        opts.onProgress?.({ segmentIndex: job.index, step: j + 1, totalSteps: job.frameCount });
        await yieldToEventLoop();
      }
      return { frameFiles, elapsedMs: performance.now() - started };
    },
  };
}

async function loadInit(path: string, job: SegmentJob): Promise<Uint8Array> {
  const image = decodePng(await readFile(path), path);
  if (image.width !== job.width || image.height !== job.height) {
    throw new BeatloomError(
      'E_INIT_SIZE',
      `init image ${path} is ${image.width}x${image.height}, the render is ${job.width}x${job.height}`,
      {
        hint: 'render again with --force so every segment has the same size',
      },
    );
  }
  return image.data;
}

function stampLabel(rgb: Uint8Array, width: number, height: number): void {
  const scale = Math.max(1, Math.round(Math.min(width, height) / 256));
  const text = 'PREVIEW';
  const margin = 4 * scale;
  if (textWidth(text, scale) + 2 * margin > width) return;
  drawText(rgb, width, height, text, margin, height - margin - 7 * scale, scale, [255, 255, 255], 0.6);
}
