/**
 * One contract every render engine keeps, run against each: the preview engine on the CPU, the
 * comfyui engine against the fake ComfyUI server, and the native engine on a tiny model of the
 * SD 1.5 + AnimateDiff architecture written at test time.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createComfyEngine } from '../src/engines/comfyui/engine.js';
import {
  ENGINE_STATE_FILES,
  type ConfiguredEngine,
  type EngineProgress,
  type RenderEngine,
  type SegmentJob,
} from '../src/engines/engine.js';
import { createNativeEngine } from '../src/engines/native/native-engine.js';
import { createPreviewEngine } from '../src/engines/preview/preview-engine.js';
import { BeatloomError, isAbortError } from '../src/shared/errors.js';
import { decodePng, encodePng } from '../src/raster/png.js';
import { startFakeComfy, type FakeComfy } from './comfyui/fake-comfy-server.js';
import { meanAbsDiff, tempDir } from './helpers/media.js';
import { rational } from '../src/shared/media-time.js';
import { writeTinyModels, type TinyModelPaths } from './helpers/native-tiny-model.js';

const JOB: SegmentJob = {
  index: 2,
  hash: 'contract',
  startFrame: 24,
  frameCount: 8,
  leadFrame: 24,
  crossfadeFrames: 2,
  fps: rational(8),
  width: 64,
  height: 48,
  prompt: 'neon city, rain',
  negativePrompt: 'blurry',
  promptBlend: [{ prompt: 'neon city, rain', negativePrompt: 'blurry', weight: 1 }],
  loras: [],
  seed: 7,
  noiseFrame: 0,
  heldFrames: 0,
  denoise: 0.5,
  cfg: 1,
  steps: 4,
  motion: { kind: 'perFrame', scales: [1, 1.1, 1.2, 1.3, 1.4, 1.3, 1.2, 1.1] },
  continuity: 'none',
  section: 'drop',
};

interface EngineUnderTest {
  readonly name: string;
  setUp(): Promise<void>;
  make(): ConfiguredEngine;
  tearDown(): Promise<void>;
}

let server: FakeComfy | undefined;
let tiny: { models: TinyModelPaths; cacheDir: string } | undefined;
const ENGINES: EngineUnderTest[] = [
  { name: 'preview', setUp: async () => undefined, make: () => createPreviewEngine(), tearDown: async () => undefined },
  {
    name: 'comfyui',
    setUp: async () => {
      server = await startFakeComfy({ segmentMs: 120 });
    },
    make: () =>
      createComfyEngine(
        { url: server!.url },
        { tuning: { connectTimeoutMs: 5_000, pollIntervalMs: 50, retryDelayMs: 10 } },
      ),
    tearDown: async () => server?.close(),
  },
  {
    name: 'native',
    setUp: async () => {
      const dir = await tempDir('beatloom-native-contract-');
      tiny = { models: await writeTinyModels(dir), cacheDir: join(dir, 'graphs') };
    },
    make: () =>
      createNativeEngine({
        checkpoint: tiny!.models.checkpointPath,
        motionModel: tiny!.models.motionModulePath,
        cacheDir: tiny!.cacheDir,
        provider: 'cpu',
      }),
    tearDown: async () => undefined,
  },
];

async function render(
  engine: RenderEngine,
  job: SegmentJob,
  options: { initImagePath?: string; signal?: AbortSignal; onProgress?: (p: EngineProgress) => void } = {},
): Promise<{ dir: string; frames: Uint8Array[]; names: readonly string[] }> {
  const dir = await tempDir();
  const result = await engine.renderSegment(job, { workDir: dir, ...options });
  const frames = await Promise.all(
    result.frameFiles.map(async (name) => {
      const image = decodePng(await readFile(join(dir, name)));
      expect([image.width, image.height]).toEqual([job.width, job.height]);
      return image.data;
    }),
  );
  return { dir, frames, names: result.frameFiles };
}

describe.each(ENGINES)('engine contract: $name', (subject) => {
  let configured: ConfiguredEngine;
  let engine: RenderEngine;
  beforeAll(async () => {
    await subject.setUp();
    configured = subject.make();
    engine = await configured.prepare({});
  });
  afterAll(async () => {
    await configured.close();
    await subject.tearDown();
  });

  it('is healthy and says what it can do', async () => {
    expect((await configured.checkHealth({})).ok).toBe(true);
    expect(engine.capabilities.concurrency).toBeGreaterThanOrEqual(1);
    expect(engine.capabilities.maxFrames).toBeGreaterThanOrEqual(16);
    expect(engine.capabilities.initImage).toBe(true);
    expect(engine.capabilities.perFrameMotionScale).toBe(true);
    expect(Object.keys(engine.settingsFingerprint)).toContain('engine');
  });

  it('writes one PNG per frame, of the job’s size, named frame-0000.png… and no other picture', async () => {
    const { dir, names, frames } = await render(engine, JOB);
    expect(names).toEqual(Array.from({ length: 8 }, (_, i) => `frame-000${i}.png`));
    // Besides the frames, only what a continuation reads (ComfyUI's latents.latent), never a PNG.
    const files = (await readdir(dir)).sort();
    expect(files.filter((name) => name.endsWith('.png'))).toEqual([...names]);
    expect(files.filter((name) => !name.endsWith('.png')).every((name) => ENGINE_STATE_FILES.includes(name))).toBe(
      true,
    );
    expect(frames).toHaveLength(8);
  });

  it('is deterministic: the same job gives the same frames; another seed gives others', async () => {
    const a = await render(engine, JOB);
    const b = await render(engine, JOB);
    const c = await render(engine, { ...JOB, seed: 8 });
    expect(a.frames.every((frame, i) => meanAbsDiff(frame, b.frames[i]!) === 0)).toBe(true);
    expect(meanAbsDiff(a.frames[0]!, c.frames[0]!)).toBeGreaterThan(1);
  });

  it('reports progress for its own segment, ending at totalSteps', async () => {
    const events: EngineProgress[] = [];
    await render(engine, JOB, { onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((p) => p.segmentIndex === JOB.index && p.step >= 1 && p.step <= p.totalSteps)).toBe(true);
    expect(events.map((p) => p.step)).toEqual([...events.map((p) => p.step)].sort((x, y) => x - y));
    expect(events.at(-1)!.step).toBe(events.at(-1)!.totalSteps);
  });

  it('stops when aborted mid-segment, with an abort error', async () => {
    const controller = new AbortController();
    const error = await render(engine, JOB, { signal: controller.signal, onProgress: () => controller.abort() }).catch(
      (e: unknown) => e,
    );
    expect(isAbortError(error)).toBe(true);
  });

  it('does nothing when aborted before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const dir = await tempDir();
    const error = await engine.renderSegment(JOB, { workDir: dir, signal: controller.signal }).catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('starts from the init image in proportion to 1 − denoise (chain / anchor continuity)', async () => {
    const previous = await render(engine, { ...JOB, seed: 99, prompt: 'ocean' });
    const init = join(previous.dir, 'frame-0007.png');
    const job = { ...JOB, continuity: 'chain' as const };
    const kept = await render(engine, { ...job, denoise: 0.2 }, { initImagePath: init });
    const fresh = await render(engine, { ...job, denoise: 0.9 }, { initImagePath: init });
    const last = previous.frames[7]!;
    expect(meanAbsDiff(kept.frames[0]!, last)).toBeLessThan(meanAbsDiff(fresh.frames[0]!, last));
  });

  it('rejects an init image of another size', async () => {
    const dir = await tempDir();
    const wrong = join(dir, 'wrong.png');
    await writeFile(wrong, encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) }));
    const error = await engine
      .renderSegment(JOB, { workDir: await tempDir(), initImagePath: wrong })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).code).toBe('E_INIT_SIZE');
  });
});
