/**
 * Fail fast: before the first segment, read what each server has (/object_info, /system_stats,
 * /queue) and name every missing piece — AnimateDiff-Evolved, the checkpoint, the motion
 * module, a LoRA, the sampler, the scheduler, a custom workflow's nodes — together with what the
 * server does have. The same report is what `beatloom engines check` prints.
 */
import { BeatloomError } from '../../shared/errors.js';
import type { ComfyClient } from './client.js';
import { formatAvailable, isServerFailure } from './comfy-errors.js';
import { isLink, nodeInfoSchema, type NodeInfo, type ObjectInfo } from './comfy-schemas.js';
import type { CustomWorkflow } from './custom-workflow.js';
import type { ComfySettings } from './settings.js';

export const ADE_REPO = 'https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved';
export const LIGHTNING_REPO = 'https://huggingface.co/ByteDance/AnimateDiff-Lightning';

const CORE_NODES = [
  'CheckpointLoaderSimple',
  'LoraLoader',
  'CLIPTextEncode',
  'ConditioningAverage',
  'EmptyLatentImage',
  'LoadImage',
  'VAEEncode',
  'RepeatLatentBatch',
  'KSamplerAdvanced',
  'VAEDecode',
  'SaveImage',
  // Continuation: held frames batched, encoded and masked.
  'ImageBatch',
  'LatentBatch',
  'LatentFromBatch',
  'SetLatentNoiseMask',
  'SolidMask',
  'MaskToImage',
  'ImageToMask',
  'RepeatImageBatch',
];
const ADE_NODES = ['ADE_AnimateDiffLoaderGen1', 'ADE_MultivalDynamic', 'ADE_AnimateDiffSamplingSettings'];
/** Takes: context windows and prompt travel. */
const TAKE_NODES = ['ADE_StandardUniformContextOptions', 'ADE_PromptScheduling'];
const PER_FRAME_NODES = ['ADE_ValueScheduling', 'ADE_MultivalDynamicFloats'];

/** What a server can run, read from /object_info. */
export interface ServerCatalogue {
  readonly nodeClasses: ReadonlySet<string>;
  readonly checkpoints: readonly string[];
  /** undefined: AnimateDiff-Evolved is not installed. */
  readonly motionModels: readonly string[] | undefined;
  readonly betaSchedules: readonly string[];
  readonly loras: readonly string[];
  readonly samplers: readonly string[];
  readonly schedulers: readonly string[];
  readonly perFrameMotionScale: boolean;
  /** Context options and prompt scheduling: takes. */
  readonly takes: boolean;
  /** The motion LoRAs ADE_AnimateDiffLoRALoader offers (empty without the node). */
  readonly motionLoras: readonly string[];
  /** The highest cfg the sampler accepts (KSamplerAdvanced's cfg max), when the server says. */
  readonly cfgMax: number | undefined;
}

function nodeInfo(objectInfo: ObjectInfo, className: string): NodeInfo | undefined {
  const parsed = nodeInfoSchema.safeParse(objectInfo[className]);
  return parsed.success ? parsed.data : undefined;
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** The choices of a combo input: `[[...options], {...}]`, or the V3 form `["COMBO", {options: [...]}]`. */
export function comboOptions(objectInfo: ObjectInfo, className: string, inputName: string): string[] | undefined {
  const info = nodeInfo(objectInfo, className);
  const spec = info?.input.required?.[inputName] ?? info?.input.optional?.[inputName];
  if (!Array.isArray(spec)) return undefined;
  if (isStringList(spec[0])) return spec[0];
  const options = (spec[1] as { options?: unknown } | undefined)?.options;
  return spec[0] === 'COMBO' && isStringList(options) ? options : undefined;
}

export function readCatalogue(objectInfo: ObjectInfo): ServerCatalogue {
  const nodeClasses = new Set(Object.keys(objectInfo));
  const has = (names: readonly string[]): boolean => names.every((name) => nodeClasses.has(name));
  return {
    nodeClasses,
    checkpoints: comboOptions(objectInfo, 'CheckpointLoaderSimple', 'ckpt_name') ?? [],
    motionModels: nodeClasses.has('ADE_AnimateDiffLoaderGen1')
      ? (comboOptions(objectInfo, 'ADE_AnimateDiffLoaderGen1', 'model_name') ?? [])
      : undefined,
    betaSchedules: comboOptions(objectInfo, 'ADE_AnimateDiffLoaderGen1', 'beta_schedule') ?? [],
    loras: comboOptions(objectInfo, 'LoraLoader', 'lora_name') ?? [],
    samplers: comboOptions(objectInfo, 'KSamplerAdvanced', 'sampler_name') ?? [],
    schedulers: comboOptions(objectInfo, 'KSamplerAdvanced', 'scheduler') ?? [],
    perFrameMotionScale: has(PER_FRAME_NODES),
    takes: has(TAKE_NODES),
    motionLoras: comboOptions(objectInfo, 'ADE_AnimateDiffLoRALoader', 'name') ?? [],
    cfgMax: numberLimit(objectInfo, 'KSamplerAdvanced', 'cfg'),
  };
}

/** A FLOAT/INT input's `max`, when the server gives one. */
function numberLimit(objectInfo: ObjectInfo, className: string, inputName: string): number | undefined {
  const spec = nodeInfo(objectInfo, className)?.input.required?.[inputName];
  if (!Array.isArray(spec)) return undefined;
  const max = (spec[1] as { max?: unknown } | undefined)?.max;
  return typeof max === 'number' ? max : undefined;
}

export interface BuiltinCheck {
  readonly problems: string[];
  /** The checkpoint to use: the configured one, or the server's only one. */
  readonly checkpoint: string | undefined;
}

/** Problems with running the built-in graph on a server with `catalogue`, each one sentence. */
export function checkBuiltin(catalogue: ServerCatalogue, settings: ComfySettings): BuiltinCheck {
  const problems: string[] = [];
  const missingCore = CORE_NODES.filter((name) => !catalogue.nodeClasses.has(name));
  if (missingCore.length > 0)
    problems.push(`the server lacks the core nodes ${missingCore.join(', ')}; is this a ComfyUI server?`);
  if (catalogue.motionModels === undefined || !ADE_NODES.every((name) => catalogue.nodeClasses.has(name))) {
    problems.push(
      `ComfyUI-AnimateDiff-Evolved is not installed (no ${ADE_NODES.filter((n) => !catalogue.nodeClasses.has(n)).join(', ')} node); install it from ${ADE_REPO} and restart ComfyUI`,
    );
  } else {
    if (!catalogue.motionModels.includes(settings.motionModel)) {
      problems.push(
        `motion module '${settings.motionModel}' is not on the server (it has: ${formatAvailable(catalogue.motionModels)}); ` +
          `download it from ${LIGHTNING_REPO} into ComfyUI/custom_nodes/ComfyUI-AnimateDiff-Evolved/models, or pick one with --comfy-motion-model`,
      );
    }
    if (catalogue.betaSchedules.length > 0 && !catalogue.betaSchedules.includes(settings.betaSchedule)) {
      problems.push(
        `beta schedule '${settings.betaSchedule}' is not offered by this AnimateDiff-Evolved (it has: ${formatAvailable(catalogue.betaSchedules)})`,
      );
    }
  }
  let checkpoint = settings.checkpoint;
  if (checkpoint === undefined) {
    if (catalogue.checkpoints.length === 1) checkpoint = catalogue.checkpoints[0];
    else if (catalogue.checkpoints.length === 0)
      problems.push('the server has no checkpoints; put an SD 1.5 checkpoint in ComfyUI/models/checkpoints');
    else
      problems.push(
        `no checkpoint chosen and the server has ${catalogue.checkpoints.length} (${formatAvailable(catalogue.checkpoints)}); pick one with --comfy-checkpoint`,
      );
  } else if (!catalogue.checkpoints.includes(checkpoint)) {
    problems.push(
      `checkpoint '${checkpoint}' is not on the server (it has: ${formatAvailable(catalogue.checkpoints)}); put it in ComfyUI/models/checkpoints or pick another with --comfy-checkpoint`,
    );
  }
  for (const lora of settings.loras) {
    if (!catalogue.loras.includes(lora.name))
      problems.push(
        `LoRA '${lora.name}' is not on the server (it has: ${formatAvailable(catalogue.loras)}); put it in ComfyUI/models/loras`,
      );
  }
  if (!catalogue.samplers.includes(settings.sampler))
    problems.push(
      `sampler '${settings.sampler}' is not offered by the server (it has: ${formatAvailable(catalogue.samplers)})`,
    );
  if (!catalogue.schedulers.includes(settings.scheduler))
    problems.push(
      `scheduler '${settings.scheduler}' is not offered by the server (it has: ${formatAvailable(catalogue.schedulers)})`,
    );
  return { problems, checkpoint };
}

/** `sd15/add_detail.safetensors` → `add_detail`. */
function loraStem(file: string): string {
  return file.replace(/^.*[/\\]/, '').replace(/\.[^.]*$/, '');
}

export type LoraResolution = { readonly file: string } | { readonly problem: string };

/**
 * The server's file for a LoRA a mapping names. Mappings are shared between engines and
 * people, so a mapping may name a LoRA without folder or extension: `add_detail` is the file
 * `add_detail.safetensors` (or `sd15/add_detail.pt`) when exactly one LoRA file has that name.
 * An exact file name always wins. (The config file names files exactly, like its checkpoint.)
 */
export function resolveLoraFile(
  available: readonly string[],
  name: string,
  kind: 'loras' | 'motionLoras' = 'loras',
): LoraResolution {
  if (available.includes(name)) return { file: name };
  const matches = available.filter((file) => loraStem(file) === name);
  if (matches.length === 1) return { file: matches[0]! };
  const what = kind === 'loras' ? 'LoRA' : 'motion LoRA';
  if (matches.length > 1) {
    return {
      problem: `${what} '${name}' from the mapping matches several files on the server (${matches.join(', ')}); name the file in the mapping's targets.${kind}`,
    };
  }
  const folder = kind === 'loras' ? 'ComfyUI/models/loras' : 'ComfyUI/models/animatediff_motion_lora';
  return {
    problem: `${what} '${name}' from the mapping is not on the server (it has: ${formatAvailable(available)}); put it in ${folder} or change targets.${kind} in the mapping`,
  };
}

/** Problems with running a user's workflow: unknown node classes, literal choices the server lacks, a wrong output node. */
export function checkCustom(objectInfo: ObjectInfo, workflow: CustomWorkflow): string[] {
  const problems: string[] = [];
  const filled = new Set(
    [...Object.values(workflow.targets), ...Object.values(workflow.loras)].flatMap((targets) =>
      targets.map((t) => `${t.node}.${t.input}`),
    ),
  );
  for (const [id, node] of Object.entries(workflow.graph)) {
    if (!(node.class_type in objectInfo)) {
      problems.push(
        `workflow node ${id} uses ${node.class_type}, which the server does not have; install the custom nodes that provide it`,
      );
      continue;
    }
    for (const [input, value] of Object.entries(node.inputs)) {
      if (isLink(value) || filled.has(`${id}.${input}`) || typeof value !== 'string') continue;
      const options = comboOptions(objectInfo, node.class_type, input);
      if (options && !options.includes(value)) {
        problems.push(
          `workflow node ${id} (${node.class_type}) input ${input}: '${value}' is not on the server (it has: ${formatAvailable(options)})`,
        );
      }
    }
  }
  const output = workflow.graph[workflow.output];
  if (output && output.class_type in objectInfo && nodeInfo(objectInfo, output.class_type)?.output_node !== true) {
    problems.push(
      `workflow map output: node ${workflow.output} (${output.class_type}) is not an output node; map the SaveImage node that receives the frames`,
    );
  }
  return problems;
}

export interface DeviceReport {
  readonly name: string;
  readonly type: string;
  readonly vramTotalBytes: number | undefined;
  readonly vramFreeBytes: number | undefined;
}

/** One server, as `engines check` reports it and `prepare` judges it. */
export interface ServerReport {
  readonly url: string;
  /** Why the server could not be asked at all (unreachable, not ComfyUI, …). */
  readonly unreachable: string | undefined;
  readonly comfyuiVersion: string | undefined;
  readonly pythonVersion: string | undefined;
  readonly pytorchVersion: string | undefined;
  readonly devices: readonly DeviceReport[];
  readonly ramTotalBytes: number | undefined;
  readonly ramFreeBytes: number | undefined;
  readonly queue: { readonly running: number; readonly pending: number } | undefined;
  readonly catalogue: ServerCatalogue | undefined;
  readonly checkpoint: string | undefined;
  readonly problems: readonly string[];
}

export async function inspectServer(
  client: ComfyClient,
  settings: ComfySettings,
  workflow: CustomWorkflow | undefined,
  signal?: AbortSignal,
): Promise<ServerReport> {
  const base = {
    url: client.baseUrl,
    comfyuiVersion: undefined,
    pythonVersion: undefined,
    pytorchVersion: undefined,
    devices: [],
    ramTotalBytes: undefined,
    ramFreeBytes: undefined,
    queue: undefined,
    catalogue: undefined,
    checkpoint: undefined,
  };
  let stats, queue, objectInfo;
  // The first request to fail stops the other two: a silent server is reported at the first timeout.
  const stop = new AbortController();
  const asked = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const first = <T>(reply: Promise<T>): Promise<T> =>
    reply.catch((error: unknown) => {
      stop.abort();
      throw error;
    });
  try {
    [stats, queue, objectInfo] = await Promise.all([
      first(client.systemStats({ signal: asked })),
      first(client.queue({ signal: asked })),
      first(client.objectInfo({ signal: asked })),
    ]);
  } catch (error) {
    if (!isServerFailure(error) && !(error instanceof BeatloomError && error.code === 'E_COMFY_PROTOCOL')) throw error;
    return { ...base, unreachable: error.message, problems: [error.message] };
  }
  const catalogue = readCatalogue(objectInfo);
  const builtin = workflow ? undefined : checkBuiltin(catalogue, settings);
  const problems = workflow ? checkCustom(objectInfo, workflow) : builtin!.problems;
  return {
    url: client.baseUrl,
    unreachable: undefined,
    comfyuiVersion: stats.system.comfyui_version,
    pythonVersion: stats.system.python_version?.split(' ')[0],
    pytorchVersion: stats.system.pytorch_version,
    devices: stats.devices.map((d) => ({
      name: d.name,
      type: d.type,
      vramTotalBytes: d.vram_total,
      vramFreeBytes: d.vram_free,
    })),
    ramTotalBytes: stats.system.ram_total,
    ramFreeBytes: stats.system.ram_free,
    queue: { running: queue.queue_running.length, pending: queue.queue_pending.length },
    catalogue,
    checkpoint: builtin?.checkpoint,
    problems,
  };
}
