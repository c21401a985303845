/**
 * The ComfyUI engine: the adapter between beatloom's segment jobs and one or more ComfyUI
 * servers running AnimateDiff-Evolved with an AnimateDiff-Lightning motion module.
 *
 * `prepare` checks every server before the first segment (prepare-comfy-deployment.ts) and
 * resolves to an engine bound to that deployment; each of its `renderSegment`s takes a free
 * server and renders there (render-on-server.ts). When a server fails mid-segment the segment
 * moves to another server and the failed one is taken out, with a note. A segment that runs out
 * of GPU memory is tried once more on the same server after POST /free, then on the others (the
 * server stays in: smaller segments may fit); when it fails on all of them, the render stops.
 */
import { isAbortError, throwIfAborted } from '../../shared/errors.js';
import { guardrailNotices } from './guardrails.js';
import type {
  ConfiguredEngine,
  EngineHealth,
  RenderEngine,
  RenderNeeds,
  RenderSegmentOptions,
  SegmentJob,
  SegmentResult,
} from '../engine.js';
import { ComfyClient } from './client.js';
import { ComfyOutOfMemory, isServerFailure, outOfMemoryEverywhere } from './comfy-errors.js';
import type { ComfyuiConfig } from './comfy-config.js';
import type { ServerReport } from './preflight.js';
import {
  checkDeploymentNeeds,
  inspectServers,
  prepareComfyDeployment,
  type ComfyDeployment,
  type DeployedServer,
} from './prepare-comfy-deployment.js';
import {
  readHeld,
  readInitImage,
  renderOnServer,
  type HeldSource,
  type InitImage,
  type RenderedOnServer,
} from './render-on-server.js';
import { ServerPool, type PoolServer } from './server-pool.js';
import { resolveComfySettings, type ComfySettings, type ComfyTuning } from './settings.js';

export interface ComfyEngineOptions {
  /** Things a user should know that are not errors (a server taken out, a server left out). */
  readonly onNotice?: (message: string) => void;
  readonly tuning?: Partial<ComfyTuning>;
}

export interface ComfyEngine extends ConfiguredEngine {
  readonly settings: ComfySettings;
  prepare(options: { signal?: AbortSignal }): Promise<PreparedComfyEngine>;
  /** Every server's report, as `beatloom engines check` prints it. */
  inspect(options: { signal?: AbortSignal }): Promise<ServerReport[]>;
}

export interface PreparedComfyEngine extends RenderEngine {
  readonly deployment: ComfyDeployment;
}

function healthOf(reports: readonly ServerReport[]): EngineHealth {
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
}

export function createComfyEngine(config: ComfyuiConfig, options: ComfyEngineOptions = {}): ComfyEngine {
  const settings = resolveComfySettings(config, options.tuning);
  const notice = options.onNotice ?? (() => undefined);
  const clients = settings.urls.map((url) => new ComfyClient(url, { tuning: settings.tuning }));
  const inspect = async (signal?: AbortSignal): Promise<ServerReport[]> =>
    (await inspectServers(settings, clients, signal)).reports;
  return {
    id: 'comfyui',
    settings,
    inspect: ({ signal }) => inspect(signal),
    async checkHealth({ signal }) {
      return healthOf(await inspect(signal));
    },
    async prepare({ signal }) {
      const deployment = await prepareComfyDeployment(settings, clients, {
        signal,
        notice,
        requestedSteps: config.steps,
      });
      return preparedComfyEngine(deployment, notice);
    },
    close() {
      for (const client of clients) client.close();
      return Promise.resolve();
    },
  };
}

/** The engine bound to one deployment: its servers as a pool, segments moved off a failing one. */
function preparedComfyEngine(deployment: ComfyDeployment, notice: (message: string) => void): PreparedComfyEngine {
  const { settings } = deployment;
  const pool = new ServerPool(
    deployment.servers.map((server) => ({ url: server.url, value: server })),
    settings.queueDepth,
  );
  /** Why each server was taken out (the first failure seen on it). */
  const firstFailure = new Map<string, Error>();
  const blendNotice = once((segmentIndex: number) =>
    notice(
      `the workflow map has one prompt input: segments where the mapping blends prompts (segment ${segmentIndex + 1} is one) get their strongest prompt; the built-in graph blends them`,
    ),
  );
  return {
    id: 'comfyui',
    deployment,
    capabilities: {
      ...deployment.capabilities,
      /** The pool's servers × queue depth now: a server taken out of the render lowers it. */
      get concurrency() {
        return pool.capacity;
      },
    },
    settingsFingerprint: deployment.settingsFingerprint,
    sampler: deployment.sampler,
    checkNeeds: (needs: RenderNeeds) => checkDeploymentNeeds(deployment, needs),
    reviewJobs: (jobs) =>
      guardrailNotices(
        {
          motionModel: deployment.settings.motionModel,
          steps: deployment.sampler.steps,
          betaSchedule: deployment.settings.betaSchedule,
          cfgMax: deployment.graph.kind === 'builtin' ? deployment.graph.cfgMax : undefined,
        },
        jobs,
      ),

    async renderSegment(job: SegmentJob, opts: RenderSegmentOptions): Promise<SegmentResult> {
      throwIfAborted(opts.signal);
      const init = opts.initImagePath !== undefined ? await readInitImage(opts.initImagePath, job) : undefined;
      const held = await readHeld(opts.heldFramePaths, job);
      if (deployment.graph.kind === 'custom' && new Set(job.promptBlend.map((entry) => entry.prompt)).size > 1)
        blendNotice(job.index);
      /** The servers this segment ran out of memory on, each after POST /free and a second try. */
      const outOfMemory = new Map<string, ComfyOutOfMemory>();
      const accepts = (server: PoolServer<DeployedServer>): boolean => !outOfMemory.has(server.url);
      for (;;) {
        const server = await pool.acquire(opts.signal, accepts).catch((error: unknown) => {
          throw outOfMemory.size > 0 && !isAbortError(error)
            ? outOfMemoryEverywhere(job.index + 1, outOfMemory)
            : error;
        });
        try {
          const { frameFiles, elapsedMs } = await renderFreeingMemory(server, job, opts, init, held);
          return { frameFiles, elapsedMs };
        } catch (error) {
          if (error instanceof ComfyOutOfMemory && !opts.signal?.aborted) {
            outOfMemory.set(server.url, error);
            if (pool.hasAny(accepts))
              notice(
                `segment ${job.index + 1} ran out of GPU memory on ${server.url} again after POST /free; it moves to another server`,
              );
            continue;
          }
          if (!isServerFailure(error) || opts.signal?.aborted) throw error;
          const first = !pool.isRemoved(server);
          if (first) firstFailure.set(server.url, error);
          const left = pool.remove(server, error.message);
          server.value.client.close();
          // Closing cuts the server's other requests: their segments report why it was given up, not the cut.
          if (left === 0)
            throw settings.urls.length === 1 ? (firstFailure.get(server.url) ?? error) : pool.noServersLeft();
          if (first) {
            notice(
              `ComfyUI at ${server.url} is taken out of this render (${error.message}); its segments move to ${left === 1 ? 'the one server left' : `the ${left} servers left`}`,
            );
          }
        } finally {
          pool.release(server);
        }
      }
    },
  };

  /** One segment on one server; out of memory, the server is asked to free it (POST /free) and tried once more. */
  async function renderFreeingMemory(
    server: PoolServer<DeployedServer>,
    job: SegmentJob,
    opts: RenderSegmentOptions,
    init: InitImage | undefined,
    held: HeldSource | undefined,
  ): Promise<RenderedOnServer> {
    const attempt = (): Promise<RenderedOnServer> =>
      renderOnServer(deployment, server.value, job, { ...opts, init, held });
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ComfyOutOfMemory) || opts.signal?.aborted) throw error;
      notice(
        `segment ${job.index + 1} ran out of GPU memory on ${server.url} (${error.message}); beatloom asked it to free its memory (POST /free) and tries once more there`,
      );
      // A server without /free (it answers 404) still gets its second try: ComfyUI unloads its models after an OOM itself.
      await server.value.client.freeMemory().catch((failure: unknown) => {
        if (isServerFailure(failure)) throw failure;
      });
      return await attempt();
    }
  }
}

/** `fn` on the first call only (a notice given once per render). */
function once<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  let called = false;
  return (...args) => {
    if (called) return;
    called = true;
    fn(...args);
  };
}
