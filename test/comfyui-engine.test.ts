/**
 * The comfyui engine on top of the client: fail-fast preflight with what the server has, several
 * servers with failover, checked outputs, init images, and bring-your-own workflows.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ComfyuiConfig } from '../src/engines/comfyui/comfy-config.js';
import { createComfyEngine, type ComfyEngine, type PreparedComfyEngine } from '../src/engines/comfyui/engine.js';
import { initUploadName } from '../src/engines/comfyui/render-on-server.js';
import { ServerPool } from '../src/engines/comfyui/server-pool.js';
import type { ComfyTuning } from '../src/engines/comfyui/settings.js';
import { AbortedError, BeatloomError } from '../src/shared/errors.js';
import { decodePng } from '../src/raster/png.js';
import { startFakeComfy, type FakeComfy, type FakeComfyOptions } from './comfyui/fake-comfy-server.js';
import { fixtureJson } from './comfyui/fixtures.js';
import { tempDir } from './helpers/media.js';
import { segmentJob } from './helpers/segment-job.js';

const TUNING: Partial<ComfyTuning> = {
  requestTimeoutMs: 3_000,
  connectTimeoutMs: 5_000,
  pollIntervalMs: 40,
  heartbeatMs: 30_000,
  historyTimeoutMs: 2_000,
  retries: 1,
  retryDelayMs: 10,
};

const JOB = segmentJob({
  prompt: 'neon city',
  motion: { kind: 'perFrame', scales: Array.from({ length: 16 }, (_, i) => 1 + i / 20) },
});
/** What the plan gives an engine without per-frame motion (a custom workflow's FLOAT input, a server without value scheduling). */
const CONSTANT_JOB = { ...JOB, motion: { kind: 'constant', scale: 1.1 } } as const;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(options: FakeComfyOptions = {}): Promise<FakeComfy> {
  const s = await startFakeComfy({ segmentMs: 60, ...options });
  cleanup.push(() => s.close());
  return s;
}

function engine(config: ComfyuiConfig, notices: string[] = []): ComfyEngine {
  const e = createComfyEngine(config, { tuning: TUNING, onNotice: (m) => notices.push(m) });
  cleanup.push(() => e.close());
  return e;
}

function prepared(config: ComfyuiConfig, notices: string[] = []): Promise<PreparedComfyEngine> {
  return engine(config, notices).prepare({});
}

async function prepareError(config: ComfyuiConfig): Promise<BeatloomError> {
  const error = await engine(config)
    .prepare({})
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BeatloomError);
  return error as BeatloomError;
}

describe('comfyui engine: fail fast, saying what the server has', () => {
  const PREFIX = 'ComfyUI cannot render this: ';

  it('without AnimateDiff-Evolved', async () => {
    const s = await server({ nodes: 'core' });
    const error = await prepareError({ url: s.url });
    expect(error.message).toBe(
      `${PREFIX}ComfyUI-AnimateDiff-Evolved is not installed (no ADE_AnimateDiffLoaderGen1, ADE_MultivalDynamic, ADE_AnimateDiffSamplingSettings node); install it from https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved and restart ComfyUI`,
    );
    expect(error.kind).toBe('usage');
    expect(error.hint).toBe(`beatloom engines check --comfy-url ${s.url} shows what each server has`);
  });

  it.each<[string, FakeComfyOptions, ComfyuiConfig, string]>([
    [
      'a missing checkpoint',
      {},
      { checkpoint: 'dreamshaper_8.safetensors' },
      "checkpoint 'dreamshaper_8.safetensors' is not on the server (it has: random_sd15_fp16.safetensors); put it in ComfyUI/models/checkpoints or pick another with --comfy-checkpoint",
    ],
    [
      'no checkpoint at all',
      { checkpoints: [] },
      {},
      'the server has no checkpoints; put an SD 1.5 checkpoint in ComfyUI/models/checkpoints',
    ],
    [
      'several checkpoints and none chosen',
      { checkpoints: ['a.safetensors', 'b.safetensors'] },
      {},
      'no checkpoint chosen and the server has 2 (a.safetensors, b.safetensors); pick one with --comfy-checkpoint',
    ],
    [
      'a missing motion module',
      { motionModels: ['mm_sd_v15_v2.ckpt'] },
      {},
      "motion module 'animatediff_lightning_4step_comfyui.safetensors' is not on the server (it has: mm_sd_v15_v2.ckpt); download it from https://huggingface.co/ByteDance/AnimateDiff-Lightning into ComfyUI/custom_nodes/ComfyUI-AnimateDiff-Evolved/models, or pick one with --comfy-motion-model",
    ],
    [
      'a missing LoRA',
      { loras: ['detail.safetensors'] },
      { loras: [{ name: 'film.safetensors', strengthModel: 1, strengthClip: 1 }] },
      "LoRA 'film.safetensors' is not on the server (it has: detail.safetensors); put it in ComfyUI/models/loras",
    ],
    [
      'a missing sampler',
      {},
      { sampler: 'euler_turbo' },
      "sampler 'euler_turbo' is not offered by the server (it has: euler, euler_cfg_pp, euler_ancestral, euler_ancestral_cfg_pp, heun, heunpp2, exp_heun_2_x0, exp_heun_2_x0_sde, dpm_2, dpm_2_ancestral, lms, dpm_fast, … (44 in all))",
    ],
    [
      'a missing scheduler',
      {},
      { scheduler: 'align_your_steps' },
      "scheduler 'align_your_steps' is not offered by the server (it has: simple, sgm_uniform, karras, exponential, ddim_uniform, beta, normal, linear_quadratic, kl_optimal)",
    ],
  ])('with %s', async (_what, serverOptions, config, problem) => {
    const s = await server(serverOptions);
    expect((await prepareError({ url: s.url, ...config })).message).toBe(`${PREFIX}${problem}`);
  });

  it('an unreachable server is a failure (exit 1), not a usage error', async () => {
    const s = await server();
    await s.kill();
    const error = await prepareError({ url: s.url });
    expect(error.code).toBe('E_COMFY_UNREACHABLE');
    expect(error.kind).toBe('failure');
    expect(error.message).toMatch(
      new RegExp(`^cannot use any ComfyUI server: cannot reach ComfyUI at ${s.url}: .*ECONNREFUSED`),
    );
  });

  it('uses the server’s only checkpoint when none is configured, and hashes it into the segments', async () => {
    const s = await server();
    const e = await prepared({ url: s.url });
    expect(e.settingsFingerprint).toEqual({
      engine: 'comfyui',
      graph: 2,
      checkpoint: 'random_sd15_fp16.safetensors',
      motionModel: 'animatediff_lightning_4step_comfyui.safetensors',
      betaSchedule: 'sqrt_linear (AnimateDiff)',
      steps: 4,
      sampler: 'euler',
      scheduler: 'sgm_uniform',
      loras: [],
      perFrameMotionScale: true,
    });
  });

  it('resolves to an engine bound to a frozen deployment: the usable servers, the checkpoint, what they support', async () => {
    const [a, noModel] = await Promise.all([server(), server({ motionModels: [] })]);
    const notices: string[] = [];
    const e = await prepared({ url: [a.url, noModel.url] }, notices);
    const { deployment } = e;
    expect([deployment, deployment.servers, deployment.graph, deployment.capabilities].every(Object.isFrozen)).toBe(
      true,
    );
    expect(deployment.servers.map((server) => server.url)).toEqual([a.url]);
    expect(deployment.graph).toMatchObject({
      kind: 'builtin',
      perFrameMotionScale: true,
      settings: { checkpoint: 'random_sd15_fp16.safetensors' },
    });
    expect(deployment.capabilities).toEqual({
      initImage: true,
      continuation: true,
      takeFrames: 1024,
      motionEffect: true,
      perFrameMotionScale: true,
      maxFrames: 32,
      concurrency: 2,
    });
    expect(e.settingsFingerprint).toBe(deployment.settingsFingerprint);
    expect(notices).toHaveLength(1);
    // Each prepare checks again: a new deployment, the same values.
    const again = await engine({ url: [a.url, noModel.url] }).prepare({});
    expect(again.deployment).not.toBe(deployment);
    expect(again.settingsFingerprint).toEqual(deployment.settingsFingerprint);
  });

  it('falls back to one motion scale per segment where AnimateDiff-Evolved lacks value scheduling', async () => {
    const s = await server({ removeNodes: ['ADE_ValueScheduling'] });
    const e = await prepared({ url: s.url });
    expect(e.capabilities.perFrameMotionScale).toBe(false);
    await e.renderSegment(CONSTANT_JOB, { workDir: await tempDir() });
    expect(s.prompts[0]!.graph['2']).toEqual({ class_type: 'ADE_MultivalDynamic', inputs: { float_val: 1.1 } });
  });
});

describe('comfyui engine: what the mapping asks for', () => {
  const BLEND = segmentJob({
    prompt: 'neon city',
    promptBlend: [
      { prompt: 'neon city', negativePrompt: 'blurry', weight: 0.75 },
      { prompt: 'calm ocean', negativePrompt: 'blurry', weight: 0.25 },
    ],
    loras: [{ name: 'add_detail', strength: 0.35 }],
  });

  it('finds a mapping’s LoRA by its name without extension, and the server runs the blend and LoRA graph it is sent', async () => {
    const s = await server({ loras: ['film.safetensors', 'add_detail.safetensors'] });
    const e = await prepared({
      url: s.url,
      loras: [{ name: 'film.safetensors', strengthModel: 0.5, strengthClip: 0.5 }],
    });
    e.checkNeeds({ loras: ['add_detail'] });
    const dir = await tempDir();
    const result = await e.renderSegment(BLEND, { workDir: dir });
    expect(result.frameFiles).toHaveLength(16);
    const sent = s.prompts[0]!;
    expect(sent.status).toBe('success');
    expect(sent.graph['20']!.inputs).toMatchObject({ lora_name: 'film.safetensors', strength_model: 0.5 });
    expect(sent.graph['21']!.inputs).toMatchObject({
      lora_name: 'add_detail.safetensors',
      strength_model: 0.35,
      strength_clip: 0.35,
      model: ['20', 0],
    });
    expect(sent.graph['23']).toEqual({
      class_type: 'ConditioningAverage',
      inputs: { conditioning_to: ['4', 0], conditioning_from: ['22', 0], conditioning_to_strength: 0.75 },
    });
    // The fake draws a blend's palette from both prompts: not the frames of either prompt alone.
    const alone = await tempDir();
    await e.renderSegment(
      { ...BLEND, promptBlend: [{ prompt: 'neon city', negativePrompt: 'blurry', weight: 1 }] },
      { workDir: alone },
    );
    expect(await readFile(join(dir, 'frame-0000.png'))).not.toEqual(await readFile(join(alone, 'frame-0000.png')));
  });

  it.each<[string, FakeComfyOptions, string[], string]>([
    [
      'a LoRA the server lacks, listing what it has',
      { loras: ['film.safetensors'] },
      ['add_detail'],
      "LoRA 'add_detail' from the mapping is not on the server (it has: film.safetensors); put it in ComfyUI/models/loras or change targets.loras in the mapping",
    ],
    [
      'a name that fits several files',
      { loras: ['sd15/add_detail.safetensors', 'add_detail.pt'] },
      ['add_detail'],
      "LoRA 'add_detail' from the mapping matches several files on the server (sd15/add_detail.safetensors, add_detail.pt); name the file in the mapping's targets.loras",
    ],
  ])('fails before the first segment on %s', async (_what, serverOptions, loras, problem) => {
    const s = await server(serverOptions);
    const e = await prepared({ url: s.url });
    const error = (() => {
      try {
        e.checkNeeds({ loras });
      } catch (x) {
        return x as BeatloomError;
      }
      return undefined;
    })();
    expect(error?.message).toBe(`ComfyUI cannot render this mapping: ${problem}`);
    expect(error?.kind).toBe('usage');
    expect(s.prompts).toHaveLength(0);
  });

  it('with several servers, names the one that lacks the LoRA', async () => {
    const [a, b] = await Promise.all([server({ loras: ['glow.safetensors'] }), server({ loras: [] })]);
    const e = await prepared({ url: [a.url, b.url] });
    expect(() => e.checkNeeds({ loras: ['glow'] })).toThrow(
      `ComfyUI cannot render this mapping: ${b.url}: LoRA 'glow' from the mapping is not on the server (it has: none)`,
    );
  });

  it('says which steps it samples with: the motion module’s, the config’s, or a custom workflow’s own', async () => {
    const s = await server({ motionModels: ['animatediff_lightning_8step_comfyui.safetensors'] });
    const eight = await prepared({ url: s.url, motionModel: 'animatediff_lightning_8step_comfyui.safetensors' });
    expect(eight.sampler).toEqual({ steps: 8 });
    expect(
      (await prepared({ url: s.url, motionModel: 'animatediff_lightning_8step_comfyui.safetensors', steps: 6 }))
        .sampler,
    ).toEqual({ steps: 6 });
    await eight.renderSegment(JOB, { workDir: await tempDir() });
    expect(s.prompts[0]!.graph['7']!.inputs['steps']).toBe(8);
  });
});

describe('comfyui engine: several servers', () => {
  it('renders on whichever server is free: concurrency is the number of usable servers; an unusable one is left out with a note', async () => {
    const [a, b, noModel] = await Promise.all([server(), server(), server({ motionModels: [] })]);
    const dead = await server();
    await dead.kill();
    const notices: string[] = [];
    const e = await prepared({ url: [a.url, b.url, noModel.url, dead.url] }, notices);
    // Two usable servers, each running one segment with the next queued behind it.
    expect(e.capabilities.concurrency).toBe(4);
    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatch(
      new RegExp(
        `^ComfyUI at ${noModel.url} is left out of this render: motion module 'animatediff_lightning_4step_comfyui.safetensors' is not on the server \\(it has: none\\)`,
      ),
    );
    expect(notices[1]).toMatch(new RegExp(`^ComfyUI at ${dead.url} is left out of this render: cannot reach ComfyUI`));
    await Promise.all(
      [0, 1, 2, 3].map(async (index) => e.renderSegment({ ...JOB, index }, { workDir: await tempDir() })),
    );
    expect([a.prompts.length, b.prompts.length]).toEqual([2, 2]);
  });

  it('moves a segment to another server when its server dies mid-segment, takes the dead one out, and says so', async () => {
    const [a, b] = await Promise.all([server({ segmentMs: 300 }), server()]);
    a.faults.dieAtStep = 1;
    const notices: string[] = [];
    const e = await prepared({ url: [a.url, b.url] }, notices);
    const dir = await tempDir();
    const result = await e.renderSegment({ ...JOB, index: 4 }, { workDir: dir });
    expect(result.frameFiles).toHaveLength(16);
    expect(a.prompts.map((p) => p.status)).toEqual(['lost']);
    expect(b.prompts.map((p) => p.status)).toEqual(['success']);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      new RegExp(
        `^ComfyUI at ${a.url} is taken out of this render \\(cannot reach ComfyUI at ${a.url}: .*\\); its segments move to the one server left$`,
      ),
    );
    expect(e.capabilities.concurrency).toBe(2);
    // Segments that follow go to the survivor only.
    await e.renderSegment({ ...JOB, index: 5 }, { workDir: await tempDir() });
    expect(b.prompts).toHaveLength(2);
  });

  it('moves both segments a dead server held (running and queued), with one note', async () => {
    const [a, b] = await Promise.all([server({ segmentMs: 5_000 }), server()]);
    const notices: string[] = [];
    const e = await prepared({ url: [a.url, b.url] }, notices);
    const dirs = await Promise.all([0, 1, 2].map(() => tempDir()));
    // Segments 0 and 2 go to a (one running, one queued behind it), segment 1 to b.
    const rendering = Promise.all(
      [0, 1, 2].map((index) => e.renderSegment({ ...JOB, index }, { workDir: dirs[index]! })),
    );
    while (a.prompts.length < 2) await new Promise((r) => setTimeout(r, 5));
    await a.kill();
    const results = await rendering;
    expect(results.map((r) => r.frameFiles.length)).toEqual([16, 16, 16]);
    expect(a.prompts.map((p) => p.status)).toEqual(['lost', 'pending']);
    expect(b.prompts.map((p) => p.status)).toEqual(['success', 'success', 'success']);
    expect(notices).toHaveLength(1);
  });

  it('fails with every server’s reason when the last one goes', async () => {
    const [a, b] = await Promise.all([server(), server()]);
    const e = await prepared({ url: [a.url, b.url] });
    a.faults.failHttp.push({ path: '/prompt', times: 1 });
    b.faults.failHttp.push({ path: '/prompt', times: 1 });
    const error = await e.renderSegment(JOB, { workDir: await tempDir() }).catch((x: unknown) => x);
    expect((error as BeatloomError).code).toBe('E_COMFY_NO_SERVERS');
    expect((error as Error).message).toBe(
      `every ComfyUI server failed (${a.url}: ComfyUI at ${a.url} failed: POST /prompt answered HTTP 500 (500 Internal Server Error); ${b.url}: ComfyUI at ${b.url} failed: POST /prompt answered HTTP 500 (500 Internal Server Error))`,
    );
  });

  it('with one server, its own failure is the error', async () => {
    const a = await server({ segmentMs: 300 });
    const e = await prepared({ url: a.url });
    a.faults.dieAtStep = 1;
    await expect(e.renderSegment(JOB, { workDir: await tempDir() })).rejects.toThrow(
      new RegExp(`^cannot reach ComfyUI at ${a.url}: .*ECONNREFUSED`),
    );
  });
});

describe('comfyui engine: what comes back is checked', () => {
  it('refuses a server-given file name that leaves the output folder, and writes nothing outside the work folder', async () => {
    const s = await server();
    s.faults.rewriteImages = (images) =>
      images.map((image, i) => (i === 3 ? { ...image, filename: '../../evil.png' } : image));
    const e = await prepared({ url: s.url });
    const root = await tempDir();
    const workDir = join(root, 'segment');
    await mkdir(workDir);
    const error = await e.renderSegment(JOB, { workDir }).catch((x: unknown) => x);
    expect((error as BeatloomError).code).toBe('E_COMFY_OUTPUT');
    expect((error as Error).message).toBe(
      `ComfyUI at ${s.url} named output image 4 {"filename":"../../evil.png","subfolder":"beatloom","type":"output"}, which beatloom refuses to fetch (not a plain file in the output folder)`,
    );
    expect(await readdir(root)).toEqual(['segment']);
    expect(await readdir(workDir)).toEqual([]);
    expect(s.requests.some((r) => r.path.startsWith('/view'))).toBe(false);
    expect(await readdir(dirname(root))).not.toContain('evil.png');
  });

  it.each<[string, (s: FakeComfy) => void, RegExp]>([
    [
      'a truncated PNG',
      (s) => (s.faults.corruptViews = 1),
      /sent seg_0000_00001_\.png, which is not a valid PNG \((truncated chunk|truncated \(no IEND\))\)$/,
    ],
    [
      'too few images',
      (s) => (s.faults.rewriteImages = (images) => images.slice(0, 15)),
      /returned 15 images for segment 1, expected 16$/,
    ],
    ['no images', (s) => (s.faults.rewriteImages = () => []), /returned 0 images for segment 1, expected 16$/],
  ])('rejects %s', async (_what, fault, message) => {
    const s = await server();
    fault(s);
    await expect((await prepared({ url: s.url })).renderSegment(JOB, { workDir: await tempDir() })).rejects.toThrow(
      message,
    );
  });

  it('uploads the init image under a content name and starts the sampler from it (LoadImage → VAEEncode → RepeatLatentBatch)', async () => {
    const s = await server();
    const e = await prepared({ url: s.url });
    const first = await tempDir();
    await e.renderSegment(JOB, { workDir: first });
    const init = join(first, 'frame-0015.png');
    await e.renderSegment({ ...JOB, index: 1, continuity: 'chain' }, { workDir: await tempDir(), initImagePath: init });
    const name = initUploadName(await readFile(init));
    expect(s.uploads).toEqual([name]);
    const graph = s.prompts[1]!.graph;
    expect(graph['10']).toEqual({ class_type: 'LoadImage', inputs: { image: name } });
    expect(graph['12']).toEqual({ class_type: 'RepeatLatentBatch', inputs: { samples: ['11', 0], amount: 16 } });
    // denoise 0.6 on the module's 4 steps: the last 2 of them (start_at_step 2).
    expect(graph['7']!.inputs['start_at_step']).toBe(2);
    expect(graph['7']!.inputs['latent_image']).toEqual(['12', 0]);
  });

  it('interrupts its prompt on the server when aborted', async () => {
    const s = await server({ segmentMs: 2_000 });
    const e = await prepared({ url: s.url });
    const controller = new AbortController();
    await expect(
      e.renderSegment(JOB, {
        workDir: await tempDir(),
        signal: controller.signal,
        onProgress: () => controller.abort(),
      }),
    ).rejects.toBeInstanceOf(AbortedError);
    await s.idle();
    expect(s.interrupts).toEqual([s.prompts[0]!.id]);
    expect(s.prompts[0]!.status).toBe('interrupted');
  });
});

describe('comfyui engine: bring your own workflow', () => {
  async function workflowFiles(
    map: Record<string, unknown>,
    change?: (graph: Record<string, { class_type: string; inputs: Record<string, unknown> }>) => void,
  ): Promise<{ workflow: string; map: string }> {
    const dir = await tempDir();
    const graph = structuredClone(
      fixtureJson<{
        request: { body: { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> } };
      }>('81_ade_img2img_chain_post.json').request.body.prompt,
    );
    change?.(graph);
    await writeFile(join(dir, 'workflow.json'), JSON.stringify(graph));
    await writeFile(join(dir, 'map.json'), JSON.stringify(map));
    return { workflow: join(dir, 'workflow.json'), map: join(dir, 'map.json') };
  }
  const MAP = {
    output: '9',
    prompt: '4.text',
    negative: '5.text',
    seed: '7.seed',
    denoise: '7.denoise',
    frameCount: '12.amount',
    motionScale: '2.float_val',
    initImage: '10.image',
  };

  it('renders the user’s graph with beatloom’s values in the mapped inputs, from a neutral image when a segment has no init image', async () => {
    const s = await server();
    const files = await workflowFiles(MAP);
    const e = await prepared({ url: s.url, workflow: files.workflow, workflowMap: files.map });
    expect(e.capabilities.initImage).toBe(true);
    expect(e.capabilities.perFrameMotionScale).toBe(false);
    expect(Object.keys(e.settingsFingerprint)).toEqual(['engine', 'workflow', 'steps']);
    const dir = await tempDir();
    const result = await e.renderSegment(
      { ...CONSTANT_JOB, index: 3, frameCount: 8, motion: { kind: 'constant', scale: 1.25 }, seed: 5 },
      { workDir: dir },
    );
    expect(result.frameFiles).toHaveLength(8);
    expect(decodePng(await readFile(join(dir, 'frame-0007.png'))).width).toBe(64);
    const sent = s.prompts[0]!.graph;
    expect(sent['4']!.inputs['text']).toBe('neon city');
    expect(sent['7']!.inputs).toMatchObject({ seed: 5, denoise: 1, steps: 2 });
    expect(sent['12']!.inputs['amount']).toBe(8);
    expect(sent['2']!.inputs['float_val']).toBe(1.25);
    expect(sent['9']!.inputs['filename_prefix']).toBe('beatloom/seg_0003');
    expect(sent['10']!.inputs['image']).toBe(s.uploads[0]);
  });

  it('drives a mapped LoRA, gives a blending segment its strongest prompt with one notice, and samples with the workflow’s own steps', async () => {
    const s = await server({ loras: ['add_detail.safetensors'] });
    const files = await workflowFiles(
      { ...MAP, loras: { add_detail: ['20.strength_model', '20.strength_clip'] } },
      (graph) => {
        graph['20'] = {
          class_type: 'LoraLoader',
          inputs: {
            model: ['1', 0],
            clip: ['1', 1],
            lora_name: 'add_detail.safetensors',
            strength_model: 1,
            strength_clip: 1,
          },
        };
        graph['3']!.inputs['model'] = ['20', 0];
      },
    );
    const notices: string[] = [];
    const e = await prepared({ url: s.url, workflow: files.workflow, workflowMap: files.map, steps: 8 }, notices);
    // The map has no steps target: the workflow's KSampler says 2, whatever the config says.
    expect(e.sampler).toEqual({ steps: 2 });
    expect(e.settingsFingerprint).toMatchObject({ steps: 2 });
    expect(notices).toEqual([
      `steps 8 is not used: the workflow map has no steps target, so ${files.workflow} samples with its own (2)`,
    ]);
    notices.length = 0;
    e.checkNeeds({ loras: ['add_detail'] });
    expect(() => e.checkNeeds({ loras: ['add_detail', 'glow'] })).toThrow(
      /^the mapping drives the LoRA 'glow', but the workflow map gives it no input$/,
    );
    const blend = {
      ...CONSTANT_JOB,
      loras: [{ name: 'add_detail', strength: 0.6 }],
      promptBlend: [
        { prompt: 'neon city', negativePrompt: 'blurry', weight: 0.6 },
        { prompt: 'sea', negativePrompt: 'blurry', weight: 0.4 },
      ],
    };
    await e.renderSegment({ ...blend, index: 2 }, { workDir: await tempDir() });
    await e.renderSegment({ ...blend, index: 3 }, { workDir: await tempDir() });
    expect(s.prompts.map((p) => p.status)).toEqual(['success', 'success']);
    expect(s.prompts[0]!.graph['20']!.inputs).toMatchObject({ strength_model: 0.6, strength_clip: 0.6 });
    expect(s.prompts[0]!.graph['4']!.inputs['text']).toBe('neon city');
    expect(notices).toEqual([
      'the workflow map has one prompt input: segments where the mapping blends prompts (segment 3 is one) get their strongest prompt; the built-in graph blends them',
    ]);
  });

  it('fails fast when the workflow needs nodes or models the server lacks', async () => {
    const s = await server();
    const files = await workflowFiles(MAP, (graph) => {
      graph['1']!.inputs['ckpt_name'] = 'dreamshaper_8.safetensors';
      graph['30'] = { class_type: 'FILM VFI', inputs: { frames: ['8', 0] } };
    });
    const error = await prepareError({ url: s.url, workflow: files.workflow, workflowMap: files.map });
    expect(error.message).toBe(
      "ComfyUI cannot render this: workflow node 1 (CheckpointLoaderSimple) input ckpt_name: 'dreamshaper_8.safetensors' is not on the server (it has: random_sd15_fp16.safetensors); workflow node 30 uses FILM VFI, which the server does not have; install the custom nodes that provide it",
    );
  });

  it('says so when the mapped output is not an output node', async () => {
    const s = await server();
    const files = await workflowFiles({ ...MAP, output: '8' });
    expect((await prepareError({ url: s.url, workflow: files.workflow, workflowMap: files.map })).message).toBe(
      'ComfyUI cannot render this: workflow map output: node 8 (VAEDecode) is not an output node; map the SaveImage node that receives the frames',
    );
  });
});

describe('ServerPool', () => {
  const a = { url: 'a', value: 'A' };
  const b = { url: 'b', value: 'B' };

  it('gives each segment the server with the most room, the first listed on a tie of empty servers, and queues the rest', async () => {
    const pool = new ServerPool([a, b], 2);
    expect(pool.capacity).toBe(4);
    const taken = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(taken.map((s) => s.url)).toEqual(['a', 'b', 'a', 'b']);
    let fifth: string | undefined;
    const waiting = pool.acquire().then((s) => (fifth = s.url));
    await Promise.resolve();
    expect(fifth).toBeUndefined();
    pool.release(b);
    await waiting;
    expect(fifth).toBe('b');
  });

  it('on a tie, queues behind the server whose oldest segment was sent first: it frees soonest', async () => {
    const c = { url: 'c', value: 'C' };
    let clock = 0;
    const pool = new ServerPool([a, b, c], 2, () => clock);
    const first = await Promise.all([0, 1, 2].map(() => pool.acquire().then((s) => ((clock += 10), s.url))));
    expect(first).toEqual(['a', 'b', 'c']);
    // a finishes and takes another at once: it was sent last, so b (sent at 10) and c (20) are ahead of it.
    pool.release(a);
    expect((await pool.acquire()).url).toBe('a');
    clock += 10;
    expect((await pool.acquire()).url).toBe('b');
    expect((await pool.acquire()).url).toBe('c');
    expect((await pool.acquire()).url).toBe('a');
  });

  it('takes a failed server out once, and tells every waiter when none is left', async () => {
    const pool = new ServerPool([a], 1);
    await pool.acquire();
    const waiting = pool.acquire();
    expect(pool.remove(a, 'refused')).toBe(0);
    expect(pool.remove(a, 'refused again')).toBe(0);
    await expect(waiting).rejects.toThrow('every ComfyUI server failed (a: refused)');
    await expect(pool.acquire()).rejects.toThrow('every ComfyUI server failed (a: refused)');
  });

  it('stops waiting when aborted', async () => {
    const pool = new ServerPool([a], 1);
    await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
  });
});
