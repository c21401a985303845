/**
 * The ComfyUI engine's settings, resolved once from the user's config (flags, environment, file)
 * with the defaults of the AnimateDiff-Lightning model card (ByteDance/AnimateDiff-Lightning):
 * the 4-step ComfyUI motion module, `sqrt_linear (AnimateDiff)` beta schedule, euler sampler,
 * sgm_uniform scheduler, cfg 1 (the plan's cfg) and steps matching the module.
 */
import { comfyLoraSchema, type ComfyLora, type ComfyuiConfig, type WorkflowMap } from './comfy-config.js';
import { usageError } from '../../shared/errors.js';

export const DEFAULT_MOTION_MODEL = 'animatediff_lightning_4step_comfyui.safetensors';
export const DEFAULT_BETA_SCHEDULE = 'sqrt_linear (AnimateDiff)';
export const DEFAULT_SAMPLER = 'euler';
export const DEFAULT_SCHEDULER = 'sgm_uniform';
/** The model card's default distillation; used when the motion module's name does not say. */
export const DEFAULT_STEPS = 4;
/**
 * One segment running and one waiting in ComfyUI's queue per server: the GPU starts the next
 * segment while beatloom fetches and checks the last one's frames (npm run bench:engine).
 */
export const DEFAULT_QUEUE_DEPTH = 2;

/** Protocol timings. Users rarely touch these; tests shorten them. */
export interface ComfyTuning {
  readonly requestTimeoutMs: number;
  /** The longest one segment may take on a server before it is given up as stuck. */
  readonly segmentTimeoutMs: number;
  /** How long to wait for the WebSocket before falling back to polling. */
  readonly connectTimeoutMs: number;
  /** Ping interval; a socket that misses a pong for this long is dead. */
  readonly heartbeatMs: number;
  /** History polling while the WebSocket is down. */
  readonly pollIntervalMs: number;
  /** History polling while the WebSocket is up (a safety net for lost messages). */
  readonly safetyPollMs: number;
  /** How long to wait for /history after the server said the prompt finished. */
  readonly historyTimeoutMs: number;
  /** Retries of idempotent requests (GET, upload, cancel) after a network error or 5xx. */
  readonly retries: number;
  readonly retryDelayMs: number;
}

/**
 * A request that gets no answer within requestTimeoutMs is not retried (a server silent for that
 * long will not answer a second try sooner), so a host:port that accepts connections and never
 * answers is reported after 10 s (20 s for /object_info), not after 91 s (issue 11).
 */
export const DEFAULT_TUNING: ComfyTuning = {
  requestTimeoutMs: 10_000,
  segmentTimeoutMs: 30 * 60_000,
  connectTimeoutMs: 5_000,
  heartbeatMs: 15_000,
  pollIntervalMs: 1_000,
  safetyPollMs: 15_000,
  historyTimeoutMs: 15_000,
  retries: 2,
  retryDelayMs: 250,
};

export interface CustomWorkflowSource {
  readonly path: string;
  /** Inline map, or the path of a YAML/JSON file holding it. */
  readonly map: WorkflowMap | string;
}

export interface ComfySettings {
  readonly urls: readonly string[];
  /** undefined: use the server's only checkpoint (and say which). */
  readonly checkpoint: string | undefined;
  readonly motionModel: string;
  readonly betaSchedule: string;
  readonly steps: number;
  readonly sampler: string;
  readonly scheduler: string;
  readonly loras: readonly ComfyLora[];
  readonly workflow: CustomWorkflowSource | undefined;
  /** Segments each server holds at once (running + queued). */
  readonly queueDepth: number;
  readonly tuning: ComfyTuning;
}

/** `animatediff_lightning_8step_comfyui.safetensors` → 8; undefined for other modules. */
export function lightningSteps(motionModel: string): number | undefined {
  const match = /lightning[_-](\d+)step/i.exec(motionModel);
  return match ? Number(match[1]) : undefined;
}

/** `gpu1:8188` → `http://gpu1:8188`; keeps a path prefix (a server behind a proxy), drops a trailing slash. */
export function normalizeServerUrl(text: string): string {
  const trimmed = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  const hint = 'give the server as http://host:port, e.g. http://127.0.0.1:8188';
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usageError('E_COMFY_URL', `invalid ComfyUI URL: '${text}'`, hint);
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== ''
  ) {
    throw usageError('E_COMFY_URL', `invalid ComfyUI URL: '${text}' (only http(s)://host:port[/path])`, hint);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The servers a `url` setting names: comma lists split, each normalised; throws on a bad or repeated one. */
export function serverUrls(url: ComfyuiConfig['url']): string[] {
  if (url === undefined) {
    throw usageError(
      'E_COMFY_URL',
      'no ComfyUI server given',
      'add --comfy-url http://host:8188, set BEATLOOM_COMFY_URL, or put comfyui.url in beatloom.config.yaml',
    );
  }
  const texts = (typeof url === 'string' ? [url] : url).flatMap((part) => part.split(',')).map((part) => part.trim());
  const urls = texts.filter((part) => part !== '').map(normalizeServerUrl);
  if (urls.length === 0) throw usageError('E_COMFY_URL', 'no ComfyUI server given', 'add --comfy-url http://host:8188');
  const twice = urls.find((u, i) => urls.indexOf(u) !== i);
  if (twice)
    throw usageError(
      'E_COMFY_URL',
      `ComfyUI server listed twice: ${twice}`,
      'list each server once; one server renders one segment at a time',
    );
  return urls;
}

export function resolveComfySettings(config: ComfyuiConfig, tuning: Partial<ComfyTuning> = {}): ComfySettings {
  const motionModel = config.motionModel ?? DEFAULT_MOTION_MODEL;
  if (config.workflow === undefined && config.workflowMap !== undefined) {
    throw usageError(
      'E_COMFY_WORKFLOW',
      'a workflow map was given without a workflow',
      'add --comfy-workflow <api-workflow.json> (or comfyui.workflow in the config file)',
    );
  }
  if (config.workflow !== undefined && config.workflowMap === undefined) {
    throw usageError(
      'E_COMFY_WORKFLOW',
      `workflow ${config.workflow} has no map saying which inputs beatloom fills`,
      'add --comfy-workflow-map <map.yaml> (or comfyui.workflowMap in the config file); see the README',
    );
  }
  return {
    urls: serverUrls(config.url),
    checkpoint: config.checkpoint,
    motionModel,
    // A module that is not Lightning (or not named so) gets ADE's own choice of schedule.
    betaSchedule:
      config.betaSchedule ?? (lightningSteps(motionModel) === undefined ? 'autoselect' : DEFAULT_BETA_SCHEDULE),
    steps: config.steps ?? lightningSteps(motionModel) ?? DEFAULT_STEPS,
    sampler: config.sampler ?? DEFAULT_SAMPLER,
    scheduler: config.scheduler ?? DEFAULT_SCHEDULER,
    loras: (config.loras ?? []).map((lora) => comfyLoraSchema.parse(lora)),
    workflow:
      config.workflow !== undefined && config.workflowMap !== undefined
        ? { path: config.workflow, map: config.workflowMap }
        : undefined,
    queueDepth: config.queueDepth ?? DEFAULT_QUEUE_DEPTH,
    tuning: {
      ...DEFAULT_TUNING,
      ...(config.requestTimeoutMs !== undefined ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
      ...(config.segmentTimeoutMs !== undefined ? { segmentTimeoutMs: config.segmentTimeoutMs } : {}),
      ...tuning,
    },
  };
}
