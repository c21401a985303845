import { describe, expect, it } from 'vitest';
import { guardrailNotices } from '../src/engines/comfyui/guardrails.js';
import { resolveComfySettings } from '../src/engines/comfyui/settings.js';
import { BeatloomError } from '../src/shared/errors.js';
import { segmentJob } from './helpers/segment-job.js';

const LIGHTNING_4 = {
  motionModel: 'animatediff_lightning_4step_comfyui.safetensors',
  steps: 4,
  betaSchedule: 'sqrt_linear (AnimateDiff)',
  cfgMax: 100,
};

describe('the AnimateDiff-Lightning guardrails, before any GPU time', () => {
  it('say nothing for the model card’s settings: the module’s steps, cfg 1–2, a negative prompt only above cfg 1', () => {
    expect(
      guardrailNotices(LIGHTNING_4, [segmentJob({ cfg: 1.5 }), segmentJob({ cfg: 1, negativePrompt: '' })]),
    ).toEqual([]);
  });

  it('name steps that waste time or degrade the picture', () => {
    expect(guardrailNotices({ ...LIGHTNING_4, steps: 8 }, [segmentJob({ cfg: 1.5 })])).toEqual([
      '8 steps with the 4-step module animatediff_lightning_4step_comfyui.safetensors: the extra steps only cost time; use 4',
    ]);
    expect(guardrailNotices({ ...LIGHTNING_4, steps: 2 }, [segmentJob({ cfg: 1.5 })])).toEqual([
      '2 steps with the 4-step module animatediff_lightning_4step_comfyui.safetensors: fewer steps than it was distilled for degrade the picture; use 4',
    ]);
  });

  it('name a cfg above 2 and a negative prompt that cfg 1 ignores, counting the segments', () => {
    const jobs = [segmentJob({ cfg: 1 }), segmentJob({ cfg: 2.5 }), segmentJob({ cfg: 1 })];
    expect(guardrailNotices(LIGHTNING_4, jobs)).toEqual([
      'cfg reaches 2.5 with the Lightning module animatediff_lightning_4step_comfyui.safetensors: above 2 it burns the picture; keep targets.cfg within 1–2',
      'the negative prompt has no effect in 2 of 3 segment(s): at cfg 1 ComfyUI skips the unconditional pass; raise targets.cfg above 1 (1.5–2) for it to count',
    ]);
  });

  it('take a module that is not Lightning at its own schedule, and say it wants explicit steps', () => {
    const settings = resolveComfySettings({ url: 'gpu:8188', motionModel: 'mm_sd15_v3.safetensors' });
    expect(settings.betaSchedule).toBe('autoselect');
    expect(
      guardrailNotices({ ...settings, cfgMax: undefined }, [segmentJob({ cfg: 7, negativePrompt: 'blurry' })]),
    ).toEqual([
      'motion module mm_sd15_v3.safetensors is not AnimateDiff-Lightning: it samples with beta schedule autoselect and 4 steps; a regular module wants about 20 steps (--comfy-steps) and cfg 6–8',
    ]);
  });

  it('refuse a cfg above what the servers accept, at plan time', () => {
    let error: unknown;
    try {
      guardrailNotices({ ...LIGHTNING_4, cfgMax: 30 }, [segmentJob({ cfg: 31 })]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).code).toBe('E_ENGINE_CFG');
    expect((error as BeatloomError).message).toBe("cfg 31 is above the servers' limit of 30");
  });
});
