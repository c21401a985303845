/**
 * The ComfyUI engine: the adapter between beatloom's segment jobs and one or more ComfyUI
 * servers running AnimateDiff-Evolved with an AnimateDiff-Lightning motion module.
 *
 * `prepare` checks every server before the first segment (prepare-comfy-deployment.ts) and
 * resolves to an engine bound to that deployment; each of its `renderSegment`s takes a free
 * server and renders there (render-on-server.ts). When a server fails mid-segment the segment
 * moves to another server and the failed one is taken out, with a note.
 */
import { throwIfAborted } from '../../shared/errors.js';
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
import { isServerFailure } from './comfy-errors.js';
import type { ComfyuiConfig } from './comfy-config.js';
import type { ServerReport } from './preflight.js';
import {
  checkDeploymentNeeds,
  inspectServers,
  prepareComfyDeployment,
  type ComfyDeployment,
} from './prepare-comfy-deployment.js';
import { readHeld, readInitImage, renderOnServer } from './render-on-server.js';
import { ServerPool } from './server-pool.js';
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
      const started = performance.now();
      throwIfAborted(opts.signal);
      const init = opts.initImagePath !== undefined ? await readInitImage(opts.initImagePath, job) : undefined;
      const held = await readHeld(opts.heldFramePaths ?? [], job);
      if (deployment.graph.kind === 'custom' && new Set(job.promptBlend.map((entry) => entry.prompt)).size > 1)
        blendNotice(job.index);
      for (;;) {
        const server = await pool.acquire(opts.signal);
        try {
          const frameFiles = await renderOnServer(deployment, server.value, job, { ...opts, init, held });
          return { frameFiles, elapsedMs: performance.now() - started };
        } catch (error) {
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
