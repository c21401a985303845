import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildNativeGraphs,
  type NativeBuildProgress,
  type NativeGraphFiles,
} from '../src/engines/native/build-graphs.js';
import { validateCheckpoint, validateMotionModule } from '../src/engines/native/model-spec.js';
import { GraphBuilder } from '../src/engines/native/onnx/graph-builder.js';
import { writeOnnxModel } from '../src/engines/native/onnx/write-onnx.js';
import { readSafetensors, readTensorFloat32, toFloat32, writeSafetensors } from '../src/engines/native/safetensors.js';
import { AbortedError, BeatloomError } from '../src/shared/errors.js';
import {
  TINY_CLIP,
  TINY_MOTION,
  TINY_UNET,
  TINY_VAE,
  writeMidlessMotionModule,
  writeSdxlLikeCheckpoint,
  writeTinyLora,
  writeTinyModels,
  writeTruncatedCopy,
  writeWrongShapeCheckpoint,
  type TinyModelPaths,
} from './helpers/native-tiny-model.js';

// Made by scripts/native-reference/reference.py from ComfyUI 0.8.0's and AnimateDiff-Evolved's own
// modules on writeTinyModels(dir, 1), with writeTinyLora merged at strengths 0.8 / 0.6 for the lora.*
// outputs (see scripts/native-reference/README.md).
const REFERENCE = fileURLToPath(
  new URL('./fixtures/native/native-tiny-comfyui-reference.safetensors', import.meta.url),
);
/** fp32 agreement measured 3e-6; the bound leaves room for other CPUs' kernels, not for a wrong graph. */
const TOLERANCE = 1e-4;

let dir: string;
let tiny: TinyModelPaths;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beatloom-native-graphs-'));
  tiny = await writeTinyModels(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function caught(promise: Promise<unknown>): Promise<BeatloomError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(BeatloomError);
  return error as BeatloomError;
}

function maxAbsError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i]! - expected[i]!));
  return max;
}

describe('safetensors', () => {
  it('reads what it writes, and float16 exactly', async () => {
    const path = join(dir, 'roundtrip.safetensors');
    await writeSafetensors(
      path,
      [
        { name: 'a', dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, -2, 0.5, 3.25]) },
        { name: 'h', dtype: 'F16', shape: [5], data: Float32Array.from([1, -2.5, 65504, 2 ** -24, 0.1]) },
      ],
      { note: 'x' },
    );
    const file = await readSafetensors(path);
    expect(file.metadata).toEqual({ note: 'x' });
    expect(file.tensors.get('a')).toMatchObject({ dtype: 'F32', shape: [2, 2], byteLength: 16 });
    expect([...(await readTensorFloat32(file, 'a'))]).toEqual([1, -2, 0.5, 3.25]);
    // 0.1 rounds to the nearest float16, 0x2E66
    expect([...(await readTensorFloat32(file, 'h'))]).toEqual([1, -2.5, 65504, 2 ** -24, 0.0999755859375]);
  });

  it('converts bfloat16', () => {
    expect([...toFloat32(Uint8Array.from([0x80, 0x3f, 0x20, 0xc0]), 'BF16', 't')]).toEqual([1, -2.5]);
  });

  it('names the file for a missing, truncated or malformed file', async () => {
    const missing = await caught(readSafetensors(join(dir, 'nope.safetensors')));
    expect(missing.code).toBe('E_NATIVE_MODEL_MISSING');
    expect(missing.kind).toBe('usage');
    expect(missing.message).toBe(`model file ${join(dir, 'nope.safetensors')} does not exist`);

    const truncated = join(dir, 'truncated.safetensors');
    await writeTruncatedCopy(tiny.motionModulePath, truncated);
    const cut = await caught(readSafetensors(truncated));
    expect(cut.code).toBe('E_NATIVE_MODEL_FILE');
    expect(cut.message).toMatch(
      new RegExp(
        `^${truncated} is not a valid \\.safetensors file: tensor \\S+ ends at byte \\d+ but the file has \\d+ \\(truncated\\)$`,
      ),
    );

    const headerCut = join(dir, 'header-cut.safetensors');
    await writeTruncatedCopy(tiny.motionModulePath, headerCut, 100);
    expect((await caught(readSafetensors(headerCut))).message).toMatch(
      /its header needs \d+ bytes but the file has 92 \(truncated\)/,
    );

    const garbage = join(dir, 'garbage.safetensors');
    const bytes = Buffer.alloc(20);
    bytes.writeBigUInt64LE(12n, 0);
    bytes.write('{not json!}!', 8);
    await writeFile(garbage, bytes);
    expect((await caught(readSafetensors(garbage))).message).toBe(
      `${garbage} is not a valid .safetensors file: its header is not JSON`,
    );
  });
});

describe('ONNX writer', () => {
  it('writes a model with external weights that onnxruntime runs', async () => {
    const g = new GraphBuilder('test');
    const x = g.input('x', 'float', ['N', 3]);
    // 3×400 floats: above the inline limit, so stored in the .data file
    const w = g.weight('w', [3, 400], async () =>
      Float32Array.from({ length: 1200 }, (_, i) => (i % 400) * (Math.floor(i / 400) + 1)),
    );
    const y = g.groupNorm(
      g.reshape(g.matmul(x, w), [0, 1, 400]),
      1,
      g.constFloat([2], [1, 1]),
      g.constFloat([1], [1, 1]),
      0,
    );
    g.output(g.matmul(x, w), 'y', 'float', ['N', 400]);
    g.output(y, 'z', 'float', ['N', 1, 400]);
    const path = join(dir, 'small.onnx');
    await writeOnnxModel(g, path);
    expect((await stat(`${path}.data`)).size).toBe(4800);
    expect((await stat(path)).size).toBeLessThan(2000);
    const session = await ort.InferenceSession.create(path);
    const result = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1, 1, 1]), [2, 3]) });
    const out = result.y!.data as Float32Array;
    expect(result.y!.dims).toEqual([2, 400]);
    expect([out[0], out[1], out[399], out[400], out[401], out[799]]).toEqual([0, 1, 399, 0, 6, 2394]);
    // group norm of 0..399 (population std), ×2 + 1
    const z = result.z!.data as Float32Array;
    const std = Math.sqrt((400 * 400 - 1) / 12);
    expect(z[0]).toBeCloseTo(1 - (2 * 199.5) / std, 5);
    await session.release();
  });
});

describe('model spec', () => {
  it('infers the tiny model widths from tensor shapes', async () => {
    const checkpoint = validateCheckpoint(await readSafetensors(tiny.checkpointPath));
    expect(checkpoint).toEqual({ unet: TINY_UNET, clip: TINY_CLIP, vae: TINY_VAE });
    expect(validateMotionModule(await readSafetensors(tiny.motionModulePath), checkpoint.unet)).toEqual(TINY_MOTION);
  });

  it('rejects another family, a wrong shape and swapped files by name', async () => {
    const sdxl = join(dir, 'sdxl.safetensors');
    await writeSdxlLikeCheckpoint(sdxl);
    const family = await caught(readSafetensors(sdxl).then(validateCheckpoint));
    expect(family.code).toBe('E_NATIVE_MODEL_FAMILY');
    expect(family.message).toBe(`${sdxl} is an SDXL checkpoint, not an SD 1.5 checkpoint`);

    const wrong = join(dir, 'wrong-shape.safetensors');
    const name = 'model.diffusion_model.output_blocks.4.1.transformer_blocks.0.attn2.to_k.weight';
    await writeWrongShapeCheckpoint(wrong, name);
    const shape = await caught(readSafetensors(wrong).then(validateCheckpoint));
    expect(shape.code).toBe('E_NATIVE_MODEL_SHAPE');
    expect(shape.message).toBe(
      `${wrong}: tensor ${name} has shape [64, 65], expected [64, 64] for an SD 1.5 checkpoint`,
    );

    const swapped = await caught(readSafetensors(tiny.motionModulePath).then(validateCheckpoint));
    expect(swapped.message).toBe(
      `${tiny.motionModulePath} is not an SD 1.5 checkpoint in the original layout (no model.diffusion_model.* tensors)`,
    );
    expect(swapped.hint).toMatch(/--native-motion-model/);
    const unet = validateCheckpoint(await readSafetensors(tiny.checkpointPath)).unet;
    const asMotion = await caught(
      readSafetensors(tiny.checkpointPath).then((file) => validateMotionModule(file, unet)),
    );
    expect(asMotion.message).toBe(
      `${tiny.checkpointPath} is not an AnimateDiff v2 motion module (no motion_modules tensors)`,
    );
  });

  it('rejects a motion module without a mid block (v1 / v3) or for SDXL', async () => {
    const midless = join(dir, 'v3.safetensors');
    await writeMidlessMotionModule(midless);
    const error = await caught(readSafetensors(midless).then((file) => validateMotionModule(file, TINY_UNET)));
    expect(error.code).toBe('E_NATIVE_MODEL_FAMILY');
    expect(error.message).toBe(
      `${midless} is not an AnimateDiff v2 motion module: it has no mid block (AnimateDiff v1 or v3)`,
    );
    const sdxlModule = join(dir, 'sdxl-motion.safetensors');
    const names = [...(await readSafetensors(tiny.motionModulePath)).tensors.keys()];
    await writeSafetensors(
      sdxlModule,
      names
        .filter((name) => !name.startsWith('down_blocks.3.') && !name.startsWith('up_blocks.3.'))
        .map((name) => ({ name, dtype: 'F32' as const, shape: [1], data: new Float32Array(1) })),
    );
    const sdxl = await caught(readSafetensors(sdxlModule).then((file) => validateMotionModule(file, TINY_UNET)));
    expect(sdxl.message).toBe(
      `${sdxlModule} is not an AnimateDiff v2 motion module: it has 3 down blocks (an SDXL motion module)`,
    );
  });
});

describe('buildNativeGraphs on the tiny model', () => {
  let cacheDir: string;
  let files: NativeGraphFiles;
  const events: NativeBuildProgress[] = [];

  beforeAll(async () => {
    cacheDir = join(dir, 'cache');
    files = await buildNativeGraphs({ ...tiny, cacheDir, onProgress: (event) => events.push(event) });
  });

  async function run(path: string, feeds: Record<string, ort.Tensor>, output: string): Promise<Float32Array> {
    const session = await ort.InferenceSession.create(path);
    try {
      return (await session.run(feeds))[output]!.data as Float32Array;
    } finally {
      await session.release();
    }
  }

  async function refTensor(name: string): Promise<ort.Tensor> {
    const ref = await readSafetensors(REFERENCE);
    const entry = ref.tensors.get(name)!;
    return new ort.Tensor('float32', await readTensorFloat32(ref, name), [...entry.shape]);
  }

  it('reports dims and builds every graph into one cache entry', async () => {
    expect(files.dims).toMatchObject({ contextDim: 64, latentChannels: 4, vaeScaleFactor: 8, motionMaxFrames: 32 });
    const entry = join(files.unet, '..');
    expect((await readdir(entry)).sort()).toEqual([
      'manifest.json',
      'text_encoder.onnx',
      'text_encoder.onnx.data',
      'unet.onnx',
      'unet.onnx.data',
      'vae_decoder.onnx',
      'vae_decoder.onnx.data',
      'vae_encoder.onnx',
      'vae_encoder.onnx.data',
    ]);
    expect(
      events.filter((event) => event.stage === 'building').map((event) => event.stage === 'building' && event.graph),
    ).toContain('unet');
    expect(events.some((event) => event.stage === 'hashing')).toBe(true);
  });

  it('text encoder matches ComfyUI', async () => {
    const ref = await readSafetensors(REFERENCE);
    const ids = ref.tensors.get('text.input_ids')!;
    const idBytes = await import('node:fs/promises').then((fs) => fs.readFile(REFERENCE));
    const idValues = new BigInt64Array(
      idBytes.buffer.slice(idBytes.byteOffset + ids.fileOffset, idBytes.byteOffset + ids.fileOffset + ids.byteLength),
    );
    const out = await run(
      files.textEncoder,
      { input_ids: new ort.Tensor('int64', idValues, [2, 77]) },
      'hidden_states',
    );
    expect(maxAbsError(out, await readTensorFloat32(ref, 'text.hidden_states'))).toBeLessThan(TOLERANCE);
  });

  it('UNet + motion modules match ComfyUI + AnimateDiff-Evolved, per-frame motion scale included', async () => {
    const feeds = {
      sample: await refTensor('unet.sample'),
      timestep: await refTensor('unet.timestep'),
      context: await refTensor('unet.context'),
      motion_scale: await refTensor('unet.motion_scale'),
    };
    const expected = await readTensorFloat32(await readSafetensors(REFERENCE), 'unet.eps');
    const session = await ort.InferenceSession.create(files.unet);
    try {
      const eps = (await session.run(feeds)).eps!.data as Float32Array;
      expect(maxAbsError(eps, expected)).toBeLessThan(TOLERANCE);
      // the reference used scales [1, 0.5, 1.5, 1]: all ones must give a different answer
      const ones = new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1]), [4]);
      const unscaled = (await session.run({ ...feeds, motion_scale: ones })).eps!.data as Float32Array;
      expect(maxAbsError(unscaled, expected)).toBeGreaterThan(1e-3);
      // the context's token axis is dynamic (ComfyUI concatenates 77-token chunks of a long prompt):
      // every token twice attends exactly as once
      const context = feeds.context.data as Float32Array;
      const doubled = new Float32Array(context.length * 2);
      for (let frame = 0; frame < 4; frame++) {
        const one = context.subarray(frame * 77 * 64, (frame + 1) * 77 * 64);
        doubled.set(one, frame * 154 * 64);
        doubled.set(one, frame * 154 * 64 + 77 * 64);
      }
      const long = await session.run({ ...feeds, context: new ort.Tensor('float32', doubled, [4, 154, 64]) });
      expect(long.eps!.dims).toEqual([4, 4, 8, 8]);
      expect(maxAbsError(long.eps!.data as Float32Array, expected)).toBeLessThan(TOLERANCE);
    } finally {
      await session.release();
    }
  });

  it('VAE decoder and encoder match ComfyUI', async () => {
    const ref = await readSafetensors(REFERENCE);
    const image = await run(files.vaeDecoder, { latent: await refTensor('vae_decoder.latent') }, 'image');
    expect(maxAbsError(image, await readTensorFloat32(ref, 'vae_decoder.image'))).toBeLessThan(TOLERANCE);
    const latent = await run(files.vaeEncoder, { image: await refTensor('vae_encoder.image') }, 'latent');
    expect(maxAbsError(latent, await readTensorFloat32(ref, 'vae_encoder.latent'))).toBeLessThan(TOLERANCE);
  });

  it('a second call uses the cache without rebuilding or re-hashing', async () => {
    const before = (await stat(files.unet)).mtimeMs;
    const again: NativeBuildProgress[] = [];
    const second = await buildNativeGraphs({ ...tiny, cacheDir, onProgress: (event) => again.push(event) });
    expect(second).toEqual(files);
    expect(again).toEqual([{ stage: 'cached', dir: join(files.unet, '..') }]);
    expect((await stat(files.unet)).mtimeMs).toBe(before);
  });

  it('a cancelled build leaves nothing in the cache', async () => {
    const other = join(dir, 'cache-cancel');
    const controller = new AbortController();
    const error = await buildNativeGraphs({
      ...tiny,
      cacheDir: other,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.stage === 'building' && event.graph === 'vaeDecoder') controller.abort();
      },
    }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(AbortedError);
    expect(await readdir(other)).toEqual(['file-hashes.json']);
  });

  it('bad model files fail before anything is cached', async () => {
    const other = join(dir, 'cache-bad');
    const truncated = join(dir, 'truncated-ckpt.safetensors');
    await writeTruncatedCopy(tiny.checkpointPath, truncated);
    const midless = join(dir, 'midless.safetensors');
    await writeMidlessMotionModule(midless);
    for (const [checkpointPath, motionModulePath, code] of [
      [join(dir, 'absent.safetensors'), tiny.motionModulePath, 'E_NATIVE_MODEL_MISSING'],
      [truncated, tiny.motionModulePath, 'E_NATIVE_MODEL_FILE'],
      [tiny.checkpointPath, midless, 'E_NATIVE_MODEL_FAMILY'],
    ] as const) {
      expect((await caught(buildNativeGraphs({ checkpointPath, motionModulePath, cacheDir: other }))).code).toBe(code);
    }
    await expect(stat(other)).rejects.toThrow();
  });

  it("merges a kohya LoRA as ComfyUI's LoraLoader does, under its own cache key", async () => {
    const loraPath = join(dir, 'tiny-lora.safetensors');
    await writeTinyLora(loraPath);
    const withLora = await buildNativeGraphs({
      ...tiny,
      cacheDir,
      loras: [{ path: loraPath, strengthModel: 0.8, strengthClip: 0.6 }],
    });
    expect(join(withLora.unet, '..')).not.toBe(join(files.unet, '..'));
    const ref = await readSafetensors(REFERENCE);
    const ids = ref.tensors.get('text.input_ids')!;
    const raw = await import('node:fs/promises').then((fs) => fs.readFile(REFERENCE));
    const idValues = new BigInt64Array(
      raw.buffer.slice(raw.byteOffset + ids.fileOffset, raw.byteOffset + ids.fileOffset + ids.byteLength),
    );
    const hidden = await run(
      withLora.textEncoder,
      { input_ids: new ort.Tensor('int64', idValues, [2, 77]) },
      'hidden_states',
    );
    expect(maxAbsError(hidden, await readTensorFloat32(ref, 'lora.text.hidden_states'))).toBeLessThan(TOLERANCE);
    const feeds = {
      sample: await refTensor('unet.sample'),
      timestep: await refTensor('unet.timestep'),
      context: await refTensor('unet.context'),
      motion_scale: await refTensor('unet.motion_scale'),
    };
    const eps = await run(withLora.unet, feeds, 'eps');
    expect(maxAbsError(eps, await readTensorFloat32(ref, 'lora.unet.eps'))).toBeLessThan(TOLERANCE);
    expect(maxAbsError(eps, await readTensorFloat32(ref, 'unet.eps'))).toBeGreaterThan(1e-2);
  });

  it('rejects a file that is not an SD 1.5 LoRA', async () => {
    const error = await caught(
      buildNativeGraphs({
        ...tiny,
        cacheDir,
        loras: [{ path: tiny.motionModulePath, strengthModel: 1, strengthClip: 1 }],
      }),
    );
    expect(error.code).toBe('E_NATIVE_LORA');
    expect(error.message).toBe(
      `${tiny.motionModulePath} is not an SD 1.5 LoRA: none of its tensors names a module of the checkpoint`,
    );
  });
});
