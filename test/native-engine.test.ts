/**
 * The native engine on the tiny model: a whole 4-step 16-frame segment against ComfyUI +
 * AnimateDiff-Evolved from the same noise (fixture made by scripts/native/compare-segment.ts
 * --tiny --fixture), bit-for-bit determinism, frame-indexed noise, prompt weights and blends,
 * and every bad input a clear error. The engine contract suite (engine-contract.test.ts) runs it too.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, loadClipVocabulary } from '../src/engines/native/clip-tokenizer.js';
import { blendConditionings, encodePrompt, type Conditioning } from '../src/engines/native/conditioning.js';
import { frameNoise, segmentNoise } from '../src/engines/native/frame-noise.js';
import {
  createNativeEngine,
  decodeNativeFrame,
  imageToRgb,
  sampleNativeLatents,
  type NativeEngine,
} from '../src/engines/native/native-engine.js';
import {
  defaultNativeCacheDir,
  resolveNativeSettings,
  stepsFromMotionModel,
} from '../src/engines/native/native-settings.js';
import { readSafetensors, readTensorFloat32 } from '../src/engines/native/safetensors.js';
import { parseBatch } from '../src/batch/load-batch.js';
import { parseConfigFile } from '../src/engines/engine-config.js';
import { BeatloomError } from '../src/shared/errors.js';
import { decodePng, encodePng } from '../src/raster/png.js';
import { tempDir } from './helpers/media.js';
import { errors, segmentJob, SEGMENT_MOTION } from './helpers/native-segment-case.js';
import {
  writeTinyLora,
  writeTinyModels,
  writeTruncatedCopy,
  type TinyModelPaths,
} from './helpers/native-tiny-model.js';
import type { RenderEngine } from '../src/engines/engine.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/native/native-segment-tiny.safetensors', import.meta.url));

let dir: string;
let models: TinyModelPaths;
let engine: NativeEngine;
let prepared: RenderEngine;
beforeAll(async () => {
  dir = await tempDir('beatloom-native-engine-');
  models = await writeTinyModels(dir);
  engine = createNativeEngine({
    checkpoint: models.checkpointPath,
    motionModel: models.motionModulePath,
    cacheDir: join(dir, 'graphs'),
    provider: 'cpu',
  });
  prepared = await engine.prepare({});
});
afterAll(async () => engine?.close());

describe('a whole segment against ComfyUI + AnimateDiff-Evolved', () => {
  it('starts from the frame-indexed noise the reference was given, bit for bit', async () => {
    const reference = await readSafetensors(FIXTURE);
    const noise = await readTensorFloat32(reference, 'noise');
    expect(segmentNoise(7, 0, 16, 4 * 8 * 8)).toEqual(noise);
  });

  it('samples and decodes 16 frames at 64×64 in 4 steps as ComfyUI does, within float32 tolerance', async () => {
    const reference = await readSafetensors(FIXTURE);
    const deployment = await engine.deployment();
    const job = segmentJob(64, 16, 1, SEGMENT_MOTION);
    const latents = await sampleNativeLatents(deployment, job, { workDir: dir });
    const latentError = errors(latents.samples, await readTensorFloat32(reference, 'latent'));
    // Four Euler steps through a random network amplify float32 rounding: 7e-4 of the latent's scale
    // measured (2.9e-5 after one step); a wrong schedule, weight or motion scale is off by far more.
    expect(latentError.maxRel).toBeLessThan(2e-3);
    const refImages = await readTensorFloat32(reference, 'images_first_last');
    const plane = 3 * 64 * 64;
    const first = await decodeNativeFrame(deployment, latents, 0, 64, 64);
    const last = await decodeNativeFrame(deployment, latents, 15, 64, 64);
    expect(errors(first, refImages.subarray(0, plane)).maxAbs).toBeLessThan(5e-3);
    expect(errors(last, refImages.subarray(plane)).maxAbs).toBeLessThan(5e-3);
  });
});

describe('determinism and continuity', () => {
  const job = segmentJob(64, 8, 1, SEGMENT_MOTION.slice(0, 8));

  it('renders the same job to the same PNG bytes', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await prepared.renderSegment(job, { workDir: a });
    await prepared.renderSegment(job, { workDir: b });
    const names = (await readdir(a)).sort();
    expect(names).toHaveLength(8);
    for (const name of names) expect(await readFile(join(b, name))).toEqual(await readFile(join(a, name)));
  });

  it('takes a prompt longer than one 77-token chunk whole, with a shorter negative prompt at cfg 1.5', async () => {
    const deployment = await engine.deployment();
    expect(deployment.contextTokens).toBeUndefined();
    const long = 'a neon city at night in the rain, '.repeat(12);
    const base = segmentJob(64, 4, 1.5, [1, 1, 1, 1]);
    const calls: number[] = [];
    const run = deployment.sessions.unet.run.bind(deployment.sessions.unet);
    deployment.sessions.unet.run = async (feeds: Parameters<typeof run>[0]) => {
      calls.push((feeds as Record<string, { dims: readonly number[] }>).context!.dims[1]!);
      return run(feeds);
    };
    try {
      await sampleNativeLatents(
        deployment,
        { ...base, prompt: long, promptBlend: [{ prompt: long, negativePrompt: 'blurry', weight: 1 }] },
        { workDir: dir },
      );
    } finally {
      deployment.sessions.unet.run = run;
    }
    expect(calls).toEqual([154, 77, 154, 77, 154, 77, 154, 77]);
  });

  it('gives a song frame the same noise in every segment that holds it', () => {
    const frameSize = 4 * 8 * 8;
    const first = segmentNoise(3, 0, 16, frameSize);
    const second = segmentNoise(3, 12, 16, frameSize);
    expect(second.subarray(0, 4 * frameSize)).toEqual(first.subarray(12 * frameSize));
    expect(frameNoise(3, 12, frameSize)).toEqual(first.subarray(12 * frameSize, 13 * frameSize));
    expect(frameNoise(4, 12, frameSize)).not.toEqual(frameNoise(3, 12, frameSize));
  });

  it('draws unit-variance noise', () => {
    const noise = frameNoise(2 ** 40 + 5, 1234, 100_000);
    const mean = noise.reduce((s, v) => s + v, 0) / noise.length;
    const variance = noise.reduce((s, v) => s + (v - mean) ** 2, 0) / noise.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });
});

describe('noise addressed by the take, held frames', () => {
  const job = segmentJob(64, 8, 1, SEGMENT_MOTION.slice(0, 8));
  const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

  it('starts two jobs at the same place of one seed’s take from the same noise, wherever they sit in the song', async () => {
    const deployment = await engine.deployment();
    const a = await sampleNativeLatents(deployment, { ...job, startFrame: 0, noiseFrame: 12 }, { workDir: dir });
    const b = await sampleNativeLatents(deployment, { ...job, startFrame: 96, noiseFrame: 12 }, { workDir: dir });
    const c = await sampleNativeLatents(deployment, { ...job, startFrame: 0, noiseFrame: 13 }, { workDir: dir });
    expect(same(a.samples, b.samples)).toBe(true);
    expect(same(a.samples, c.samples)).toBe(false);
    // The noise the sampler gets is segmentNoise(seed, noiseFrame, …): given it, any noiseFrame renders alike.
    const noise = segmentNoise(7, 12, 8, a.frameSize);
    const given = await sampleNativeLatents(deployment, { ...job, noiseFrame: 40 }, { workDir: dir, noise });
    expect(same(given.samples, a.samples)).toBe(true);
  });

  it('holds a continuation’s first frames: written as given, their latents the VAE encoding, the rest from the last one', async () => {
    const deployment = await engine.deployment();
    const first = await tempDir();
    await prepared.renderSegment(job, { workDir: first });
    const heldFramePaths = [4, 5, 6, 7].map((i) => join(first, `frame-000${i}.png`));
    const next = { ...job, index: 1, startFrame: 4, noiseFrame: 4, heldFrames: 4, continuity: 'continue' as const };
    const out = await tempDir();
    await prepared.renderSegment({ ...next, denoise: 0.5 }, { workDir: out, heldFramePaths });
    for (let i = 0; i < 4; i++)
      expect(await readFile(join(out, `frame-000${i}.png`)).then((b) => decodePng(b).data)).toEqual(
        await readFile(heldFramePaths[i]!).then((b) => decodePng(b).data),
      );
    // The sampler hands held frames back at their latents (to float32 rounding of the last Euler step).
    const encoded = await Promise.all(
      heldFramePaths.map(async (path) => {
        const image = decodePng(await readFile(path));
        const chw = new Float32Array(3 * 64 * 64);
        for (let p = 0; p < 64 * 64; p++) for (let c = 0; c < 3; c++) chw[c * 4096 + p] = image.data[p * 3 + c]! / 255;
        const result = await deployment.sessions.vaeEncoder.run({
          image: new deployment.ort.Tensor('float32', chw, [1, 3, 64, 64]),
        });
        return result.latent!.data as Float32Array;
      }),
    );
    const at = (denoise: number) =>
      sampleNativeLatents(deployment, { ...next, denoise }, { workDir: dir, heldFramePaths });
    const half = await at(0.5);
    const size = half.frameSize;
    for (let i = 0; i < 4; i++)
      expect(errors(half.samples.subarray(i * size, (i + 1) * size), encoded[i]!).maxRel).toBeLessThan(1e-5);
    // The new frames start from the last held latent: the less denoise, the closer they stay to it.
    const distance = (latents: typeof half): number => {
      let sum = 0;
      for (let j = 4; j < 8; j++)
        for (let k = 0; k < size; k++) sum += Math.abs(latents.samples[j * size + k]! - encoded[3]![k]!);
      return sum / (4 * size);
    };
    const low = distance(await at(0.25));
    const full = distance(await at(1));
    expect(low).toBeLessThan(distance(half));
    expect(distance(half)).toBeLessThan(full);
  });

  it('starts from an init image at startStepFor on the module’s grid: the less denoise, the nearer its encoding', async () => {
    const deployment = await engine.deployment();
    const first = await tempDir();
    await prepared.renderSegment(job, { workDir: first });
    const initImagePath = join(first, 'frame-0007.png');
    const chain = { ...job, continuity: 'chain' as const };
    const from = await sampleNativeLatents(deployment, { ...chain, denoise: 0 }, { workDir: dir, initImagePath });
    const distance = async (denoise: number): Promise<number> => {
      const latents = await sampleNativeLatents(deployment, { ...chain, denoise }, { workDir: dir, initImagePath });
      let sum = 0;
      for (let k = 0; k < latents.samples.length; k++) sum += Math.abs(latents.samples[k]! - from.samples[k]!);
      return sum / latents.samples.length;
    };
    // 4 steps: denoise 0.2 starts at step 3 as denoise 0 does (the last step always runs), 0.5 at 2, 1 at 0.
    expect(await distance(0.2)).toBe(0);
    const half = await distance(0.5);
    expect(half).toBeGreaterThan(0);
    expect(await distance(1)).toBeGreaterThan(half);
  });

  it('rejects held frames of another size and a count that is not heldFrames', async () => {
    const wrong = join(dir, 'held-wrong.png');
    await writeFile(wrong, encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) }));
    const next = { ...job, heldFrames: 2, continuity: 'continue' as const };
    const size = await prepared
      .renderSegment(next, { workDir: await tempDir(), heldFramePaths: [wrong, wrong] })
      .catch((e: unknown) => e);
    expect(size).toBeInstanceOf(BeatloomError);
    expect((size as BeatloomError).message).toBe(`held frame ${wrong} is 32x32, the render is 64x64`);
    const count = await prepared
      .renderSegment(next, { workDir: await tempDir(), heldFramePaths: [wrong] })
      .catch((e: unknown) => e);
    expect((count as BeatloomError).code).toBe('E_INIT_MISSING');
  });
});

describe('LoRAs', () => {
  it('merges a LoRA at a fixed strength into its own cached graphs, which render other frames', async () => {
    const lora = join(dir, 'tiny-lora.safetensors');
    await writeTinyLora(lora);
    const withLora = createNativeEngine({
      checkpoint: models.checkpointPath,
      motionModel: models.motionModulePath,
      cacheDir: join(dir, 'graphs'),
      provider: 'cpu',
      loras: [{ path: lora, strengthModel: 1, strengthClip: 0.5 }],
    });
    try {
      // The LoRA file's hash is in the graphs' key, so the prepared engines' fingerprints differ.
      expect((await withLora.prepare({})).settingsFingerprint['graphs']).not.toBe(
        prepared.settingsFingerprint['graphs'],
      );
      const plain = await engine.deployment();
      const merged = await withLora.deployment();
      expect(merged.graphKey).not.toBe(plain.graphKey);
      const job = segmentJob(64, 2, 1, [1, 1]);
      const a = await sampleNativeLatents(plain, job, { workDir: dir });
      const b = await sampleNativeLatents(merged, job, { workDir: dir });
      expect(errors(b.samples, a.samples).maxAbs).toBeGreaterThan(1e-3);
    } finally {
      await withLora.close();
    }
  });
});

describe('conditioning', () => {
  const tokenizer = new ClipTokenizer(loadClipVocabulary());
  // A stand-in text encoder: token id and position, so weights and chunks are visible in the values.
  const encode = async (rows: readonly (readonly number[])[]): Promise<Float32Array> =>
    Float32Array.from(rows.flatMap((row) => row.flatMap((id, j) => [id / 1000, j])));

  it('pulls weighted tokens away from the empty prompt by their weight, as ComfyUI does', async () => {
    const plain = await encodePrompt('a cat', tokenizer, encode, 2);
    const weighted = await encodePrompt('a (cat:1.5)', tokenizer, encode, 2);
    expect(weighted.tokens).toBe(77);
    // token 2 ('cat', 2368) against the empty prompt's token 2 (the end token 49407)
    expect(weighted.values[4]).toBeCloseTo((2.368 - 49.407) * 1.5 + 49.407, 4);
    expect(weighted.values[2]).toBe(plain.values[2]);
  });

  it('concatenates the chunks of a long prompt and blends prompts by weight over the first one’s tokens', async () => {
    const long = await encodePrompt('word '.repeat(100), tokenizer, encode, 2);
    expect(long.tokens).toBe(154);
    const short: Conditioning = { values: new Float32Array(77 * 2).fill(1), tokens: 77, width: 2 };
    const zero: Conditioning = { values: new Float32Array(154 * 2), tokens: 154, width: 2 };
    const blend = blendConditionings([
      { conditioning: short, weight: 0.75 },
      { conditioning: zero, weight: 0.25 },
    ]);
    expect(blend.tokens).toBe(77);
    expect(blend.values[10]).toBe(0.75);
  });

  it('writes frames as ComfyUI’s SaveImage does: 255 · x clipped and truncated', () => {
    const image = Float32Array.from([0, 0.5, 1.2, -0.1, 0.999, 0.0039]);
    // 2×1 frame, planes R = [0, 0.5], G = [1.2, -0.1], B = [0.999, 0.0039]
    expect([...imageToRgb(image, 2, 1, 0)]).toEqual([0, 255, 254, 127, 0, 0]);
  });
});

describe('bad input', () => {
  async function failure(run: () => unknown): Promise<BeatloomError> {
    let error: unknown;
    try {
      await run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BeatloomError);
    return error as BeatloomError;
  }

  it('needs a checkpoint and a motion module', async () => {
    const noCheckpoint = await failure(() => createNativeEngine({ motionModel: models.motionModulePath }));
    expect([noCheckpoint.code, noCheckpoint.kind]).toEqual(['E_NATIVE_CONFIG', 'usage']);
    expect(noCheckpoint.hint).toContain('--native-checkpoint');
    const noMotion = await failure(() => createNativeEngine({ checkpoint: models.checkpointPath }));
    expect(noMotion.hint).toContain('--native-motion-model');
  });

  it('names a missing or truncated model file and caches nothing for it', async () => {
    const cacheDir = join(dir, 'bad-cache');
    const missing = createNativeEngine({
      checkpoint: join(dir, 'nope.safetensors'),
      motionModel: models.motionModulePath,
      cacheDir,
    });
    const error = await failure(() => missing.prepare({}));
    expect(error.kind).toBe('usage');
    expect(error.message).toContain('nope.safetensors');
    const truncated = join(dir, 'truncated.safetensors');
    await writeTruncatedCopy(models.checkpointPath, truncated);
    const cut = createNativeEngine({ checkpoint: truncated, motionModel: models.motionModulePath, cacheDir });
    expect((await failure(() => cut.prepare({}))).message).toContain('truncated.safetensors');
    expect((await readdir(cacheDir).catch(() => [])).filter((name) => !name.endsWith('.json'))).toEqual([]);
    const health = await cut.checkHealth({});
    expect(health.ok).toBe(false);
    expect(health.problems[0]).toContain('truncated.safetensors');
  });

  it('rejects a size that is not a multiple of 8, and LoRAs it cannot apply', async () => {
    const job = { ...segmentJob(64, 2, 1, [1, 1]), width: 60 };
    const error = await failure(() => prepared.renderSegment(job, { workDir: dir }));
    expect(error.code).toBe('E_NATIVE_SIZE');
    expect(() => prepared.checkNeeds({ loras: ['detail'] })).toThrow(/LoRA strengths per segment \(detail\)/);
    expect(() => prepared.checkNeeds({ loras: [] })).not.toThrow();
  });
});

describe('settings', () => {
  it('takes the steps from a Lightning module’s file name', () => {
    expect(stepsFromMotionModel('/m/animatediff_lightning_8step_comfyui.safetensors')).toBe(8);
    expect(stepsFromMotionModel('/m/mm_sd_v15_v2.ckpt')).toBeUndefined();
    const settings = resolveNativeSettings({
      checkpoint: 'a.safetensors',
      motionModel: 'animatediff_lightning_2step_comfyui.safetensors',
    });
    expect(settings.steps).toBe(2);
    expect(settings.provider).toBe('auto');
    expect(resolveNativeSettings({ checkpoint: 'a', motionModel: 'b', steps: 3 }).steps).toBe(3);
    expect(resolveNativeSettings({ checkpoint: 'a', motionModel: 'b' }).steps).toBe(4);
  });

  it('reads native: in the config file and engineOptions in a batch file, paths relative to the file', () => {
    const config = parseConfigFile(
      'engine: native\nnative:\n  checkpoint: m/sd15.safetensors\n  threads: 2\n',
      '/cfg/c.yaml',
    );
    expect(config.native).toEqual({ checkpoint: '/cfg/m/sd15.safetensors', threads: 2 });
    expect(() => parseConfigFile('native:\n  provider: tpu\n', '/cfg/c.yaml')).toThrow(/native\.provider/);
    const batch = parseBatch(
      [
        'version: 1',
        'defaults: { engine: native, engineOptions: { checkpoint: sd.safetensors, motionModel: mm.safetensors } }',
        'jobs:',
        '  - { audio: a.wav }',
        '  - { audio: b.wav, engineOptions: { cacheDir: cache } }',
      ].join('\n'),
      '/jobs/batch.yaml',
    );
    expect(batch.jobs.map((job) => job.engine)).toEqual([
      { id: 'native', options: { checkpoint: '/jobs/sd.safetensors', motionModel: '/jobs/mm.safetensors' } },
      {
        id: 'native',
        options: { checkpoint: '/jobs/sd.safetensors', motionModel: '/jobs/mm.safetensors', cacheDir: '/jobs/cache' },
      },
    ]);
  });

  it('caches graphs under XDG_CACHE_HOME or ~/.cache', () => {
    expect(defaultNativeCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/beatloom/native');
    expect(defaultNativeCacheDir({})).toMatch(/\.cache\/beatloom\/native$/);
  });
});
