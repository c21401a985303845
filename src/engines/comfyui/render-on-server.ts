/**
 * One segment on one server: upload the init image (or a neutral one when the workflow has a
 * LoadImage and the segment starts from noise), queue the segment's graph, wait for it, and
 * fetch, check and write its frames. A ComfyServerFailure says the server is the problem; the
 * engine then moves the segment to another server.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BeatloomError } from '../../shared/errors.js';
import { encodePng } from '../../raster/png.js';
import { frameFileName, type EngineProgress, type SegmentJob } from '../engine.js';
import type { ComfyClient } from './client.js';
import { outputError } from './comfy-errors.js';
import { fileRefSchema, type ApiGraph, type FileRef, type NodeOutput } from './comfy-schemas.js';
import { fillCustomWorkflow } from './custom-workflow.js';
import { resolveMappingLoras, type ComfyDeployment, type DeployedServer } from './prepare-comfy-deployment.js';
import { verifyPng } from './verify-png.js';
import { buildSegmentGraph, NODE } from './workflow.js';

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

export interface RenderOnServerOptions {
  /** The segment's init image (chain / anchor continuity), read and checked once for every attempt. */
  readonly init: InitImage | undefined;
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
        graph: buildSegmentGraph(job, source.settings, initName, loraFiles),
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
  const { graph, output, reportsSteps } = segmentGraph(deployment, job, initName, init !== undefined);
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
  return { frameFiles, elapsedMs: result.executionMs ?? performance.now() - (result.startedAt ?? queuedAt) };
}
