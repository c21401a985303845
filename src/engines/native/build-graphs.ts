import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, BeatloomError, throwIfAborted } from '../../shared/errors.js';
import { buildTextEncoderGraph } from './graphs/text-encoder-graph.js';
import { buildUnetGraph } from './graphs/unet-graph.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from './graphs/vae-graphs.js';
import { readLoraPatches, type NativeLora } from './lora.js';
import { nativeModelDims, validateCheckpoint, validateMotionModule, type NativeModelDims } from './model-spec.js';
import type { GraphBuilder } from './onnx/graph-builder.js';
import { writeOnnxModel } from './onnx/write-onnx.js';
import { readSafetensors } from './safetensors.js';

/**
 * Builds (once) the four ONNX graphs of the native engine from a ComfyUI user's SD 1.5 checkpoint and
 * AnimateDiff v2 / Lightning motion module, cached under `cacheDir/<key>/` with key = sha256 of both
 * files' bytes and of this builder's version. A build goes to a temporary folder renamed into place
 * when complete, so a crash or cancel never leaves a half-built cache entry that later runs would use.
 */
export const NATIVE_GRAPHS_VERSION = 2;

export interface NativeGraphFiles {
  readonly textEncoder: string;
  readonly unet: string;
  readonly vaeDecoder: string;
  readonly vaeEncoder: string;
  readonly dims: NativeModelDims;
}

export type NativeGraphName = 'textEncoder' | 'unet' | 'vaeDecoder' | 'vaeEncoder';

export type NativeBuildProgress =
  | { readonly stage: 'hashing'; readonly path: string; readonly doneBytes: number; readonly totalBytes: number }
  | {
      readonly stage: 'building';
      readonly graph: NativeGraphName;
      readonly doneBytes: number;
      readonly totalBytes: number;
    }
  | { readonly stage: 'cached'; readonly dir: string };

export interface BuildNativeGraphsOptions {
  readonly checkpointPath: string;
  readonly motionModulePath: string;
  readonly cacheDir: string;
  /** Merged into the UNet and text encoder weights (ComfyUI LoraLoader semantics); part of the cache key. */
  readonly loras?: readonly NativeLora[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: NativeBuildProgress) => void;
}

const FILE_NAMES: Record<NativeGraphName, string> = {
  textEncoder: 'text_encoder.onnx',
  unet: 'unet.onnx',
  vaeDecoder: 'vae_decoder.onnx',
  vaeEncoder: 'vae_encoder.onnx',
};
const MANIFEST = 'manifest.json';
const HASH_MEMO = 'file-hashes.json';

interface Manifest {
  readonly version: number;
  readonly checkpointSha256: string;
  readonly motionModuleSha256: string;
  readonly loras: readonly { sha256: string; strengthModel: number; strengthClip: number }[];
  readonly dims: NativeModelDims;
}

type HashMemo = Record<string, { sizeBytes: number; mtimeMs: number; sha256: string }>;

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function sha256File(
  path: string,
  signal: AbortSignal | undefined,
  onBytes: (done: number) => void,
): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  const stream = createReadStream(path, { highWaterMark: 4 * 1024 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (signal?.aborted) {
      stream.destroy();
      throw new AbortedError();
    }
    hash.update(chunk);
    done += chunk.length;
    onBytes(done);
  }
  return hash.digest('hex');
}

/** sha256 of a file, memoised by path + size + mtime so a second load does not re-read gigabytes. */
async function fileSha256(path: string, cacheDir: string, options: BuildNativeGraphsOptions): Promise<string> {
  const info = await stat(path);
  const memoPath = join(cacheDir, HASH_MEMO);
  const memo = (await readJson<HashMemo>(memoPath)) ?? {};
  const known = memo[path];
  if (known && known.sizeBytes === info.size && known.mtimeMs === info.mtimeMs) return known.sha256;
  const sha256 = await sha256File(path, options.signal, (doneBytes) =>
    options.onProgress?.({ stage: 'hashing', path, doneBytes, totalBytes: info.size }),
  );
  const latest = (await readJson<HashMemo>(memoPath)) ?? {};
  latest[path] = { sizeBytes: info.size, mtimeMs: info.mtimeMs, sha256 };
  const temp = `${memoPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, `${JSON.stringify(latest, null, 2)}\n`);
  await rename(temp, memoPath);
  return sha256;
}

function filesIn(dir: string, dims: NativeModelDims): NativeGraphFiles {
  return {
    textEncoder: join(dir, FILE_NAMES.textEncoder),
    unet: join(dir, FILE_NAMES.unet),
    vaeDecoder: join(dir, FILE_NAMES.vaeDecoder),
    vaeEncoder: join(dir, FILE_NAMES.vaeEncoder),
    dims,
  };
}

async function cachedEntry(dir: string): Promise<Manifest | undefined> {
  const manifest = await readJson<Manifest>(join(dir, MANIFEST));
  return manifest?.version === NATIVE_GRAPHS_VERSION ? manifest : undefined;
}

export async function buildNativeGraphs(options: BuildNativeGraphsOptions): Promise<NativeGraphFiles> {
  const { checkpointPath, motionModulePath, cacheDir, signal } = options;
  // Headers first: a wrong or damaged file fails in milliseconds, before gigabytes are hashed.
  const checkpoint = await readSafetensors(checkpointPath);
  const motionFile = await readSafetensors(motionModulePath);
  const checkpointDims = validateCheckpoint(checkpoint);
  const motionDims = validateMotionModule(motionFile, checkpointDims.unet);
  const dims = nativeModelDims(checkpointDims, motionDims);
  const loras = options.loras ?? [];
  const patches = await readLoraPatches(loras, dims.unet, dims.clip);

  await mkdir(cacheDir, { recursive: true });
  const checkpointSha256 = await fileSha256(checkpointPath, cacheDir, options);
  const motionModuleSha256 = await fileSha256(motionModulePath, cacheDir, options);
  const loraKeys: { sha256: string; strengthModel: number; strengthClip: number }[] = [];
  for (const lora of loras) {
    loraKeys.push({
      sha256: await fileSha256(lora.path, cacheDir, options),
      strengthModel: lora.strengthModel,
      strengthClip: lora.strengthClip,
    });
  }
  const keyText = [
    `beatloom-native-graphs/v${NATIVE_GRAPHS_VERSION}`,
    checkpointSha256,
    motionModuleSha256,
    ...loraKeys.map((lora) => `lora ${lora.sha256} ${lora.strengthModel} ${lora.strengthClip}`),
  ].join('\n');
  const key = createHash('sha256').update(`${keyText}\n`).digest('hex').slice(0, 32);
  const finalDir = join(cacheDir, key);
  if (await cachedEntry(finalDir)) {
    options.onProgress?.({ stage: 'cached', dir: finalDir });
    return filesIn(finalDir, dims);
  }

  const tempDir = join(cacheDir, `.${key}.building-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tempDir, { recursive: true });
  try {
    const graphs: [NativeGraphName, () => GraphBuilder][] = [
      ['textEncoder', () => buildTextEncoderGraph(checkpoint, dims.clip, patches)],
      ['vaeDecoder', () => buildVaeDecoderGraph(checkpoint, dims.vae)],
      ['vaeEncoder', () => buildVaeEncoderGraph(checkpoint, dims.vae)],
      ['unet', () => buildUnetGraph(checkpoint, motionFile, dims.unet, dims.motion, patches)],
    ];
    for (const [name, build] of graphs) {
      throwIfAborted(signal);
      await writeOnnxModel(build(), join(tempDir, FILE_NAMES[name]), {
        signal,
        onTensor: (doneBytes, totalBytes) =>
          options.onProgress?.({ stage: 'building', graph: name, doneBytes, totalBytes }),
      });
    }
    const manifest: Manifest = {
      version: NATIVE_GRAPHS_VERSION,
      checkpointSha256,
      motionModuleSha256,
      loras: loraKeys,
      dims,
    };
    await writeFile(join(tempDir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await rename(tempDir, finalDir);
    } catch (error) {
      // Another process finished the same build first: use its copy.
      if (!(await cachedEntry(finalDir))) {
        throw new BeatloomError('E_NATIVE_CACHE', `could not move the built graphs into ${finalDir}`, {
          cause: error,
          hint: 'check that the cache folder is writable',
        });
      }
      await rm(tempDir, { recursive: true, force: true });
    }
  } catch (error) {
    await rm(tempDir, { recursive: true, force: true });
    if (signal?.aborted && !(error instanceof AbortedError)) throw new AbortedError();
    throw error;
  }
  return filesIn(finalDir, dims);
}
