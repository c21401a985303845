import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { truncate, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { frameFileName, type RenderEngine, type SegmentJob } from '../src/engines/engine.js';
import type { RenderPlan } from '../src/pipeline/render-plan.js';
import { findReusableSegments, readSegmentManifest, renderSegments } from '../src/pipeline/render-segments.js';
import { openRunDir } from '../src/run/run-dir.js';
import { BeatloomError } from '../src/shared/errors.js';
import { encodePng } from '../src/raster/png.js';
import { tempDir } from './helpers/media.js';
import { rational } from '../src/shared/media-time.js';

function planOf(count: number, continuity: RenderPlan['continuity']): RenderPlan {
  return {
    version: 1,
    engine: 'fake',
    fps: rational(8),
    frameCount: count * 12 + 4,
    width: 8,
    height: 8,
    continuity,
    notices: [],
    jobs: Array.from({ length: count }, (_, index) => ({
      index,
      hash: `h${index}-${continuity}`,
      startFrame: index * 12,
      frameCount: 2,
      leadFrame: index * 12,
      crossfadeFrames: 0,
      fps: rational(8),
      width: 8,
      height: 8,
      prompt: 'p',
      promptBlend: [{ prompt: 'p', negativePrompt: '', weight: 1 }],
      loras: [],
      negativePrompt: '',
      seed: 1,
      noiseFrame: 0,
      heldFrames: 0,
      denoise: 0.5,
      cfg: 1,
      steps: 4,
      motion: { kind: 'constant', scale: 1 },
      continuity,
      section: 'drop',
      initFrom: continuity === 'chain' && index > 0 ? index - 1 : null,
      holdFrom: null,
    })),
  };
}

interface FakeLog {
  started: number[];
  maxRunning: number;
  inits: Array<string | undefined>;
}

function fakeEngine(concurrency: number, log: FakeLog, failOn?: number): RenderEngine {
  let running = 0;
  return {
    id: 'fake',
    capabilities: {
      initImage: true,
      continuation: true,
      takeFrames: 0,
      motionEffect: false,
      perFrameMotionScale: false,
      maxFrames: 16,
      concurrency,
    },
    settingsFingerprint: {},
    sampler: { steps: 4 },
    checkNeeds() {},
    async renderSegment(job: SegmentJob, opts) {
      running++;
      log.maxRunning = Math.max(log.maxRunning, running);
      log.started.push(job.index);
      log.inits.push(opts.initImagePath?.split('/').slice(-2).join('/'));
      try {
        await sleep(job.index % 2 === 0 ? 30 : 5, undefined, { signal: opts.signal });
        if (job.index === failOn) throw new BeatloomError('E_COMFY_SERVER', `server lost on segment ${job.index}`);
        for (let i = 0; i < job.frameCount; i++) {
          await writeFile(
            join(opts.workDir, frameFileName(i)),
            encodePng({ width: 8, height: 8, data: new Uint8Array(192) }),
          );
        }
        return { frameFiles: Array.from({ length: job.frameCount }, (_, i) => frameFileName(i)), elapsedMs: 1 };
      } finally {
        running--;
      }
    },
  };
}

describe('renderSegments', () => {
  it('renders up to the engine concurrency at once', async () => {
    const run = await openRunDir(await tempDir());
    const log: FakeLog = { started: [], maxRunning: 0, inits: [] };
    const summary = await renderSegments(planOf(7, 'none'), fakeEngine(3, log), run);
    expect(summary).toMatchObject({ rendered: 7, cached: 0 });
    expect(log.maxRunning).toBe(3);
    expect((await readdir(run.segmentsDir)).sort()).toEqual(['0000', '0001', '0002', '0003', '0004', '0005', '0006']);
  });

  it('chain continuity renders in order, each from its predecessor’s last frame', async () => {
    const run = await openRunDir(await tempDir());
    const log: FakeLog = { started: [], maxRunning: 0, inits: [] };
    await renderSegments(planOf(4, 'chain'), fakeEngine(4, log), run);
    expect(log.started).toEqual([0, 1, 2, 3]);
    expect(log.maxRunning).toBe(1);
    expect(log.inits).toEqual([undefined, '0000/frame-0001.png', '0001/frame-0001.png', '0002/frame-0001.png']);
  });

  it('a failure stops the rest, keeps what finished, and the next run renders only the missing', async () => {
    const run = await openRunDir(await tempDir());
    const log: FakeLog = { started: [], maxRunning: 0, inits: [] };
    await expect(renderSegments(planOf(6, 'none'), fakeEngine(2, log, 3), run)).rejects.toThrow(
      'server lost on segment 3',
    );
    const kept = await readdir(run.segmentsDir);
    expect(kept.every((name) => /^\d{4}$/.test(name))).toBe(true);
    expect(kept).toContain('0001');
    expect(kept).not.toContain('0003');
    const again: FakeLog = { started: [], maxRunning: 0, inits: [] };
    const summary = await renderSegments(planOf(6, 'none'), fakeEngine(2, again), run);
    expect(summary.cached).toBe(kept.length);
    expect(summary.rendered).toBe(6 - kept.length);
    expect(again.started.sort()).toEqual([0, 1, 2, 3, 4, 5].filter((i) => !kept.includes(String(i).padStart(4, '0'))));
  });

  it('a segment whose frame lost its data (an OS crash after the rename) is rendered again', async () => {
    const run = await openRunDir(await tempDir());
    const log: FakeLog = { started: [], maxRunning: 0, inits: [] };
    const plan = planOf(3, 'none');
    await renderSegments(plan, fakeEngine(1, log), run);
    const manifest = await readSegmentManifest(run.segmentDir(1));
    expect(manifest).toMatchObject({ hash: 'h1-none', frameCount: 2, engine: 'fake', width: 8, height: 8 });
    expect(manifest!.frameBytes.length).toBe(2);
    await truncate(join(run.segmentDir(1), frameFileName(0)), 0);
    expect(await findReusableSegments(plan, run, true)).toEqual([true, false, true]);
    const again: FakeLog = { started: [], maxRunning: 0, inits: [] };
    expect(await renderSegments(plan, fakeEngine(1, again), run)).toMatchObject({ rendered: 1, cached: 2 });
    expect(again.started).toEqual([1]);
  });
});
