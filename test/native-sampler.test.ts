import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type EpsRequest, contextWindows, pyramidWeights, sampleEuler } from '../src/engines/native/sampler.js';
import { sgmUniformSigmas, sqrtLinearSchedule } from '../src/engines/native/scheduler.js';
import { AbortedError } from '../src/shared/errors.js';

interface EulerCase {
  name: string;
  steps: number;
  startStep: number;
  cfg: number;
  latent: boolean;
  heldFrames: number[];
  x0: string;
  xBeforeStep: string[];
  out: string;
  unetCalls: number;
}
// Made by scripts/native/reference-runtime.py: ComfyUI's sample_euler, EPS maths, cfg_function and
// denoise mask around a stand-in UNet (eps = x_in · 0.5 + t · 2⁻¹⁰ + a per-frame offset).
const euler = JSON.parse(
  readFileSync(new URL('./fixtures/native/native-euler-comfyui.json', import.meta.url), 'utf8'),
) as {
  shape: [number, number, number, number];
  noise: string;
  latent: string;
  condOffset: number[];
  uncondOffset: number[];
  cases: EulerCase[];
};
const windowsFixture = JSON.parse(
  readFileSync(new URL('./fixtures/native/native-context-windows-ade.json', import.meta.url), 'utf8'),
) as { windows: Record<string, number[][]>; pyramid16: number[]; pyramid7: number[] };

const floats = (base64: string): Float32Array => new Float32Array(new Uint8Array(Buffer.from(base64, 'base64')).buffer);
const bits = (values: Float32Array): number[] => [...new Uint32Array(values.buffer, values.byteOffset, values.length)];

const schedule = sqrtLinearSchedule();
const f = Math.fround;

function stubUnet(calls: EpsRequest[], frameSize: number) {
  return async (request: EpsRequest): Promise<Float32Array> => {
    calls.push(request);
    const offsets = request.guidance === 'positive' ? euler.condOffset : euler.uncondOffset;
    const tTerm = f(request.timestep * 0.0009765625);
    return request.sample.map((v, i) =>
      f(f(f(v * 0.5) + tTerm) + f(offsets[request.frames[Math.floor(i / frameSize)]!]!)),
    );
  };
}

describe('Euler sampling against ComfyUI', () => {
  const [frames, c, h, w] = euler.shape;
  const frameSize = c * h * w;
  it.each(euler.cases.map((e) => [e.name, e] as const))('%s is ComfyUI’s to the bit', async (_name, e) => {
    const calls: EpsRequest[] = [];
    const xs: number[][] = [];
    const latent = e.latent ? floats(euler.latent) : undefined;
    const held = e.heldFrames.length ? Array.from({ length: frames }, (_, i) => e.heldFrames.includes(i)) : undefined;
    const eps = stubUnet(calls, frameSize);
    const out = await sampleEuler({
      schedule,
      sigmas: sgmUniformSigmas(schedule, e.steps),
      startStep: e.startStep,
      frameCount: frames,
      frameSize,
      noise: floats(euler.noise),
      latent,
      heldFrames: held,
      cfg: e.cfg,
      eps: async (request) => {
        if (request.guidance === 'positive') xs.push([]);
        return eps(request);
      },
    });
    expect(bits(out)).toEqual(bits(floats(e.out)));
    expect(calls).toHaveLength(e.unetCalls);
    expect(calls.every((call) => call.frames.join() === '0,1,2')).toBe(true);
  });

  it('asks for no unconditional pass at cfg 1 and one per step otherwise', async () => {
    const guidance = async (cfg: number): Promise<string[]> => {
      const seen: string[] = [];
      await sampleEuler({
        schedule,
        sigmas: sgmUniformSigmas(schedule, 2),
        startStep: 0,
        frameCount: 1,
        frameSize: 2,
        noise: new Float32Array([0.5, -0.5]),
        cfg,
        eps: async (r) => {
          seen.push(`${r.guidance}@${r.timestep}`);
          return new Float32Array(r.sample.length);
        },
      });
      return seen;
    };
    expect(await guidance(1)).toEqual(['positive@999', 'positive@499']);
    expect(await guidance(1.5)).toEqual(['positive@999', 'negative@999', 'positive@499', 'negative@499']);
  });

  it('reports each step and stops between model calls when aborted', async () => {
    const controller = new AbortController();
    const steps: string[] = [];
    const run = sampleEuler({
      schedule,
      sigmas: sgmUniformSigmas(schedule, 4),
      startStep: 0,
      frameCount: 1,
      frameSize: 1,
      noise: new Float32Array([1]),
      cfg: 1,
      signal: controller.signal,
      onStep: (done, total) => {
        steps.push(`${done}/${total}`);
        if (done === 2) controller.abort();
      },
      eps: async (r) => new Float32Array(r.sample.length),
    });
    await expect(run).rejects.toBeInstanceOf(AbortedError);
    expect(steps).toEqual(['1/4', '2/4']);
  });

  it('returns the latent unchanged when the start step is past the grid', async () => {
    const latent = new Float32Array([0.25, -1]);
    const out = await sampleEuler({
      schedule,
      sigmas: sgmUniformSigmas(schedule, 2),
      startStep: 2,
      frameCount: 1,
      frameSize: 2,
      noise: new Float32Array([3, 3]),
      latent,
      cfg: 1,
      eps: () => Promise.reject(new Error('no call expected')),
    });
    expect([...out]).toEqual([0.25, -1]);
  });
});

describe('context windows', () => {
  it.each(Object.entries(windowsFixture.windows))('%s frames get AnimateDiff-Evolved’s windows', (n, windows) => {
    expect(contextWindows(Number(n))).toEqual(windows);
  });

  it('weights a window as a pyramid', () => {
    expect(pyramidWeights(16)).toEqual(windowsFixture.pyramid16);
    expect(pyramidWeights(7)).toEqual(windowsFixture.pyramid7);
  });

  it('samples 40 frames in windows of 16 whose fused result is what one pass gives a frame-wise model', async () => {
    const frameCount = 40;
    const noise = Float32Array.from({ length: frameCount * 2 }, (_, i) => Math.sin(i * 1.3));
    const windowsSeen: string[] = [];
    const run = (context?: { length: number; overlap: number }) =>
      sampleEuler({
        schedule,
        sigmas: sgmUniformSigmas(schedule, 4),
        startStep: 0,
        frameCount,
        frameSize: 2,
        noise,
        cfg: 1,
        context,
        // A model that treats each frame alone: any window gives a frame the same prediction.
        eps: async (r) => {
          if (context?.length === 16) windowsSeen.push(`${r.frames[0]}-${r.frames.at(-1)}`);
          return r.sample.map((v) => f(v * 0.25));
        },
      });
    const windowed = await run({ length: 16, overlap: 4 });
    const whole = await run({ length: 64, overlap: 4 });
    expect(windowsSeen.slice(0, 3)).toEqual(['0-15', '12-27', '24-39']);
    expect(windowsSeen).toHaveLength(12);
    for (let i = 0; i < windowed.length; i++) expect(windowed[i]).toBeCloseTo(whole[i]!, 5);
  });
});
