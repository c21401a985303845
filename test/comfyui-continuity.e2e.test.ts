/**
 * Continuity on ComfyUI, end to end through the CLI against the test server: the graphs each
 * continuity sends (noise by frame, held latents, takes with context windows) and what comes
 * back — the frames two segments share are the same pictures in `continue`, and no segment
 * repeats its predecessor's opening.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStepFor } from '../src/engines/engine.js';
import { renderPlanSchema, type RenderPlan } from '../src/pipeline/render-plan.js';
import { decodePng } from '../src/raster/png.js';
import { runCli } from './helpers/cli.js';
import { startFakeComfy, type FakeComfy, type PromptRecord } from './comfyui/fake-comfy-server.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

const NO_ENV = { BEATLOOM_COMFY_URL: undefined };

function mapping(continuity: string): string {
  return `version: 2
segments: { continuity: ${continuity}, align: beats }
signals:
  kick: { from: low, release: 180ms }
targets:
  motionScale: { base: 1, add: { kick: 0.3 } }
  denoise: { base: 0.5 }
seed: { sections: true }
prompts:
  schedule:
    - prompt: "{prompt}"
    - prompt: "{prompt}, dawn"
      time: 4s
      blend: 2s
`;
}

function graphOf(prompts: readonly PromptRecord[], segmentIndex: number): PromptRecord['graph'] {
  const prefix = `beatloom/seg_${String(segmentIndex).padStart(4, '0')}`;
  const found = prompts.filter((p) => p.status === 'success' && p.graph['9']?.inputs['filename_prefix'] === prefix);
  expect(found).toHaveLength(1);
  return found[0]!.graph;
}

async function frame(runDir: string, segment: number, local: number): Promise<Uint8Array> {
  const dir = join(runDir, 'segments', String(segment).padStart(4, '0'));
  return decodePng(await readFile(join(dir, `frame-${String(local).padStart(4, '0')}.png`))).data;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('continuity on ComfyUI', () => {
  let server: FakeComfy;
  let dir: string;
  let song: string;
  beforeAll(async () => {
    server = await startFakeComfy({ segmentMs: 2, historyDelayMs: 2 });
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 8, bpm: 120 });
  });
  afterAll(() => server.close());

  async function render(continuity: string): Promise<{ runDir: string; plan: RenderPlan; prompts: PromptRecord[] }> {
    await writeFile(join(dir, `${continuity}.yaml`), mapping(continuity));
    const runDir = join(dir, `run-${continuity}`);
    const before = server.prompts.length;
    const result = await runCli(
      [
        'render',
        song,
        '--prompt',
        'harbour',
        '--mapping',
        join(dir, `${continuity}.yaml`),
        '--size',
        '64x64',
        '--run-dir',
        runDir,
        '--engine',
        'comfyui',
        '--comfy-url',
        server.url,
        '--frames-only',
        '-o',
        join(dir, `frames-${continuity}`),
        '--quiet',
      ],
      { env: NO_ENV },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const plan = renderPlanSchema.parse(JSON.parse(await readFile(join(runDir, 'plan.json'), 'utf8')));
    return { runDir, plan, prompts: server.prompts.slice(before) };
  }

  it('continue: each segment holds its predecessor’s exact latents for the frames they share, and carries on from the last', async () => {
    const { runDir, plan, prompts } = await render('continue');
    expect(plan.continuity).toBe('continue');
    const held = plan.jobs.filter((job) => job.heldFrames > 0);
    expect(held.length).toBe(plan.jobs.length - 1);
    for (const job of plan.jobs) {
      const graph = graphOf(prompts, job.index);
      expect(graph['14']).toEqual({
        class_type: 'ADE_AnimateDiffSamplingSettings',
        inputs: { batch_offset: job.noiseFrame, noise_type: 'default', seed_gen: 'comfy', seed_offset: 0 },
      });
      expect(graph['7']!.class_type).toBe('KSamplerAdvanced');
      expect(graph['7']!.inputs['start_at_step']).toBe(startStepFor(job, 4, false));
      if (job.heldFrames === 0) {
        expect(graph['6']!.class_type).toBe('EmptyLatentImage');
        continue;
      }
      const source = plan.jobs[job.holdFrom!]!;
      expect(graph['1000']!.class_type).toBe('LoadLatent');
      expect(graph['18']!.inputs).toEqual({
        samples: ['1000', 0],
        batch_index: job.startFrame - source.startFrame,
        length: job.heldFrames,
      });
      // The frames they share are the same pictures, exactly.
      for (let i = 0; i < job.heldFrames; i++) {
        const mine = await frame(runDir, job.index, i);
        const theirs = await frame(runDir, source.index, job.startFrame - source.startFrame + i);
        expect(meanAbsDiff(mine, theirs)).toBe(0);
      }
      // No restart: the opening is not its predecessor's opening.
      expect(meanAbsDiff(await frame(runDir, job.index, 0), await frame(runDir, source.index, 0))).toBeGreaterThan(5);
    }
  });

  it('continue without the predecessor’s latents encodes its frames instead, with the same result', async () => {
    const first = await render('continue');
    const job = first.plan.jobs.find((j) => j.heldFrames > 0)!;
    const source = first.plan.jobs[job.holdFrom!]!;
    await rm(join(first.runDir, 'segments', String(source.index).padStart(4, '0'), 'latents.latent'));
    await rm(join(first.runDir, 'segments', String(job.index).padStart(4, '0')), { recursive: true });
    const again = await render('continue');
    const graph = graphOf(again.prompts, job.index);
    expect(graph['1000']).toBeUndefined();
    expect(graph['18']!.class_type).toBe('VAEEncode');
    expect(graph['10']!.class_type).toBe('LoadImage');
    for (let i = 0; i < job.heldFrames; i++) {
      const mine = await frame(again.runDir, job.index, i);
      const theirs = await frame(again.runDir, source.index, job.startFrame - source.startFrame + i);
      expect(meanAbsDiff(mine, theirs)).toBe(0);
    }
  });

  it('take: one sampling per seed with context windows, per-frame motion and prompt travel', async () => {
    const { plan, prompts } = await render('take');
    expect(plan.continuity).toBe('take');
    expect(plan.jobs.length).toBeLessThan(4);
    const long = plan.jobs.find((job) => job.frameCount > 32)!;
    const graph = graphOf(prompts, long.index);
    expect(graph['15']).toEqual({
      class_type: 'ADE_StandardUniformContextOptions',
      inputs: {
        context_length: 16,
        context_stride: 1,
        context_overlap: 4,
        fuse_method: 'pyramid',
        use_on_equal_length: false,
        start_percent: 0,
        guarantee_steps: 1,
      },
    });
    expect(graph['3']!.inputs['context_options']).toEqual(['15', 0]);
    expect(graph['13']!.inputs['max_length']).toBe(long.frameCount);
    // The prompt blends from 2 s to 4 s (frames 16–32): keys at both ends, interpolated by ADE.
    expect(long.promptSchedule?.map((key) => [key.frame, key.prompt])).toEqual([
      [0, 'harbour'],
      [16, 'harbour'],
      [32, 'harbour, dawn'],
    ]);
    expect(graph['4']).toEqual({
      class_type: 'ADE_PromptScheduling',
      inputs: {
        prompts: '"0": "harbour",\n"16": "harbour",\n"32": "harbour, dawn"',
        clip: ['1', 1],
        max_length: long.frameCount,
      },
    });
  });

  it('none: segments of one seed start from the noise of their own frames, not the same noise again', async () => {
    const { runDir, plan } = await render('none');
    const sameSeed = plan.jobs.filter((job, i) => i > 0 && plan.jobs[i - 1]!.seed === job.seed);
    expect(sameSeed.length).toBeGreaterThan(0);
    for (const job of sameSeed) {
      expect(job.noiseFrame).toBeGreaterThan(0);
      const opening = meanAbsDiff(await frame(runDir, job.index, 0), await frame(runDir, job.index - 1, 0));
      expect(opening).toBeGreaterThan(5);
    }
  });
});
