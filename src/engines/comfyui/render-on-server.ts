/**
 * One segment on one server: upload the init image (or a neutral one when the workflow has a
 * LoadImage and the segment starts from noise), queue the segment's graph, wait for it, and
 * fetch, check and write its frames. A ComfyServerFailure says the server is the problem; the
 * engine then moves the segment to another server.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { BeatloomError } from '../../shared/errors.js';
import { encodePng } from '../../raster/png.js';
import { frameFileName, type EngineProgress, type SegmentJob } from '../engine.js';
import { heldFramePaths } from '../frame-image.js';
import type { ComfyClient } from './client.js';
import { outputError } from './comfy-errors.js';
import { fileRefSchema, type ApiGraph, type FileRef, type NodeOutput } from './comfy-schemas.js';
import { fillCustomWorkflow } from './custom-workflow.js';
import { resolveMappingLoras, type ComfyDeployment, type DeployedServer } from './prepare-comfy-deployment.js';
import { verifyPng } from './verify-png.js';
import { buildSegmentGraph, NODE, type HeldInput } from './workflow.js';

const DOWNLOADS_AT_ONCE = 6;

export interface InitImage {
  readonly bytes: Uint8Array;
  readonly uploadName: string;
}

/** ComfyUI's file references name a file inside one of its folders; anything else is refused. */
const safeFileRefSchema = fileRefSchema.refine(
  (ref) =>
    ref.filename !== '' &&
    !/[/\\\0]/.test(ref.filename) &&
    ref.filename !== '.' &&
    ref.filename !== '..' &&
    !/\0/.test(ref.subfolder) &&
    !/^([/\\]|[A-Za-z]:)/.test(ref.subfolder) &&
    !ref.subfolder.split(/[/\\]/).includes('..') &&
    (ref.type === 'output' || ref.type === 'temp'),
  { message: 'not a plain file in the output folder' },
);

function imageRefs(serverUrl: string, outputs: Readonly<Record<string, NodeOutput>>, node: string): FileRef[] {
  const output = outputs[node];
  if (output === undefined)
    throw outputError(
      serverUrl,
      `produced no output for node ${node} (it produced: ${Object.keys(outputs).join(', ') || 'nothing'})`,
    );
  if (output['images'] === undefined && output['gifs'] !== undefined) {
    throw outputError(
      serverUrl,
      `node ${node} wrote a video (under "gifs"); beatloom needs the frames, so the workflow must end in SaveImage`,
    );
  }
  const parsed = z.array(z.unknown()).safeParse(output['images']);
  if (!parsed.success) throw outputError(serverUrl, `node ${node} produced no images`);
  return parsed.data.map((raw, i) => {
    const ref = safeFileRefSchema.safeParse(raw);
    if (!ref.success)
      throw outputError(
        serverUrl,
        `named output image ${i + 1} ${JSON.stringify(raw)}, which beatloom refuses to fetch (${ref.error.issues[0]!.message})`,
      );
    return ref.data;
  });
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function readInitImage(path: string, job: SegmentJob): Promise<InitImage> {
  const bytes = await readFile(path);
  let size;
  try {
    size = await verifyPng(bytes);
  } catch (error) {
    throw new BeatloomError('E_INIT_IMAGE', `init image ${path} is not a valid PNG (${(error as Error).message})`, {
      hint: 'delete that segment folder so it is rendered again',
      cause: error,
    });
  }
  if (size.width !== job.width || size.height !== job.height) {
    throw new BeatloomError(
      'E_INIT_SIZE',
      `init image ${path} is ${size.width}x${size.height}, the render is ${job.width}x${job.height}`,
      {
        hint: 'render with a fresh --run-dir so every segment has the same size',
      },
    );
  }
  return { bytes, uploadName: initUploadName(bytes) };
}

/** Named by content: re-uploading the same image (a retry, an anchor shared by segments) is harmless. */
export function initUploadName(bytes: Uint8Array): string {
  return `beatloom_init_${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.png`;
}

const neutralImages = new Map<string, InitImage>();
/** Mid grey at denoise 1: what a workflow with a LoadImage gets for a segment that starts from noise. */
function neutralImage(width: number, height: number): InitImage {
  const key = `${width}x${height}`;
  let image = neutralImages.get(key);
  if (!image) {
    const bytes = encodePng({ width, height, data: new Uint8Array(width * height * 3).fill(128) });
    image = { bytes, uploadName: initUploadName(bytes) };
    neutralImages.set(key, image);
  }
  return image;
}

/** A continuation's held frames as beatloom has them: the predecessor's latents, or its frames. */
export type HeldSource =
  | { readonly kind: 'latent'; readonly file: InitImage; readonly from: number }
  | { readonly kind: 'images'; readonly frames: readonly InitImage[] };

/** The file the graph's SaveLatent output is kept as, beside the frames. */
export const LATENT_FILE = 'latents.latent';

/**
 * What a continuation holds, from the predecessor's frame files (RenderSegmentOptions.heldFramePaths):
 * the latents the predecessor's graph saved beside them when there are, from the first held
 * frame's index on; else the frames themselves, to be encoded again.
 */
export async function readHeld(paths: readonly string[] | undefined, job: SegmentJob): Promise<HeldSource | undefined> {
  const held = heldFramePaths(job, paths);
  if (held.length === 0) return undefined;
  const first = /frame-(\d+)\.png$/.exec(held[0]!);
  const latents = first ? await readFile(join(dirname(held[0]!), LATENT_FILE)).catch(() => undefined) : undefined;
  // A file larger than the latents of those frames can be is not one our graph saved: the frames are encoded instead.
  const from = Number(first?.[1]);
  if (
    latents &&
    latents.length <= maxLatentBytes({ frameCount: from + job.heldFrames + 64, width: job.width, height: job.height })
  )
    return { kind: 'latent', file: { bytes: latents, uploadName: latentUploadName(latents) }, from };
  return { kind: 'images', frames: await Promise.all(held.map((path) => readInitImage(path, job))) };
}

/** Named by content, like init images; LoadLatent offers only files ending in .latent. */
export function latentUploadName(bytes: Uint8Array): string {
  return `beatloom_held_${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.latent`;
}

/**
 * The most a .latent file may be: a real one is safetensors of frames × 4 × h/8 × w/8 float32
 * plus the graph as metadata, far below this; the bound (the size of the frames as raw RGB, plus
 * 4 MiB) only stops a server from sending without end.
 */
export function maxLatentBytes(job: Pick<SegmentJob, 'frameCount' | 'width' | 'height'>): number {
  return job.frameCount * job.width * job.height * 3 + 4 * 1024 * 1024;
}

export interface RenderOnServerOptions {
  /** The segment's init image (chain / anchor continuity), read and checked once for every attempt. */
  readonly init: InitImage | undefined;
  /** What a continuation holds (continue / take), read and checked once for every attempt. */
  readonly held?: HeldSource;
  /** An empty folder for the frames. */
  readonly workDir: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: EngineProgress) => void;
}

async function upload(client: ComfyClient, image: InitImage, signal: AbortSignal | undefined): Promise<string> {
  const reply = await client.uploadImage(image.bytes, image.uploadName, { signal });
  return reply.subfolder ? `${reply.subfolder}/${reply.name}` : reply.name;
}

function segmentGraph(
  deployment: ComfyDeployment,
  job: SegmentJob,
  initName: string | undefined,
  fromInit: boolean,
  held: HeldInput | undefined,
): { readonly graph: ApiGraph; readonly output: string; readonly reportsSteps: (node: string | undefined) => boolean } {
  const source = deployment.graph;
  switch (source.kind) {
    case 'custom':
      return {
        graph: fillCustomWorkflow(source.workflow, job, {
          initImage: initName,
          fromInit,
          steps: deployment.settings.steps,
        }),
        output: source.workflow.output,
        // A custom workflow's progress is whatever reports it.
        reportsSteps: () => true,
      };
    case 'builtin': {
      if (job.motion.kind === 'perFrame' && !source.perFrameMotionScale)
        throw new Error(`segment ${job.index + 1} has a motion scale per frame, but the servers cannot schedule one`);
      const loraFiles = resolveMappingLoras(
        deployment,
        job.loras.map((lora) => lora.name),
      ).files;
      return {
        graph: buildSegmentGraph(
          job,
          source.settings,
          initName,
          loraFiles,
          held,
          resolveMappingLoras(
            deployment,
            (job.motionLoras ?? []).map((lora) => lora.name),
            'motionLoras',
          ).files,
        ),
        output: NODE.save,
        // The sampler's steps are the progress.
        reportsSteps: (node) => node === NODE.sampler || node === undefined,
      };
    }
  }
}

export interface RenderedOnServer {
  readonly frameFiles: string[];
  /**
   * The segment's engine time: what the server says it spent executing the graph, so the time it
   * waited in the queue (behind our other segment) is not in it; a server that does not say is
   * timed from when we learned it started the prompt until its frames were fetched.
   */
  readonly elapsedMs: number;
}

/** One attempt on one server; throws ComfyServerFailure when the server is the problem. */
export async function renderOnServer(
  deployment: ComfyDeployment,
  server: DeployedServer,
  job: SegmentJob,
  options: RenderOnServerOptions,
): Promise<RenderedOnServer> {
  const { client } = server;
  const { signal, init } = options;
  const wantsImage =
    deployment.graph.kind === 'custom' ? deployment.graph.workflow.targets.initImage.length > 0 : init !== undefined;
  const image = init ?? (wantsImage ? neutralImage(job.width, job.height) : undefined);
  const initName = image ? await upload(client, image, signal) : undefined;
  const held = await uploadHeld(client, options.held, signal);
  const { graph, output, reportsSteps } = segmentGraph(deployment, job, initName, init !== undefined, held);
  const queuedAt = performance.now();
  const result = await client.runPrompt(graph, {
    signal,
    onProgress: (p) => {
      if (reportsSteps(p.node)) options.onProgress?.({ segmentIndex: job.index, step: p.value, totalSteps: p.max });
    },
  });
  const refs = imageRefs(client.baseUrl, result.outputs, output);
  if (refs.length !== job.frameCount)
    throw outputError(
      client.baseUrl,
      `returned ${refs.length} images for segment ${job.index + 1}, expected ${job.frameCount}`,
    );
  const frameFiles = refs.map((_, i) => frameFileName(i));
  await forEachLimit(refs, DOWNLOADS_AT_ONCE, async (ref, i) => {
    const bytes = await client.view(ref, { signal, size: { width: job.width, height: job.height } });
    let size;
    try {
      size = await verifyPng(bytes);
    } catch (error) {
      throw outputError(client.baseUrl, `sent ${ref.filename}, which is not a valid PNG (${(error as Error).message})`);
    }
    if (size.width !== job.width || size.height !== job.height) {
      throw outputError(
        client.baseUrl,
        `sent ${ref.filename} at ${size.width}x${size.height}, expected ${job.width}x${job.height}`,
      );
    }
    // The local name is ours: a server-given name never becomes a path.
    await writeFile(join(options.workDir, frameFiles[i]!), bytes);
  });
  if (deployment.graph.kind === 'builtin') await keepLatents(client, result.outputs, job, options);
  return { frameFiles, elapsedMs: result.executionMs ?? performance.now() - (result.startedAt ?? queuedAt) };
}

async function uploadHeld(
  client: ComfyClient,
  held: HeldSource | undefined,
  signal: AbortSignal | undefined,
): Promise<HeldInput | undefined> {
  if (held === undefined) return undefined;
  if (held.kind === 'latent') {
    // LoadLatent lists the input folder's top level only: the upload keeps no subfolder.
    const reply = await client.uploadImage(held.file.bytes, held.file.uploadName, { signal });
    return { kind: 'latent', name: reply.name, from: held.from };
  }
  const names: string[] = [];
  for (const frame of held.frames) names.push(await upload(client, frame, signal));
  return { kind: 'images', names };
}

/** The segment's latents (SaveLatent) beside its frames, bounded in size, for the segment that continues it. */
async function keepLatents(
  client: ComfyClient,
  outputs: Readonly<Record<string, NodeOutput>>,
  job: SegmentJob,
  options: RenderOnServerOptions,
): Promise<void> {
  const refs = z.array(safeFileRefSchema).min(1).safeParse(outputs[NODE.saveLatent]?.['latents']);
  // A server that saved none leaves the next segment to encode the frames instead.
  if (!refs.success) return;
  const bytes = await client.view(refs.data[0]!, { signal: options.signal, maxBytes: maxLatentBytes(job) });
  await writeFile(join(options.workDir, LATENT_FILE), bytes);
}
