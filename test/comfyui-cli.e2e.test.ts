/**
 * The CLI with --engine comfyui against the fake ComfyUI server on 127.0.0.1: a full render of
 * the sample song checked by decoding out.mp4, `engines check`, configuration from a file and
 * the environment, one-line errors with the right exit codes, and Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, ROOT } from './helpers/cli.js';
import { startFakeComfy, type FakeComfy } from './comfyui/fake-comfy-server.js';
import { decodedAudioSamples, decodeVideoFrames, tempDir } from './helpers/media.js';

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
    const result = await runCli(['render', SAMPLE, '--prompt', 'neon city, rain', '--engine', 'comfyui', '--comfy-url', server.url, '--size', '64x64', '--run-dir', join(dir, 'run'), '-o', out, '--quiet'], { env: NO_ENV });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const plan = JSON.parse(await readFile(join(dir, 'run', 'plan.json'), 'utf8')) as { frameCount: number; engine: string; jobs: unknown[] };
    expect(plan.engine).toBe('comfyui');
    const frames = await decodeVideoFrames(out, 64, 64);
    expect(frames.length).toBe(plan.frameCount);
    const samples = await decodedAudioSamples(out);
    const analysis = JSON.parse(await readFile(join(dir, 'run', 'analysis.json'), 'utf8')) as { source: { sampleCount: number } };
    expect(Math.abs(samples - analysis.source.sampleCount) / 22050).toBeLessThan(1 / 8);
    expect(plan.frameCount).toBe(Math.ceil((analysis.source.sampleCount * 8) / 22050));
    // Every segment went through the server, and run.json records the settings that made them.
    expect(server.prompts.filter((p) => p.status === 'success')).toHaveLength(plan.jobs.length);
    const run = JSON.parse(await readFile(join(dir, 'run', 'run.json'), 'utf8')) as { engine: { id: string; settings: { checkpoint: string } } };
    expect(run.engine).toMatchObject({ id: 'comfyui', settings: { checkpoint: 'random_sd15_fp16.safetensors', steps: 4 } });
  });

  it('takes the server from beatloom.config.yaml, and BEATLOOM_COMFY_URL over it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'beatloom.config.yaml'), `engine: comfyui\ncomfyui:\n  url: http://127.0.0.1:9\n  checkpoint: random_sd15_fp16.safetensors\n`);
    const fromFile = await runCli(['engines', 'check'], { cwd: dir, env: NO_ENV });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stdout).toMatch(/^ComfyUI http:\/\/127\.0\.0\.1:9: UNREACHABLE/);
    const fromEnv = await runCli(['engines', 'check'], { cwd: dir, env: { BEATLOOM_COMFY_URL: server.url } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout.split('\n')[0]).toBe(`ComfyUI ${server.url}: ready`);
    const fromFlag = await runCli(['engines', 'check', '--comfy-url', 'http://127.0.0.1:9'], { cwd: dir, env: { BEATLOOM_COMFY_URL: server.url } });
    expect(fromFlag.code).toBe(1);
  });

  it('engines check --engine preview says the preview engine is ready', async () => {
    const result = await runCli(['engines', 'check', '--engine', 'preview'], { env: NO_ENV });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^preview engine \(beatloom [\d.]+\) on the CPU: ready\n$/);
  });

  it('engines check prints a health report: version, device, VRAM, queue, models found', async () => {
    const result = await runCli(['engines', 'check', '--comfy-url', server.url, '--comfy-lora', 'film.safetensors:0.5'], { env: NO_ENV });
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
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'server', url: server.url, ready: true, comfyuiVersion: '0.8.0', checkpoint: 'random_sd15_fp16.safetensors', problems: [] });
  });

  it.each<[string, number, (url: string) => string[], RegExp]>([
    ['an unknown engine', 2, () => ['--engine', 'dalle'], /unknown engine 'dalle' — use one of: preview, comfyui/],
    ['ComfyUI flags with the preview engine', 2, (url) => ['--comfy-url', url], /--comfy-url only apply to the comfyui engine, not 'preview' — add --engine comfyui/],
    ['a bad server URL', 2, () => ['--engine', 'comfyui', '--comfy-url', 'ftp://x'], /invalid ComfyUI URL: 'ftp:\/\/x'/],
    ['a bad --comfy-lora', 2, (url) => ['--engine', 'comfyui', '--comfy-url', url, '--comfy-lora', 'a:b:1000'], /invalid --comfy-lora: 'a:b:1000'/],
    ['a missing model', 2, (url) => ['--engine', 'comfyui', '--comfy-url', url, '--comfy-checkpoint', 'nope.safetensors'], /ComfyUI cannot render this: checkpoint 'nope.safetensors' is not on the server \(it has: random_sd15_fp16.safetensors\)/],
    ['an unreachable server', 1, () => ['--engine', 'comfyui', '--comfy-url', 'http://127.0.0.1:9'], /cannot use any ComfyUI server: cannot reach ComfyUI at http:\/\/127\.0\.0\.1:9/],
  ])('%s: one line, exit %i, no video', async (_what, code, args, message) => {
    const dir = await tempDir();
    const result = await runCli(['render', SAMPLE, '--prompt', 'x', '--size', '64x64', '--run-dir', join(dir, 'run'), ...args(server.url)], { env: NO_ENV });
    expect(result.code).toBe(code);
    const errors = errorLines(result.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(existsSync(join(dir, 'run', 'out.mp4'))).toBe(false);
  });
});

describe('Ctrl-C during a comfyui render', () => {
  it('interrupts our running prompt, deletes our queued one, exits 130, and the next run resumes', async () => {
    const server = await startFakeComfy({ segmentMs: 1_500 });
    try {
      const dir = await tempDir();
      const args = ['render', SAMPLE, '--prompt', 'forest', '--engine', 'comfyui', '--comfy-url', server.url, '--size', '64x64', '--run-dir', join(dir, 'run'), '--json'];
      let sent = false;
      const first = await runCli(args, {
        env: NO_ENV,
        onStdout: (_text, kill) => {
          // Stop while a segment's prompt has just started running and the next one waits behind it.
          const [, running, queued] = server.prompts;
          if (!sent && running?.status === 'running' && queued?.status === 'pending' && performance.now() - running.startedAt! < 1_000) {
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
      const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { cachedSegments: number; renderedSegments: number; segments: number };
      expect(summary.cachedSegments).toBe(done);
      expect(summary.renderedSegments).toBe(summary.segments - done);
    } finally {
      await server.close();
    }
  });
});
