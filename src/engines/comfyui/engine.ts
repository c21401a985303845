/**
 * The ComfyUI engine: the adapter between beatloom's segment jobs and one or more ComfyUI
 * servers running AnimateDiff-Evolved with an AnimateDiff-Lightning motion module.
 *
 * `prepare` checks every server before the first segment and keeps the usable ones; each
 * `renderSegment` takes a free server, uploads the init image if there is one, queues the
 * segment's graph, and fetches, checks and writes its frames. When a server fails mid-segment
 * the segment moves to another server and the failed one is taken out, with a note.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ComfyuiConfig } from '../../config/engine-config.js';
import { BeatloomError, throwIfAborted, usageError } from '../../shared/errors.js';
import { encodePng } from '../../shared/png.js';
import {
  frameFileName,
  type EngineHealth,
  type RenderEngine,
  type RenderNeeds,
  type RenderSegmentOptions,
  type SamplerSettings,
  type SegmentJob,
  type SegmentResult,
} from '../engine.js';
import { ComfyClient } from './client.js';
import { isServerFailure, outputError } from './comfy-errors.js';
import { fileRefSchema, type FileRef, type NodeOutput } from './comfy-schemas.js';
import {
  fillCustomWorkflow,
  isScheduleTarget,
  loadCustomWorkflow,
  unmappedLoras,
  workflowOwnSteps,
  type CustomWorkflow,
} from './custom-workflow.js';
import { checkBuiltin, inspectServer, resolveLoraFile, type ServerReport } from './preflight.js';
import { ServerPool, type PoolServer } from './server-pool.js';
import { resolveComfySettings, type ComfySettings, type ComfyTuning } from './settings.js';
import { verifyPng } from './verify-png.js';
import { buildSegmentGraph, NODE, type GraphSettings } from './workflow.js';

/** Bumped when the built-in graph changes in a way that changes the frames (2: prompt blends, mapping LoRAs). */
const GRAPH_VERSION = 2;
/** AnimateDiff without context options stops at 32 frames (fixture 84). */
const MAX_FRAMES = 32;
const DOWNLOADS_AT_ONCE = 6;

export interface ComfyEngineOptions {
  /** Things a user should know that are not errors (a server taken out, a server left out). */
  readonly onNotice?: (message: string) => void;
  readonly tuning?: Partial<ComfyTuning>;
}

export interface ComfyEngine extends RenderEngine {
  readonly settings: ComfySettings;
  prepare(options: { signal?: AbortSignal }): Promise<void>;
  checkNeeds(needs: RenderNeeds): void;
  /** Every server's report, as `beatloom engines check` prints it. */
  inspect(options: { signal?: AbortSignal }): Promise<ServerReport[]>;
}

interface InitImage {
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

async function readInitImage(path: string, job: SegmentJob): Promise<InitImage> {
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

export function createComfyEngine(config: ComfyuiConfig, options: ComfyEngineOptions = {}): ComfyEngine {
  const settings = resolveComfySettings(config, options.tuning);
  const notice = options.onNotice ?? (() => undefined);
  const clients = settings.urls.map((url) => new ComfyClient(url, { tuning: settings.tuning }));
  let workflow: CustomWorkflow | undefined;
  let checkpoint = settings.checkpoint;
  let perFrameMotionScale = false;
  let pool: ServerPool<ComfyClient> | undefined;
  /** The servers prepare() kept, as they reported themselves: what checkNeeds checks against. */
  let usableReports: ServerReport[] = [];
  /** The server's file for each LoRA a mapping drives (`add_detail` → `add_detail.safetensors`). */
  const loraFiles = new Map<string, string>();
  let blendNoticeGiven = false;
  /** Why each server was taken out (the first failure seen on it). */
  const firstFailure = new Map<string, Error>();
  let preparing: Promise<void> | undefined;

  // Before prepare() the checkpoint may not be known yet; renderSegment always prepares first.
  const graphSettings = (): GraphSettings => ({
    checkpoint: checkpoint ?? '',
    motionModel: settings.motionModel,
    betaSchedule: settings.betaSchedule,
    steps: settings.steps,
    sampler: settings.sampler,
    scheduler: settings.scheduler,
    loras: settings.loras,
    perFrameMotionScale,
  });

  const inspect = async (signal?: AbortSignal): Promise<ServerReport[]> => {
    if (settings.workflow && !workflow) workflow = await loadCustomWorkflow(settings.workflow);
    return Promise.all(clients.map((client) => inspectServer(client, settings, workflow, signal)));
  };

  const doPrepare = async (signal?: AbortSignal): Promise<void> => {
    let reports = await inspect(signal);
    if (!workflow && checkpoint === undefined) {
      // No checkpoint configured: the first server's only one, which the others must have too.
      checkpoint = reports.find((r) => r.problems.length === 0)?.checkpoint;
      if (checkpoint !== undefined) {
        const chosen = { ...settings, checkpoint };
        reports = reports.map((r) =>
          r.catalogue ? { ...r, problems: checkBuiltin(r.catalogue, chosen).problems } : r,
        );
      }
    }
    const usable = reports.filter((r) => r.problems.length === 0);
    if (usable.length === 0) {
      const detail = reports
        .map((r) => (reports.length > 1 ? `${r.url}: ${r.problems.join('; ')}` : r.problems.join('; ')))
        .join(' | ');
      if (reports.every((r) => r.unreachable !== undefined)) {
        throw new BeatloomError('E_COMFY_UNREACHABLE', `cannot use any ComfyUI server: ${detail}`, {
          hint: 'start ComfyUI (python main.py --listen) or fix --comfy-url',
        });
      }
      throw usageError(
        'E_COMFY_MISSING',
        `ComfyUI cannot render this: ${detail}`,
        `beatloom engines check --comfy-url ${settings.urls.join(',')} shows what each server has`,
      );
    }
    for (const report of reports) {
      if (report.problems.length > 0)
        notice(`ComfyUI at ${report.url} is left out of this render: ${report.problems.join('; ')}`);
    }
    if (workflow) {
      const current = workflow;
      perFrameMotionScale = current.targets.motionScale.some((target) => isScheduleTarget(current, target));
      if (config.steps !== undefined && current.targets.steps.length === 0) {
        notice(
          `steps ${config.steps} is not used: the workflow map has no steps target, so ${current.fileName} samples with its own (${sampler().steps})`,
        );
      }
    } else {
      perFrameMotionScale = usable.every((r) => r.catalogue?.perFrameMotionScale === true);
    }
    if (!workflow && checkpoint === undefined) checkpoint = usable[0]!.checkpoint;
    usableReports = usable;
    pool = new ServerPool(
      usable.map((r) => ({ url: r.url, value: clients[reports.indexOf(r)]! })),
      settings.queueDepth,
    );
  };

  const prepare = (signal?: AbortSignal): Promise<void> => {
    preparing ??= doPrepare(signal).catch((error: unknown) => {
      preparing = undefined;
      throw error;
    });
    return preparing;
  };

  const sampler = (): SamplerSettings => {
    // A workflow without a steps target samples with its own steps, whatever beatloom's setting.
    if (workflow && workflow.targets.steps.length === 0) return { steps: workflowOwnSteps(workflow) ?? settings.steps };
    return { steps: settings.steps };
  };

  const checkNeeds = (needs: RenderNeeds): void => {
    if (!pool) throw new Error('the comfyui engine must be prepared before checkNeeds');
    const problems: string[] = [];
    if (workflow) {
      const missing = unmappedLoras(workflow, needs.loras);
      if (missing.length > 0) {
        const example = `loras: { ${missing[0]}: [<LoraLoader id>.strength_model, <LoraLoader id>.strength_clip] }`;
        throw usageError(
          'E_COMFY_WORKFLOW_MAP',
          `the mapping drives the LoRA${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}, but the workflow map gives ${missing.length > 1 ? 'them' : 'it'} no input`,
          `add the LoraLoader to your workflow and map its strengths, e.g. ${example}`,
        );
      }
      return;
    }
    for (const name of needs.loras) {
      const files = new Set<string>();
      for (const report of usableReports) {
        const resolution = resolveLoraFile(report.catalogue?.loras ?? [], name);
        if ('problem' in resolution)
          problems.push(usableReports.length > 1 ? `${report.url}: ${resolution.problem}` : resolution.problem);
        else files.add(resolution.file);
      }
      if (files.size > 1)
        problems.push(
          `LoRA '${name}' from the mapping is a different file on different servers (${[...files].join(', ')}); name the file in the mapping`,
        );
      else if (problems.length === 0) loraFiles.set(name, [...files][0]!);
    }
    if (problems.length > 0) {
      throw usageError(
        'E_COMFY_MISSING',
        `ComfyUI cannot render this mapping: ${problems.join(' | ')}`,
        `beatloom engines check --comfy-url ${settings.urls.join(',')} shows what each server has`,
      );
    }
  };

  const upload = async (client: ComfyClient, image: InitImage, signal: AbortSignal | undefined): Promise<string> => {
    const reply = await client.uploadImage(image.bytes, image.uploadName, { signal });
    return reply.subfolder ? `${reply.subfolder}/${reply.name}` : reply.name;
  };

  /** One attempt on one server; throws ComfyServerFailure when the server is the problem. */
  const renderOn = async (
    client: ComfyClient,
    job: SegmentJob,
    init: InitImage | undefined,
    opts: RenderSegmentOptions,
  ): Promise<string[]> => {
    const { signal } = opts;
    const wantsImage = workflow ? workflow.targets.initImage.length > 0 : init !== undefined;
    const image = init ?? (wantsImage ? neutralImage(job.width, job.height) : undefined);
    const initName = image ? await upload(client, image, signal) : undefined;
    const graph = workflow
      ? fillCustomWorkflow(workflow, job, { initImage: initName, fromInit: init !== undefined, steps: settings.steps })
      : buildSegmentGraph(job, graphSettings(), initName, loraFiles);
    const result = await client.runPrompt(graph, {
      signal,
      onProgress: (p) => {
        // The sampler's steps are the progress; a custom workflow's progress is whatever reports it.
        if (workflow || p.node === NODE.sampler || p.node === undefined)
          opts.onProgress?.({ segmentIndex: job.index, step: p.value, totalSteps: p.max });
      },
    });
    const refs = imageRefs(client.baseUrl, result.outputs, workflow ? workflow.output : NODE.save);
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
        throw outputError(
          client.baseUrl,
          `sent ${ref.filename}, which is not a valid PNG (${(error as Error).message})`,
        );
      }
      if (size.width !== job.width || size.height !== job.height) {
        throw outputError(
          client.baseUrl,
          `sent ${ref.filename} at ${size.width}x${size.height}, expected ${job.width}x${job.height}`,
        );
      }
      // The local name is ours: a server-given name never becomes a path.
      await writeFile(join(opts.workDir, frameFiles[i]!), bytes);
    });
    return frameFiles;
  };

  const engine: ComfyEngine = {
    id: 'comfyui',
    settings,
    capabilities: {
      get initImage() {
        return workflow ? workflow.targets.initImage.length > 0 : true;
      },
      get perFrameMotionScale() {
        return perFrameMotionScale;
      },
      maxFrames: MAX_FRAMES,
      /** Servers × queue depth: each server runs one of our segments and has the next ones queued. */
      get concurrency() {
        return pool?.capacity ?? clients.length * settings.queueDepth;
      },
    },
    get settingsFingerprint() {
      if (workflow) return { engine: 'comfyui', workflow: workflow.fingerprint, steps: sampler().steps };
      return { engine: 'comfyui', graph: GRAPH_VERSION, ...graphSettings() };
    },
    get sampler() {
      return sampler();
    },
    prepare: ({ signal }) => prepare(signal),
    checkNeeds,
    inspect: ({ signal }) => inspect(signal),

    async checkHealth({ signal }): Promise<EngineHealth> {
      const reports = await inspect(signal);
      const details: Record<string, string> = {};
      for (const r of reports) {
        const device = r.devices[0];
        details[r.url] =
          r.unreachable ??
          `ComfyUI ${r.comfyuiVersion ?? '?'} on ${device ? device.name : 'an unknown device'}, queue ${r.queue?.running ?? 0} running + ${r.queue?.pending ?? 0} waiting`;
      }
      const problems = reports.flatMap((r) => r.problems.map((p) => (reports.length > 1 ? `${r.url}: ${p}` : p)));
      const ready = reports.filter((r) => r.problems.length === 0).length;
      return {
        ok: problems.length === 0,
        engine: 'comfyui',
        summary: `${ready} of ${reports.length} ComfyUI server${reports.length > 1 ? 's' : ''} ready`,
        details,
        problems,
      };
    },

    async renderSegment(job: SegmentJob, opts: RenderSegmentOptions): Promise<SegmentResult> {
      const started = performance.now();
      throwIfAborted(opts.signal);
      await prepare(opts.signal);
      const init = opts.initImagePath !== undefined ? await readInitImage(opts.initImagePath, job) : undefined;
      if (workflow && !blendNoticeGiven && new Set(job.promptBlend.map((entry) => entry.prompt)).size > 1) {
        blendNoticeGiven = true;
        notice(
          `the workflow map has one prompt input: segments where the mapping blends prompts (segment ${job.index + 1} is one) get their strongest prompt; the built-in graph blends them`,
        );
      }
      for (;;) {
        const server: PoolServer<ComfyClient> = await pool!.acquire(opts.signal);
        try {
          const frameFiles = await renderOn(server.value, job, init, opts);
          return { frameFiles, elapsedMs: performance.now() - started };
        } catch (error) {
          if (!isServerFailure(error) || opts.signal?.aborted) throw error;
          const first = !pool!.isRemoved(server);
          if (first) firstFailure.set(server.url, error);
          const left = pool!.remove(server, error.message);
          server.value.close();
          // Closing cuts the server's other requests: their segments report why it was given up, not the cut.
          if (left === 0)
            throw settings.urls.length === 1 ? (firstFailure.get(server.url) ?? error) : pool!.noServersLeft();
          if (first) {
            notice(
              `ComfyUI at ${server.url} is taken out of this render (${error.message}); its segments move to ${left === 1 ? 'the one server left' : `the ${left} servers left`}`,
            );
          }
        } finally {
          pool!.release(server);
        }
      }
    },

    async close() {
      for (const client of clients) client.close();
    },
  };
  return engine;
}
