/**
 * Preparing a ComfyUI deployment: every server says what it has (/object_info, /system_stats,
 * /queue), the usable ones are kept, and what they agree on becomes one frozen value — the
 * graph (the built-in one with its checkpoint settled, or the user's workflow), what the servers
 * support, the steps sampled, the capabilities and the fingerprint in every segment hash.
 * Rendering reads it and never changes it.
 */
import { BeatloomError, usageError } from '../../shared/errors.js';
import { MAX_TAKE_FRAMES, type EngineCapabilities, type RenderNeeds, type SamplerSettings } from '../engine.js';
import type { ComfyClient } from './client.js';
import { loadCustomWorkflow, unmappedLoras, workflowOwnSteps, type CustomWorkflow } from './custom-workflow.js';
import { checkBuiltin, inspectServer, resolveLoraFile, type ServerReport } from './preflight.js';
import type { ComfySettings } from './settings.js';
import type { GraphSettings } from './workflow.js';

/** Bumped when the built-in graph changes in a way that changes the frames (2: prompt blends, mapping LoRAs). */
const GRAPH_VERSION = 2;
/** AnimateDiff without context options stops at 32 frames (fixture 84). */
const MAX_FRAMES = 32;

export interface DeployedServer {
  readonly url: string;
  readonly client: ComfyClient;
  /** Its LoRA files: what the mapping's LoRA names resolve to. */
  readonly loras: readonly string[];
  /** Its motion LoRA files (ADE_AnimateDiffLoRALoader). */
  readonly motionLoras: readonly string[];
}

/** The graph each segment is sent as. */
export type ComfyGraphSource =
  | {
      readonly kind: 'builtin';
      readonly settings: GraphSettings;
      /** Every server has ADE_ValueScheduling and ADE_MultivalDynamicFloats (a motion scale per frame). */
      readonly perFrameMotionScale: boolean;
      /** Every server has context options and prompt scheduling (takes). */
      readonly takes: boolean;
      /** The lowest cfg limit among the servers, when they say. */
      readonly cfgMax: number | undefined;
    }
  | { readonly kind: 'custom'; readonly workflow: CustomWorkflow };

export interface ComfyDeployment {
  readonly settings: ComfySettings;
  readonly graph: ComfyGraphSource;
  /** The servers that passed every check, in the order they were given. */
  readonly servers: readonly DeployedServer[];
  readonly capabilities: EngineCapabilities;
  readonly sampler: SamplerSettings;
  readonly settingsFingerprint: Readonly<Record<string, unknown>>;
}

export interface PrepareDeploymentOptions {
  readonly signal?: AbortSignal;
  /** Things a user should know that are not errors (a server left out, steps not used). */
  readonly notice: (message: string) => void;
  /** The steps the user set, if any: a workflow without a steps target samples with its own. */
  readonly requestedSteps: number | undefined;
}

/** Every server's report, with the custom workflow (if any) they were checked against. */
export async function inspectServers(
  settings: ComfySettings,
  clients: readonly ComfyClient[],
  signal?: AbortSignal,
): Promise<{ readonly workflow: CustomWorkflow | undefined; readonly reports: ServerReport[] }> {
  const workflow = settings.workflow ? await loadCustomWorkflow(settings.workflow) : undefined;
  const reports = await Promise.all(clients.map((client) => inspectServer(client, settings, workflow, signal)));
  return { workflow, reports };
}

/** No checkpoint configured: the first usable server's only one, which the others must have too. */
function withChosenCheckpoint(reports: ServerReport[], settings: ComfySettings): ServerReport[] {
  if (settings.checkpoint !== undefined) return reports;
  const checkpoint = reports.find((r) => r.problems.length === 0)?.checkpoint;
  if (checkpoint === undefined) return reports;
  const chosen = { ...settings, checkpoint };
  return reports.map((r) => (r.catalogue ? { ...r, problems: checkBuiltin(r.catalogue, chosen).problems } : r));
}

function noUsableServer(reports: readonly ServerReport[], settings: ComfySettings): BeatloomError {
  const detail = reports
    .map((r) => (reports.length > 1 ? `${r.url}: ${r.problems.join('; ')}` : r.problems.join('; ')))
    .join(' | ');
  if (reports.every((r) => r.unreachable !== undefined)) {
    return new BeatloomError('E_COMFY_UNREACHABLE', `cannot use any ComfyUI server: ${detail}`, {
      hint: 'start ComfyUI (python main.py --listen) or fix --comfy-url',
    });
  }
  return usageError(
    'E_COMFY_MISSING',
    `ComfyUI cannot render this: ${detail}`,
    `beatloom engines check --comfy-url ${settings.urls.join(',')} shows what each server has`,
  );
}

function builtinSource(settings: ComfySettings, usable: readonly ServerReport[]): ComfyGraphSource {
  // A usable server has the configured checkpoint or, with none configured, exactly one.
  const checkpoint = usable[0]!.checkpoint;
  if (checkpoint === undefined) throw new Error(`ComfyUI at ${usable[0]!.url} passed its checks without a checkpoint`);
  return Object.freeze({
    kind: 'builtin',
    settings: Object.freeze({
      checkpoint,
      motionModel: settings.motionModel,
      betaSchedule: settings.betaSchedule,
      steps: settings.steps,
      sampler: settings.sampler,
      scheduler: settings.scheduler,
      loras: settings.loras,
    }),
    perFrameMotionScale: usable.every((r) => r.catalogue?.perFrameMotionScale === true),
    takes: usable.every((r) => r.catalogue?.takes === true),
    cfgMax: usable.reduce<number | undefined>((low, r) => {
      const max = r.catalogue?.cfgMax;
      return max === undefined ? low : low === undefined ? max : Math.min(low, max);
    }, undefined),
  });
}

/** A workflow without a steps target samples with its own steps, whatever beatloom's setting. */
function samplerOf(settings: ComfySettings, graph: ComfyGraphSource): SamplerSettings {
  switch (graph.kind) {
    case 'builtin':
      return { steps: settings.steps };
    case 'custom': {
      const { workflow } = graph;
      return {
        steps: workflow.targets.steps.length === 0 ? (workflowOwnSteps(workflow) ?? settings.steps) : settings.steps,
      };
    }
  }
}

function fingerprintOf(graph: ComfyGraphSource, sampler: SamplerSettings): Readonly<Record<string, unknown>> {
  switch (graph.kind) {
    case 'builtin':
      return {
        engine: 'comfyui',
        graph: GRAPH_VERSION,
        ...graph.settings,
        perFrameMotionScale: graph.perFrameMotionScale,
      };
    case 'custom':
      return { engine: 'comfyui', workflow: graph.workflow.fingerprint, steps: sampler.steps };
  }
}

function capabilitiesOf(graph: ComfyGraphSource, servers: number, settings: ComfySettings): EngineCapabilities {
  const custom = graph.kind === 'custom' ? graph.workflow : undefined;
  return {
    initImage: custom ? custom.targets.initImage.length > 0 : true,
    // Held frames, takes and the effect are built into our own graph; a custom workflow has
    // no target for them.
    continuation: custom === undefined,
    takeFrames: graph.kind === 'builtin' && graph.takes ? MAX_TAKE_FRAMES : 0,
    motionEffect: custom === undefined,
    perFrameMotionScale: custom ? custom.perFrameMotionScale : graph.kind === 'builtin' && graph.perFrameMotionScale,
    maxFrames: MAX_FRAMES,
    // Each server runs one of our segments and has the next ones queued (at prepare time; the
    // engine's pool lowers it when a server is taken out mid-render).
    concurrency: servers * settings.queueDepth,
  };
}

/**
 * Checks every server and returns what the render will use. Throws a BeatloomError naming what
 * is missing when no server can render; servers that cannot are left out, with a notice.
 */
export async function prepareComfyDeployment(
  settings: ComfySettings,
  clients: readonly ComfyClient[],
  options: PrepareDeploymentOptions,
): Promise<ComfyDeployment> {
  const { workflow, reports: found } = await inspectServers(settings, clients, options.signal);
  const reports = workflow ? found : withChosenCheckpoint(found, settings);
  const usable = reports.filter((r) => r.problems.length === 0);
  if (usable.length === 0) throw noUsableServer(reports, settings);
  for (const report of reports) {
    if (report.problems.length > 0)
      options.notice(`ComfyUI at ${report.url} is left out of this render: ${report.problems.join('; ')}`);
  }
  const graph: ComfyGraphSource = workflow
    ? Object.freeze({ kind: 'custom', workflow })
    : builtinSource(settings, usable);
  const sampler = Object.freeze(samplerOf(settings, graph));
  if (workflow && options.requestedSteps !== undefined && workflow.targets.steps.length === 0) {
    options.notice(
      `steps ${options.requestedSteps} is not used: the workflow map has no steps target, so ${workflow.fileName} samples with its own (${sampler.steps})`,
    );
  }
  const servers = usable.map((r) =>
    Object.freeze({
      url: r.url,
      client: clients[reports.indexOf(r)]!,
      loras: r.catalogue?.loras ?? [],
      motionLoras: r.catalogue?.motionLoras ?? [],
    }),
  );
  return Object.freeze({
    settings,
    graph,
    servers: Object.freeze(servers),
    capabilities: Object.freeze(capabilitiesOf(graph, servers.length, settings)),
    sampler,
    settingsFingerprint: Object.freeze(fingerprintOf(graph, sampler)),
  });
}

/**
 * The server file of each LoRA a mapping drives (`add_detail` → `add_detail.safetensors`), the
 * same on every server of the deployment; or the problems that stop the render.
 */
export function resolveMappingLoras(
  deployment: ComfyDeployment,
  names: readonly string[],
  kind: 'loras' | 'motionLoras' = 'loras',
): { readonly files: ReadonlyMap<string, string>; readonly problems: readonly string[] } {
  const { servers } = deployment;
  const files = new Map<string, string>();
  const problems: string[] = [];
  for (const name of names) {
    const before = problems.length;
    const found = new Set<string>();
    for (const server of servers) {
      const resolution = resolveLoraFile(kind === 'loras' ? server.loras : server.motionLoras, name, kind);
      if ('problem' in resolution)
        problems.push(servers.length > 1 ? `${server.url}: ${resolution.problem}` : resolution.problem);
      else found.add(resolution.file);
    }
    if (found.size > 1)
      problems.push(
        `LoRA '${name}' from the mapping is a different file on different servers (${[...found].join(', ')}); name the file in the mapping`,
      );
    else if (problems.length === before) files.set(name, [...found][0]!);
  }
  return { files, problems };
}

/** Throws a BeatloomError naming what a render's mapping needs that the deployment lacks. */
export function checkDeploymentNeeds(deployment: ComfyDeployment, needs: RenderNeeds): void {
  const { graph, settings } = deployment;
  switch (graph.kind) {
    case 'custom': {
      if ((needs.motionLoras ?? []).length > 0) {
        throw usageError(
          'E_COMFY_WORKFLOW_MAP',
          `the mapping drives motion LoRAs (${needs.motionLoras!.join(', ')}), but a custom workflow has no input for them`,
          'load the motion LoRA in your workflow at a fixed strength and remove targets.motionLoras, or use the built-in graph',
        );
      }
      const missing = unmappedLoras(graph.workflow, needs.loras);
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
    case 'builtin': {
      const problems = [
        ...resolveMappingLoras(deployment, needs.loras).problems,
        ...resolveMappingLoras(deployment, needs.motionLoras ?? [], 'motionLoras').problems,
      ];
      if (problems.length > 0) {
        throw usageError(
          'E_COMFY_MISSING',
          `ComfyUI cannot render this mapping: ${problems.join(' | ')}`,
          `beatloom engines check --comfy-url ${settings.urls.join(',')} shows what each server has`,
        );
      }
    }
  }
}
