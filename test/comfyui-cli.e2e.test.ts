/**
 * The CLI with --engine comfyui against the fake ComfyUI server on 127.0.0.1: a full render of
 * the sample song checked by decoding out.mp4, `engines check`, configuration from a file and
 * the environment, one-line errors with the right exit codes, and Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { averageStrengths, loraStrength } from '../src/engines/comfyui/workflow.js';
import { renderPlanSchema } from '../src/pipeline/render-plan.js';
import { runRecordSchema } from '../src/run/run-record.js';
import { runCli, ROOT } from './helpers/cli.js';
import { startFakeComfy, type FakeComfy, type PromptRecord } from './comfyui/fake-comfy-server.js';
import { decodedAudioSamples, decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

const SAMPLE = join(ROOT, 'samples', 'loom-groove.mp3');
const NO_ENV = { BEATLOOM_COMFY_URL: undefined };

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('beatloom: error:'));
}

describe('beatloom render --engine comfyui', () => {
  let server: FakeComfy;
  beforeAll(async () => {
    server = await startFakeComfy({ segmentMs: 10, historyDelayMs: 5 });
  });
  afterAll(() => server.close());

  it('renders the sample song into a valid out.mp4 with exactly ceil(D · fps) frames', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out.mp4');
    const result = await runCli(
      [
        'render',
        SAMPLE,
        '--prompt',
        'neon city, rain',
        '--engine',
        'comfyui',
        '--comfy-url',
        server.url,
        '--size',
        '64x64',
        '--run-dir',
        join(dir, 'run'),
        '-o',
        out,
        '--quiet',
      ],
      { env: NO_ENV },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const plan = JSON.parse(await readFile(join(dir, 'run', 'plan.json'), 'utf8')) as {
      frameCount: number;
      engine: string;
      jobs: unknown[];
    };
    expect(plan.engine).toBe('comfyui');
    const frames = await decodeVideoFrames(out, 64, 64);
    expect(frames.length).toBe(plan.frameCount);
    const samples = await decodedAudioSamples(out);
    const analysis = JSON.parse(await readFile(join(dir, 'run', 'analysis.json'), 'utf8')) as {
      source: { sampleCount: number };
    };
    expect(Math.abs(samples - analysis.source.sampleCount) / 22050).toBeLessThan(1 / 8);
    expect(plan.frameCount).toBe(Math.ceil((analysis.source.sampleCount * 8) / 22050));
    // Every segment went through the server, and run.json records the settings that made them.
    expect(server.prompts.filter((p) => p.status === 'success')).toHaveLength(plan.jobs.length);
    const run = JSON.parse(await readFile(join(dir, 'run', 'run.json'), 'utf8')) as {
      engine: { id: string; settings: { checkpoint: string } };
    };
    expect(run.engine).toMatchObject({
      id: 'comfyui',
      settings: { checkpoint: 'random_sd15_fp16.safetensors', steps: 4 },
    });
  });

  it('takes the server from beatloom.config.yaml, and BEATLOOM_COMFY_URL over it', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'beatloom.config.yaml'),
      `engine: comfyui\ncomfyui:\n  url: http://127.0.0.1:9\n  checkpoint: random_sd15_fp16.safetensors\n`,
    );
    const fromFile = await runCli(['engines', 'check'], { cwd: dir, env: NO_ENV });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stdout).toMatch(/^ComfyUI http:\/\/127\.0\.0\.1:9: UNREACHABLE/);
    const fromEnv = await runCli(['engines', 'check'], { cwd: dir, env: { BEATLOOM_COMFY_URL: server.url } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout.split('\n')[0]).toBe(`ComfyUI ${server.url}: ready`);
    const fromFlag = await runCli(['engines', 'check', '--comfy-url', 'http://127.0.0.1:9'], {
      cwd: dir,
      env: { BEATLOOM_COMFY_URL: server.url },
    });
    expect(fromFlag.code).toBe(1);
  });

  it('engines check --engine preview says the preview engine is ready', async () => {
    const result = await runCli(['engines', 'check', '--engine', 'preview'], { env: NO_ENV });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^preview engine \(beatloom [\d.]+\) on the CPU: ready\n$/);
  });

  it('engines check prints a health report: version, device, VRAM, queue, models found', async () => {
    const result = await runCli(
      ['engines', 'check', '--comfy-url', server.url, '--comfy-lora', 'film.safetensors:0.5'],
      { env: NO_ENV },
    );
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      `ComfyUI ${server.url}: NOT READY`,
      '  server        ComfyUI 0.8.0, Python 3.13.5, PyTorch 2.6.0+debian',
      '  device        cpu (cpu), VRAM 21.8 GiB free of 23.6 GiB',
      '  memory        RAM 21.8 GiB free of 23.6 GiB',
      '  queue         0 running, 0 waiting',
      '  AnimateDiff-Evolved  installed (per-frame motion scale: yes)',
      '  checkpoints   random_sd15_fp16.safetensors (used)',
      '  motion models animatediff_lightning_4step_comfyui.safetensors (used)',
      '  LoRAs         none',
      '  sampling      euler available, sgm_uniform available, 4 steps',
      "  problem: LoRA 'film.safetensors' is not on the server (it has: none); put it in ComfyUI/models/loras",
      '',
    ]);
    const json = await runCli(['engines', 'check', '--comfy-url', server.url, '--json'], { env: NO_ENV });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      type: 'server',
      url: server.url,
      ready: true,
      comfyuiVersion: '0.8.0',
      checkpoint: 'random_sd15_fp16.safetensors',
      problems: [],
    });
  });

  it.each<[string, number, (url: string) => string[], RegExp]>([
    ['an unknown engine', 2, () => ['--engine', 'dalle'], /unknown engine 'dalle' — use one of: preview, comfyui/],
    [
      'ComfyUI flags with the preview engine',
      2,
      (url) => ['--comfy-url', url],
      /--comfy-url only apply to the comfyui engine, not 'preview' — add --engine comfyui/,
    ],
    [
      'a bad server URL',
      2,
      () => ['--engine', 'comfyui', '--comfy-url', 'ftp://x'],
      /invalid ComfyUI URL: 'ftp:\/\/x'/,
    ],
    [
      'a bad --comfy-lora',
      2,
      (url) => ['--engine', 'comfyui', '--comfy-url', url, '--comfy-lora', 'a:b:1000'],
      /invalid --comfy-lora: 'a:b:1000'/,
    ],
    [
      'a missing model',
      2,
      (url) => ['--engine', 'comfyui', '--comfy-url', url, '--comfy-checkpoint', 'nope.safetensors'],
      /ComfyUI cannot render this: checkpoint 'nope.safetensors' is not on the server \(it has: random_sd15_fp16.safetensors\)/,
    ],
    [
      'an unreachable server',
      1,
      () => ['--engine', 'comfyui', '--comfy-url', 'http://127.0.0.1:9'],
      /cannot use any ComfyUI server: cannot reach ComfyUI at http:\/\/127\.0\.0\.1:9/,
    ],
  ])('%s: one line, exit %i, no video', async (_what, code, args, message) => {
    const dir = await tempDir();
    const result = await runCli(
      ['render', SAMPLE, '--prompt', 'x', '--size', '64x64', '--run-dir', join(dir, 'run'), ...args(server.url)],
      { env: NO_ENV },
    );
    expect(result.code).toBe(code);
    const errors = errorLines(result.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(existsSync(join(dir, 'run', 'out.mp4'))).toBe(false);
  });
});

/** The graph the server ran for a segment, found by its SaveImage prefix. */
function graphOf(prompts: readonly PromptRecord[], segmentIndex: number): PromptRecord['graph'] {
  const prefix = `beatloom/seg_${String(segmentIndex).padStart(4, '0')}`;
  const found = prompts.filter((p) => p.status === 'success' && p.graph['9']?.inputs['filename_prefix'] === prefix);
  expect(found).toHaveLength(1);
  return found[0]!.graph;
}

const BLEND_MAPPING = `version: 2
segments: { align: beats }
signals:
  kick: { from: low, release: 180ms }
targets:
  motionScale: { base: 1, add: { kick: 0.3 } }
  denoise: { base: 0.5 }
  loras:
    add_detail: { base: 0.2, add: { kick: 0.5 }, reduce: start }
    film: { base: 0.65 }
prompts:
  schedule:
    - prompt: "{prompt}, dawn"
    - time: 4
      prompt: "{prompt}, dusk"
      negative: "{negative}, people"
      blend: 3s
`;

describe('a mapping with prompt blends and LoRAs, rendered on ComfyUI', () => {
  it('sends each segment its blend and LoRA strengths, samples with the module’s 8 steps that plan.json, run.json and --dry-run report, and writes ceil(D · fps) frames', async () => {
    const server = await startFakeComfy({
      segmentMs: 5,
      historyDelayMs: 5,
      loras: ['add_detail.safetensors', 'film.safetensors', 'other.safetensors'],
      motionModels: ['animatediff_lightning_8step_comfyui.safetensors'],
    });
    try {
      const dir = await tempDir();
      const song = join(dir, 'song.wav');
      await makeClickTrack(song, { durationSec: 8, bpm: 120 });
      await writeFile(join(dir, 'blend.yaml'), BLEND_MAPPING);
      const runDir = join(dir, 'run');
      const args = [
        'render',
        song,
        '--prompt',
        'harbour',
        '--negative',
        'blurry',
        '--mapping',
        join(dir, 'blend.yaml'),
        '--size',
        '64x64',
        '--run-dir',
        runDir,
        '--engine',
        'comfyui',
        '--comfy-url',
        server.url,
        '--comfy-motion-model',
        'animatediff_lightning_8step_comfyui.safetensors',
        // Also in the mapping: the mapping's strength wins; other.safetensors stays at 0.9.
        '--comfy-lora',
        'add_detail.safetensors:0.9',
        '--comfy-lora',
        'other.safetensors:0.9',
      ];
      const dry = await runCli([...args, '--dry-run'], { env: NO_ENV });
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/\nsegments {2}\d+ of up to 16 frames, 8 sampler steps each, continuity continue: /);
      expect(server.prompts).toHaveLength(0);

      const result = await runCli([...args, '--quiet'], { env: NO_ENV });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const plan = renderPlanSchema.parse(JSON.parse(await readFile(join(runDir, 'plan.json'), 'utf8')));
      const record = runRecordSchema.parse(JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8')));
      expect(record.sampler).toEqual({ steps: 8 });
      expect(record.engine.settings).toMatchObject({
        steps: 8,
        motionModel: 'animatediff_lightning_8step_comfyui.safetensors',
      });
      expect(plan.jobs.every((job) => job.steps === 8)).toBe(true);

      const blended = plan.jobs.filter((job) => job.promptBlend.length > 1);
      expect(blended.length).toBeGreaterThan(0);
      expect(blended.length).toBeLessThan(plan.jobs.length);
      for (const job of plan.jobs) {
        const graph = graphOf(server.prompts, job.index);
        expect(graph['7']!.inputs['steps']).toBe(8);
        // LoRAs: the config file's order first, add_detail at the segment's strength, then film.
        const add = job.loras.find((l) => l.name === 'add_detail')!.strength;
        expect([graph['20']!.inputs, graph['21']!.inputs, graph['22']!.inputs]).toMatchObject([
          { lora_name: 'add_detail.safetensors', strength_model: loraStrength(add), strength_clip: loraStrength(add) },
          { lora_name: 'other.safetensors', strength_model: 0.9, strength_clip: 0.9 },
          { lora_name: 'film.safetensors', strength_model: 0.65, strength_clip: 0.65 },
        ]);
        const averages = Object.entries(graph).filter(([, node]) => node.class_type === 'ConditioningAverage');
        if (job.promptBlend.length === 1) {
          expect(averages).toEqual([]);
          expect(graph['7']!.inputs).toMatchObject({ positive: ['4', 0], negative: ['5', 0] });
          expect(graph['4']!.inputs['text']).toBe(job.prompt);
          continue;
        }
        // Two prompts with different negatives: one average for each, weighted as planned.
        const [first, second] = job.promptBlend;
        const strength = averageStrengths([first!.weight, second!.weight])[0];
        expect(graph['4']!.inputs['text']).toBe(first!.prompt);
        expect(graph['23']).toEqual({
          class_type: 'CLIPTextEncode',
          inputs: { clip: ['22', 1], text: second!.prompt },
        });
        expect(graph['24']).toEqual({
          class_type: 'ConditioningAverage',
          inputs: { conditioning_to: ['4', 0], conditioning_from: ['23', 0], conditioning_to_strength: strength },
        });
        expect(graph['5']!.inputs['text']).toBe(first!.negativePrompt);
        expect(graph['25']).toEqual({
          class_type: 'CLIPTextEncode',
          inputs: { clip: ['22', 1], text: second!.negativePrompt },
        });
        expect(graph['26']).toEqual({
          class_type: 'ConditioningAverage',
          inputs: { conditioning_to: ['5', 0], conditioning_from: ['25', 0], conditioning_to_strength: strength },
        });
        expect(graph['7']!.inputs).toMatchObject({ positive: ['24', 0], negative: ['26', 0] });
      }
      expect(new Set(blended.flatMap((job) => job.promptBlend.map((p) => p.prompt)))).toEqual(
        new Set(['harbour, dawn', 'harbour, dusk']),
      );
      expect(
        new Set(plan.jobs.map((job) => job.loras.find((l) => l.name === 'add_detail')!.strength)).size,
      ).toBeGreaterThan(1);

      const frames = await decodeVideoFrames(join(runDir, 'out.mp4'), 64, 64);
      expect(frames.length).toBe(plan.frameCount);
      expect(plan.frameCount).toBe(64);
    } finally {
      await server.close();
    }
  });

  it('a LoRA the mapping drives that the server lacks: one line listing what it has, exit 2, before the analysis', async () => {
    const server = await startFakeComfy({ loras: ['add_detail.safetensors', 'glow.safetensors'] });
    try {
      const dir = await tempDir();
      await writeFile(join(dir, 'blend.yaml'), BLEND_MAPPING);
      const runDir = join(dir, 'run');
      const result = await runCli(
        [
          'render',
          SAMPLE,
          '--prompt',
          'x',
          '--mapping',
          join(dir, 'blend.yaml'),
          '--size',
          '64x64',
          '--run-dir',
          runDir,
          '--engine',
          'comfyui',
          '--comfy-url',
          server.url,
        ],
        { env: NO_ENV },
      );
      expect(result.code).toBe(2);
      expect(errorLines(result.stderr)).toEqual([
        `beatloom: error: ComfyUI cannot render this mapping: LoRA 'film' from the mapping is not on the server (it has: add_detail.safetensors, glow.safetensors); put it in ComfyUI/models/loras or change targets.loras in the mapping — beatloom engines check --comfy-url ${server.url} shows what each server has`,
      ]);
      expect(existsSync(join(runDir, 'analysis.json'))).toBe(false);
      expect(server.prompts).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

describe('beatloom batch on ComfyUI', () => {
  it('takes the engine from the config file and the server from BEATLOOM_COMFY_URL, and checks the server once for two songs', async () => {
    const server = await startFakeComfy({ segmentMs: 5, historyDelayMs: 5 });
    try {
      const dir = await tempDir();
      await makeClickTrack(join(dir, 'one.wav'), { durationSec: 3, bpm: 120 });
      await makeClickTrack(join(dir, 'two.wav'), { durationSec: 4, bpm: 100 });
      await writeFile(join(dir, 'beatloom.config.yaml'), 'engine: comfyui\ncomfyui:\n  url: http://127.0.0.1:9\n');
      await writeFile(
        join(dir, 'jobs.yaml'),
        'version: 1\ndefaults: { prompt: lanterns, size: 64x64 }\njobs:\n  - audio: one.wav\n  - audio: two.wav\n',
      );
      const result = await runCli(['batch', 'jobs.yaml', '--json'], {
        cwd: dir,
        env: { BEATLOOM_COMFY_URL: server.url },
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const final = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
        results: Array<{
          name: string;
          outcome: { status: string; summary: { segments: number; frameCount: number; outPath: string } };
        }>;
      };
      expect(final.results.map((r) => [r.name, r.outcome.status])).toEqual([
        ['one', 'done'],
        ['two', 'done'],
      ]);
      const segments = final.results.reduce((sum, r) => sum + r.outcome.summary.segments, 0);
      expect(server.prompts.filter((p) => p.status === 'success')).toHaveLength(segments);
      // One engine for both songs: its servers checked once.
      expect(server.requests.filter((r) => r.path === '/object_info')).toHaveLength(1);
      for (const [r, frames] of [
        [final.results[0]!, 24],
        [final.results[1]!, 32],
      ] as const) {
        expect(r.outcome.summary.frameCount).toBe(frames);
        expect((await decodeVideoFrames(r.outcome.summary.outPath, 64, 64)).length).toBe(frames);
        const record = runRecordSchema.parse(JSON.parse(await readFile(join(dir, 'runs', r.name, 'run.json'), 'utf8')));
        expect(record.engine).toMatchObject({
          id: 'comfyui',
          settings: { checkpoint: 'random_sd15_fp16.safetensors' },
        });
      }
    } finally {
      await server.close();
    }
  });

  it('a job that overrides the checkpoint gets an engine of its own; the others share one', async () => {
    const server = await startFakeComfy({
      segmentMs: 5,
      historyDelayMs: 5,
      checkpoints: ['a.safetensors', 'b.safetensors'],
    });
    try {
      const dir = await tempDir();
      await makeClickTrack(join(dir, 'one.wav'), { durationSec: 3, bpm: 120 });
      await writeFile(join(dir, 'engine.yaml'), `comfyui:\n  url: ${server.url}\n  checkpoint: a.safetensors\n`);
      await writeFile(
        join(dir, 'jobs.yaml'),
        [
          'version: 1',
          'defaults: { size: 64x64, engine: comfyui }',
          'jobs:',
          '  - { name: first, audio: one.wav, prompt: alpha }',
          '  - { name: second, audio: one.wav, prompt: beta, engineOptions: { checkpoint: b.safetensors } }',
          '  - { name: third, audio: one.wav, prompt: gamma }',
        ].join('\n'),
      );
      const result = await runCli(['batch', join(dir, 'jobs.yaml'), '--config', join(dir, 'engine.yaml'), '--quiet'], {
        env: NO_ENV,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const checkpointsBy = (word: string): string[] => [
        ...new Set(
          server.prompts
            .filter((p) => String(p.graph['4']!.inputs['text']).includes(word))
            .map((p) => String(p.graph['1']!.inputs['ckpt_name'])),
        ),
      ];
      expect([checkpointsBy('alpha'), checkpointsBy('beta'), checkpointsBy('gamma')]).toEqual([
        ['a.safetensors'],
        ['b.safetensors'],
        ['a.safetensors'],
      ]);
      expect(server.requests.filter((r) => r.path === '/object_info')).toHaveLength(2);
      const checkpointOf = async (name: string): Promise<unknown> =>
        runRecordSchema.parse(JSON.parse(await readFile(join(dir, 'runs', name, 'run.json'), 'utf8'))).engine.settings[
          'checkpoint'
        ];
      expect([await checkpointOf('first'), await checkpointOf('second'), await checkpointOf('third')]).toEqual([
        'a.safetensors',
        'b.safetensors',
        'a.safetensors',
      ]);
    } finally {
      await server.close();
    }
  });

  it('--comfy-url with no job on ComfyUI is one line, exit 2', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'jobs.yaml'), 'version: 1\njobs:\n  - { audio: one.wav, prompt: x }\n');
    const result = await runCli(['batch', join(dir, 'jobs.yaml'), '--comfy-url', 'http://127.0.0.1:9'], {
      cwd: dir,
      env: NO_ENV,
    });
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      "beatloom: error: --comfy-url only apply to the comfyui engine, not 'preview' — add --engine comfyui",
    ]);
  });
});

describe('Ctrl-C during a comfyui render', () => {
  it('interrupts our running prompt, deletes our queued one, exits 130, and the next run resumes', async () => {
    const server = await startFakeComfy({ segmentMs: 1_500 });
    try {
      const dir = await tempDir();
      const args = [
        'render',
        SAMPLE,
        '--prompt',
        'forest',
        '--engine',
        'comfyui',
        '--comfy-url',
        server.url,
        '--size',
        '64x64',
        '--run-dir',
        join(dir, 'run'),
        '--json',
      ];
      let sent = false;
      const first = await runCli(args, {
        env: NO_ENV,
        onStdout: (_text, kill) => {
          // Stop while a segment's prompt has just started running and the next one waits behind it.
          const [, running, queued] = server.prompts;
          if (
            !sent &&
            running?.status === 'running' &&
            queued?.status === 'pending' &&
            performance.now() - running.startedAt! < 1_000
          ) {
            sent = true;
            kill('SIGINT');
          }
        },
      });
      expect(sent).toBe(true);
      expect(first.code).toBe(130);
      await server.idle();
      const ours = server.prompts.filter((p) => p.status !== 'success');
      expect(ours.map((p) => p.status)).toEqual(['interrupted', 'deleted']);
      expect(server.interrupts).toEqual([ours[0]!.id]);
      expect(server.queueDeletes).toEqual([ours[1]!.id]);
      expect(existsSync(join(dir, 'run', 'out.mp4'))).toBe(false);
      const done = server.prompts.filter((p) => p.status === 'success').length;
      expect(done).toBeGreaterThanOrEqual(1);
      // The next run keeps every finished segment and renders the rest.
      server.setSegmentMs(5);
      const second = await runCli(args, { env: NO_ENV });
      expect(second.code).toBe(0);
      const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as {
        cachedSegments: number;
        renderedSegments: number;
        segments: number;
      };
      expect(summary.cachedSegments).toBe(done);
      expect(summary.renderedSegments).toBe(summary.segments - done);
    } finally {
      await server.close();
    }
  });
});
