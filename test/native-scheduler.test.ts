import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMaxDenoise, sgmUniformSigmas, sqrtLinearSchedule, timestepOf } from '../src/engines/native/scheduler.js';
import { startStepFor } from '../src/engines/engine.js';

// Made by scripts/native/reference-runtime.py with AnimateDiff-Evolved's and ComfyUI's own code.
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/native/native-schedule-comfyui.json', import.meta.url), 'utf8'),
) as {
  sigmas: string;
  logSigmas: string;
  sgmUniform: Record<string, { sigmas: string; timesteps: number[]; maxDenoise: boolean }>;
};

function bits(base64: string): number[] {
  return [...new Uint32Array(new Uint8Array(Buffer.from(base64, 'base64')).buffer)];
}
function bitsOf(values: Float32Array): number[] {
  return [...new Uint32Array(values.buffer, values.byteOffset, values.length)];
}

const schedule = sqrtLinearSchedule();

describe('the sqrt_linear (AnimateDiff) schedule', () => {
  it('has the 1000 sigmas and log sigmas of ComfyUI, bit for bit', () => {
    expect(bitsOf(schedule.sigmas)).toEqual(bits(fixture.sigmas));
    expect(bitsOf(schedule.logSigmas)).toEqual(bits(fixture.logSigmas));
  });

  it.each(Object.entries(fixture.sgmUniform))('sgm_uniform for %s steps is ComfyUI’s, bit for bit', (steps, ref) => {
    const sigmas = sgmUniformSigmas(schedule, Number(steps));
    expect(bitsOf(sigmas)).toEqual(bits(ref.sigmas));
    expect([...sigmas.slice(0, -1)].map((s) => timestepOf(schedule, s))).toEqual(ref.timesteps);
    expect(isMaxDenoise(schedule, sigmas[0]!)).toBe(ref.maxDenoise);
  });

  it('gives the 4-step grid the timesteps 999, 749, 499, 250', () => {
    const sigmas = sgmUniformSigmas(schedule, 4);
    expect([...sigmas.slice(0, -1)].map((s) => timestepOf(schedule, s))).toEqual([999, 749, 499, 250]);
    expect(sigmas[4]).toBe(0);
    expect(isMaxDenoise(schedule, sigmas[1]!)).toBe(false);
  });

  it('rejects a step count that is not a positive integer', () => {
    expect(() => sgmUniformSigmas(schedule, 0)).toThrow(/positive integer/);
    expect(() => sgmUniformSigmas(schedule, 2.5)).toThrow(/positive integer/);
  });
});

describe('img2img and continuation start step on the distilled grid (engine.ts startStepFor)', () => {
  it.each([
    [4, 1, 0],
    [4, 0.75, 1],
    [4, 0.6, 2],
    [4, 0.5, 2],
    [4, 0.25, 3],
    [4, 0, 3],
    [2, 0.5, 1],
    [8, 0.3, 6],
    [1, 0.2, 0],
  ])('%i steps at denoise %f start at step %i', (steps, denoise, start) => {
    expect(startStepFor({ denoise, heldFrames: 0 }, steps, true)).toBe(start);
    expect(startStepFor({ denoise, heldFrames: 4 }, steps, false)).toBe(start);
    expect(startStepFor({ denoise, heldFrames: 0 }, steps, false)).toBe(0);
  });
});
