/**
 * The AnimateDiff-Lightning guide's guardrails, checked on the plan before any GPU time: each
 * is a notice (the render still runs as asked), except a cfg the servers refuse, which is an error.
 */
import { usageError } from '../../shared/errors.js';
import type { SegmentJob } from '../engine.js';
import { lightningSteps } from './settings.js';

export interface GuardrailSettings {
  readonly motionModel: string;
  readonly steps: number;
  readonly betaSchedule: string;
  /** The lowest cfg limit of the servers (KSamplerAdvanced's cfg max), when they say. */
  readonly cfgMax: number | undefined;
}

/** Above this cfg a Lightning module burns the picture (the model card recommends 1–2). */
export const LIGHTNING_CFG_MAX = 2;

export function guardrailNotices(settings: GuardrailSettings, jobs: readonly SegmentJob[]): string[] {
  const notices: string[] = [];
  const module = settings.motionModel;
  const distilled = lightningSteps(module);
  const highestCfg = jobs.reduce((max, job) => Math.max(max, job.cfg), 0);
  if (settings.cfgMax !== undefined && highestCfg > settings.cfgMax) {
    throw usageError(
      'E_ENGINE_CFG',
      `cfg ${highestCfg} is above the servers' limit of ${settings.cfgMax}`,
      `keep targets.cfg (with its signals) at or below ${settings.cfgMax}; AnimateDiff-Lightning wants 1–2`,
    );
  }
  if (distilled === undefined) {
    notices.push(
      `motion module ${module} is not AnimateDiff-Lightning: it samples with beta schedule ${settings.betaSchedule} and ${settings.steps} steps; a regular module wants about 20 steps (--comfy-steps) and cfg 6–8`,
    );
  } else {
    if (settings.steps > distilled)
      notices.push(
        `${settings.steps} steps with the ${distilled}-step module ${module}: the extra steps only cost time; use ${distilled}`,
      );
    else if (settings.steps < distilled)
      notices.push(
        `${settings.steps} steps with the ${distilled}-step module ${module}: fewer steps than it was distilled for degrade the picture; use ${distilled}`,
      );
    if (highestCfg > LIGHTNING_CFG_MAX)
      notices.push(
        `cfg reaches ${highestCfg} with the Lightning module ${module}: above ${LIGHTNING_CFG_MAX} it burns the picture; keep targets.cfg within 1–2`,
      );
  }
  const ignored = jobs.filter((job) => job.cfg === 1 && job.negativePrompt.trim() !== '').length;
  if (ignored > 0)
    notices.push(
      `the negative prompt has no effect in ${ignored} of ${jobs.length} segment(s): at cfg 1 ComfyUI skips the unconditional pass; raise targets.cfg above 1 (1.5–2) for it to count`,
    );
  return notices;
}
