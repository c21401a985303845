import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SegmentJob } from '../src/engines/engine.js';
import { createPreviewEngine } from '../src/engines/preview/preview-engine.js';
import { decodePng } from '../src/raster/png.js';
import { meanAbsDiff, tempDir } from './helpers/media.js';
import { rational } from '../src/shared/media-time.js';

const JOB: SegmentJob = {
  index: 3,
  hash: 'test',
  startFrame: 36,
  frameCount: 8,
  leadFrame: 38,
  crossfadeFrames: 2,
  fps: rational(8),
  width: 96,
  height: 96,
  prompt: 'neon city, rain',
  negativePrompt: '',
  promptBlend: [{ prompt: 'neon city, rain', negativePrompt: '', weight: 1 }],
  loras: [],
  seed: 7,
  noiseFrame: 0,
  heldFrames: 0,
  denoise: 0.5,
  cfg: 1,
  steps: 4,
  motion: { kind: 'perFrame', scales: [1, 1, 1, 1, 1, 1, 1, 1] },
  continuity: 'none',
  section: 'drop',
};

async function render(
  job: SegmentJob,
  initImagePath?: string,
): Promise<{ dir: string; frames: Uint8Array[]; bytes: Buffer[] }> {
  const dir = await tempDir();
  const result = await (await createPreviewEngine().prepare({})).renderSegment(job, { workDir: dir, initImagePath });
  const bytes = await Promise.all(result.frameFiles.map((f) => readFile(join(dir, f))));
  return { dir, frames: bytes.map((b) => decodePng(b).data), bytes };
}

function withPrompt(prompt: string): SegmentJob {
  return { ...JOB, prompt, promptBlend: [{ prompt, negativePrompt: '', weight: 1 }] };
}

function meanStep(frames: Uint8Array[]): number {
  return frames.slice(1).reduce((sum, f, i) => sum + meanAbsDiff(frames[i]!, f), 0) / (frames.length - 1);
}

describe('preview engine', () => {
  it('is deterministic: the same job gives byte-identical frames', async () => {
    const a = await render(JOB);
    const b = await render(JOB);
    expect(a.bytes.length).toBe(8);
    expect(a.bytes.every((bytes, i) => bytes.equals(b.bytes[i]!))).toBe(true);
  });

  it('moves faster with a higher motion scale', async () => {
    const calm = await render({ ...JOB, motion: { kind: 'perFrame', scales: Array<number>(8).fill(0.5) } });
    const wild = await render({ ...JOB, motion: { kind: 'perFrame', scales: Array<number>(8).fill(1.6) } });
    expect(meanStep(wild.frames)).toBeGreaterThan(meanStep(calm.frames) * 1.5);
  });

  it('changes more from the neighbouring segment with a higher denoise, and completely with a new seed', async () => {
    const at = async (index: number, denoise: number, seed = 7): Promise<Uint8Array> =>
      (await render({ ...JOB, index, denoise, seed })).frames[0]!;
    const lowChange = meanAbsDiff(await at(3, 0.2), await at(4, 0.2));
    const highChange = meanAbsDiff(await at(3, 0.9), await at(4, 0.9));
    const newSeed = meanAbsDiff(await at(3, 0.2), await at(3, 0.2, 8));
    expect(highChange).toBeGreaterThan(lowChange * 1.5);
    expect(newSeed).toBeGreaterThan(lowChange);
  });

  it('takes its palette from the prompt', async () => {
    const fire = (await render(withPrompt('fire'))).frames[0]!;
    const ocean = (await render(withPrompt('ocean'))).frames[0]!;
    const meanChannel = (f: Uint8Array, c: number): number =>
      f.filter((_, i) => i % 3 === c).reduce((s, v) => s + v, 0) / (f.length / 3);
    expect(meanChannel(fire, 0)).toBeGreaterThan(meanChannel(fire, 2));
    expect(meanChannel(ocean, 2)).toBeGreaterThan(meanChannel(ocean, 0));
  });

  it('shows a prompt blend between the two prompts', async () => {
    const meanChannel = (f: Uint8Array, c: number): number =>
      f.filter((_, i) => i % 3 === c).reduce((s, v) => s + v, 0) / (f.length / 3);
    const redness = (f: Uint8Array): number => meanChannel(f, 0) - meanChannel(f, 2);
    const blend = (w: number): SegmentJob => ({
      ...JOB,
      prompt: w >= 0.5 ? 'fire' : 'ocean',
      promptBlend: [
        { prompt: 'fire', negativePrompt: '', weight: w },
        { prompt: 'ocean', negativePrompt: '', weight: 1 - w },
      ].sort((a, b) => b.weight - a.weight),
    });
    const fire = redness((await render(withPrompt('fire'))).frames[0]!);
    const ocean = redness((await render(withPrompt('ocean'))).frames[0]!);
    const half = redness((await render(blend(0.5))).frames[0]!);
    expect(fire).toBeGreaterThan(half);
    expect(half).toBeGreaterThan(ocean);
  });

  it('starts from the init image in proportion to 1 − denoise (chain continuity)', async () => {
    const previous = await render({ ...JOB, seed: 99 });
    const init = join(previous.dir, 'frame-0007.png');
    const kept = await render({ ...JOB, denoise: 0.2 }, init);
    const fresh = await render({ ...JOB, denoise: 0.9 }, init);
    const last = previous.frames[7]!;
    expect(meanAbsDiff(kept.frames[0]!, last)).toBeLessThan(meanAbsDiff(fresh.frames[0]!, last));
  });
});
