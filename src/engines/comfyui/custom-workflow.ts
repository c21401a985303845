/**
 * Bring your own workflow: an API-format graph exported from ComfyUI ("Export (API)"), plus a
 * map of which node inputs beatloom fills in for each segment. Everything is checked when the
 * files are loaded, so a typo in the map is a one-line error before anything is rendered.
 */
import { readUserText } from '../../shared/read-text.js';
import { workflowMapSchema, type WorkflowMap } from './comfy-config.js';
import { parseYamlWithSchema } from '../../config/yaml-file.js';
import { BeatloomError, usageError } from '../../shared/errors.js';
import { hashValue } from '../../shared/hash.js';
import { motionScaleAt, type SegmentJob } from '../engine.js';
import { apiGraphSchema, isLink, type ApiGraph } from './comfy-schemas.js';
import type { CustomWorkflowSource } from './settings.js';
import { loraStrength, motionSchedule, motionScaleValue, saveFilePrefix } from './workflow.js';

export interface InputTarget {
  readonly node: string;
  readonly input: string;
}

type TargetField = Exclude<keyof WorkflowMap, 'output' | 'loras'>;
const TARGET_FIELDS: readonly TargetField[] = [
  'prompt',
  'negative',
  'seed',
  'frameCount',
  'denoise',
  'motionScale',
  'initImage',
  'width',
  'height',
  'cfg',
  'steps',
];

export interface CustomWorkflow {
  readonly fileName: string;
  readonly graph: ApiGraph;
  readonly output: string;
  readonly targets: Readonly<Record<TargetField, readonly InputTarget[]>>;
  /** The inputs that get each mapping-driven LoRA's strength, by the LoRA's name in the mapping. */
  readonly loras: Readonly<Record<string, readonly InputTarget[]>>;
  /** Its motion scale inputs are ADE_ValueScheduling schedules (one value per frame), not one FLOAT. */
  readonly perFrameMotionScale: boolean;
  /** Identifies graph + map in the segments' content hash. */
  readonly fingerprint: string;
}

function parseTarget(text: string): InputTarget {
  const dot = text.lastIndexOf('.');
  return { node: text.slice(0, dot), input: text.slice(dot + 1) };
}

function listNodes(graph: ApiGraph): string {
  const ids = Object.keys(graph);
  return ids.length > 12 ? `${ids.slice(0, 12).join(', ')}, …` : ids.join(', ');
}

/** Accepts an API-format graph, or a saved POST /prompt body holding one; explains a UI-format file. */
export function parseWorkflowGraph(json: unknown, fileName: string): ApiGraph {
  const hint = 'in ComfyUI, open the workflow and use Workflow → Export (API); beatloom needs that file';
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw usageError('E_COMFY_WORKFLOW', `${fileName} is not a ComfyUI workflow (not a JSON object)`, hint);
  const record = json as Record<string, unknown>;
  if (Array.isArray(record['nodes']) && 'links' in record)
    throw usageError('E_COMFY_WORKFLOW', `${fileName} is a ComfyUI UI workflow, not the API format`, hint);
  const candidate =
    typeof record['prompt'] === 'object' && record['prompt'] !== null && !('class_type' in record)
      ? record['prompt']
      : json;
  const parsed = apiGraphSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw usageError(
      'E_COMFY_WORKFLOW',
      `${fileName}: node ${String(issue.path[0] ?? '?')}: ${issue.path.slice(1).join('.') || 'node'} ${issue.message}`,
      hint,
    );
  }
  if (Object.keys(parsed.data).length === 0) throw usageError('E_COMFY_WORKFLOW', `${fileName} has no nodes`, hint);
  return parsed.data;
}

/** Checks the map against the graph: every target names an existing literal input. */
export function bindWorkflowMap(graph: ApiGraph, map: WorkflowMap, fileName: string): CustomWorkflow {
  const hint = 'fix the workflow map (targets are "<node id>.<input name>" of the API-format workflow)';
  const bind = (field: string, value: string | readonly string[] | undefined): InputTarget[] => {
    const list = value === undefined ? [] : (typeof value === 'string' ? [value] : value).map(parseTarget);
    for (const target of list) {
      const node = graph[target.node];
      if (!node)
        throw usageError(
          'E_COMFY_WORKFLOW_MAP',
          `workflow map ${field}: ${fileName} has no node ${target.node} (it has ${listNodes(graph)})`,
          hint,
        );
      if (!(target.input in node.inputs)) {
        throw usageError(
          'E_COMFY_WORKFLOW_MAP',
          `workflow map ${field}: node ${target.node} (${node.class_type}) has no input '${target.input}' (it has ${Object.keys(node.inputs).join(', ') || 'none'})`,
          hint,
        );
      }
      const current = node.inputs[target.input];
      if (isLink(current)) {
        throw usageError(
          'E_COMFY_WORKFLOW_MAP',
          `workflow map ${field}: input '${target.input}' of node ${target.node} (${node.class_type}) is connected to node ${current[0]}, so beatloom cannot set it`,
          'map the input of the node that produces the value instead',
        );
      }
    }
    return list;
  };
  const targets = {} as Record<TargetField, InputTarget[]>;
  for (const field of TARGET_FIELDS) targets[field] = bind(field, map[field]);
  const loras = Object.fromEntries(
    Object.entries(map.loras ?? {}).map(([name, value]) => [name, bind(`loras.${name}`, value)]),
  );
  const output = graph[map.output];
  if (!output)
    throw usageError(
      'E_COMFY_WORKFLOW_MAP',
      `workflow map output: ${fileName} has no node ${map.output} (it has ${listNodes(graph)})`,
      hint,
    );
  for (const required of ['prompt', 'seed', 'frameCount'] as const) {
    if (targets[required].length === 0)
      throw usageError('E_COMFY_WORKFLOW_MAP', `workflow map has no ${required} target`, hint);
  }
  return {
    fileName,
    graph,
    output: map.output,
    targets,
    loras,
    perFrameMotionScale: takesMotionPerFrame(graph, targets.motionScale),
    fingerprint: hashValue({ graph, map }),
  };
}

/**
 * Whether the motion scale inputs are schedules (a value per frame) rather than FLOATs. A
 * segment's motion comes in one form (see SegmentMotion), so a map may not mix the two.
 */
function takesMotionPerFrame(graph: ApiGraph, targets: readonly InputTarget[]): boolean {
  const schedules = targets.filter((target) => scheduleInput(graph, target));
  const single = targets.find((target) => !scheduleInput(graph, target));
  if (schedules.length > 0 && single !== undefined) {
    throw usageError(
      'E_COMFY_WORKFLOW_MAP',
      `workflow map motionScale: ${schedules[0]!.node}.${schedules[0]!.input} takes a value per frame, ${single.node}.${single.input} one value; beatloom gives a segment's motion in one form`,
      'map motionScale to ADE_ValueScheduling.values inputs only, or to single FLOAT inputs only',
    );
  }
  return schedules.length > 0;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readUserText(path, what);
  } catch (error) {
    if (error instanceof BeatloomError) throw error;
    throw usageError(
      'E_COMFY_WORKFLOW',
      `${what} not found: ${path}`,
      'check the path (relative paths in the config file are relative to that file)',
      error,
    );
  }
}

export async function loadCustomWorkflow(source: CustomWorkflowSource): Promise<CustomWorkflow> {
  const text = await readText(source.path, 'workflow');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw usageError(
      'E_COMFY_WORKFLOW',
      `${source.path} is not valid JSON: ${(error as Error).message}`,
      'export the workflow again with Workflow → Export (API)',
    );
  }
  const graph = parseWorkflowGraph(json, source.path);
  const map =
    typeof source.map === 'string'
      ? parseYamlWithSchema(await readText(source.map, 'workflow map'), source.map, workflowMapSchema, {
          syntax: 'E_COMFY_WORKFLOW_MAP',
          invalid: 'E_COMFY_WORKFLOW_MAP',
          hint: 'see the README section "Bring your own workflow"',
        })
      : source.map;
  return bindWorkflowMap(graph, map, source.path);
}

/**
 * The steps the workflow samples with when the map has no steps target: its nodes' literal
 * `steps` inputs (KSampler, BasicScheduler…), the largest when there are several; undefined when
 * it has none.
 */
export function workflowOwnSteps(workflow: CustomWorkflow): number | undefined {
  const steps = Object.values(workflow.graph)
    .map((node) => node.inputs['steps'])
    .filter((value): value is number => typeof value === 'number' && Number.isInteger(value) && value > 0);
  return steps.length > 0 ? Math.max(...steps) : undefined;
}

/** Mapping-driven LoRAs the workflow map gives no input for: a workflow has no LoraLoader beatloom could add. */
export function unmappedLoras(workflow: CustomWorkflow, names: readonly string[]): string[] {
  return names.filter((name) => (workflow.loras[name] ?? []).length === 0);
}

/** Whether the map gives a per-frame schedule (ADE_ValueScheduling.values) rather than one value. */
export function isScheduleTarget(workflow: CustomWorkflow, target: InputTarget): boolean {
  return scheduleInput(workflow.graph, target);
}

function scheduleInput(graph: ApiGraph, target: InputTarget): boolean {
  return graph[target.node]?.class_type === 'ADE_ValueScheduling' && target.input === 'values';
}

/** The one motion value a FLOAT input gets; such a workflow's engine takes constant motion. */
function singleMotionScale(workflow: CustomWorkflow, job: SegmentJob): number {
  switch (job.motion.kind) {
    case 'constant':
      return motionScaleValue(job.motion.scale);
    case 'perFrame':
      throw new Error(
        `segment ${job.index + 1} has a motion scale per frame, but ${workflow.fileName} takes one value`,
      );
  }
}

export interface FillOptions {
  /** LoadImage name of the uploaded init image (or of a neutral image when the segment has none). */
  readonly initImage: string | undefined;
  /** Whether `initImage` is the segment's real init image (else denoise is 1: start from noise). */
  readonly fromInit: boolean;
  readonly steps: number;
}

/**
 * A copy of the workflow with the segment's values in the mapped inputs. The map has one prompt
 * (and one negative): a segment that blends prompts gets its strongest one (the engine says so
 * once); the built-in graph blends them.
 */
export function fillCustomWorkflow(workflow: CustomWorkflow, job: SegmentJob, options: FillOptions): ApiGraph {
  const graph = structuredClone<ApiGraph>(workflow.graph);
  const set = (field: TargetField, value: (target: InputTarget) => unknown): void => {
    for (const target of workflow.targets[field]) graph[target.node]!.inputs[target.input] = value(target);
  };
  set('prompt', () => job.prompt);
  set('negative', () => job.negativePrompt);
  set('seed', () => job.seed);
  set('frameCount', () => job.frameCount);
  set('denoise', () => (options.fromInit ? job.denoise : 1));
  set('motionScale', (target) =>
    isScheduleTarget(workflow, target)
      ? motionSchedule(Array.from({ length: job.frameCount }, (_, i) => motionScaleAt(job.motion, i)))
      : singleMotionScale(workflow, job),
  );
  if (options.initImage !== undefined) set('initImage', () => options.initImage);
  set('width', () => job.width);
  set('height', () => job.height);
  set('cfg', () => job.cfg);
  set('steps', () => options.steps);
  for (const lora of job.loras) {
    for (const target of workflow.loras[lora.name] ?? [])
      graph[target.node]!.inputs[target.input] = loraStrength(lora.strength);
  }
  const output = graph[workflow.output]!;
  if (typeof output.inputs['filename_prefix'] === 'string')
    output.inputs['filename_prefix'] = saveFilePrefix(job.index);
  return graph;
}
