/**
 * Native engine benchmark: the same 16-frame 64×64 4-step segment on the native engine and on a
 * CPU ComfyUI (AnimateDiff-Evolved, the comfyui engine's own graph), side by side in one run.
 *
 *   ratio     = native seconds per segment / ComfyUI seconds per segment (same job, same machine)
 *   overhead  = native segment time outside onnxruntime (tokenising, scheduling, the sampler's
 *               arithmetic, PNG encoding and writing) / time inside onnxruntime
 *   build     = buildNativeGraphs (hashing + writing the ONNX graphs; a cache hit when run before)
 *   load      = creating the four onnxruntime sessions
 *   peak RSS  = this process (native), the ComfyUI server process (VmHWM) when it runs here
 *
 * Each engine first renders a one-frame warm-up job (ComfyUI loads its models there, onnxruntime
 * plans its buffers), then `--segments` segments (different seeds), averaged. Models: --checkpoint / --motion-model
 * (default: the comfyui-cpu tool's random-weight SD 1.5 + Lightning 4-step models when present,
 * else the tiny test model — then without ComfyUI). ComfyUI: --comfy-url (default
 * http://127.0.0.1:8188; skipped when it does not answer) with --comfy-checkpoint /
 * --comfy-motion-model naming the same files on the server.
 *
 *   npm run bench:native -- [--tiny] [--size 64] [--frames 16] [--segments 3] [--cache-dir DIR] [--threads N]
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InferenceSession } from 'onnxruntime-node';
import { createComfyEngine } from '../../src/engines/comfyui/engine.js';
import type { RenderEngine, SegmentJob } from '../../src/engines/engine.js';
import { createNativeEngine } from '../../src/engines/native/native-engine.js';
import { segmentJob, SEGMENT_MOTION } from '../../test/helpers/native-segment-case.js';
import { writeTinyModels } from '../../test/helpers/native-tiny-model.js';

const ROOT = process.env.COMFY_REAL_ROOT ?? '/opt/comfy-real/trixie';
const REAL_CHECKPOINT = join(ROOT, 'srv/comfyui/models/checkpoints/sd15_random.safetensors');
const REAL_MOTION = join(
  ROOT,
  'srv/comfyui/custom_nodes/ComfyUI-AnimateDiff-Evolved/models/animatediff_lightning_4step_comfyui.safetensors',
);

const { values } = parseArgs({
  options: {
    tiny: { type: 'boolean', default: false },
    checkpoint: { type: 'string' },
    'motion-model': { type: 'string' },
    'cache-dir': { type: 'string' },
    'comfy-url': { type: 'string', default: 'http://127.0.0.1:8188' },
    'comfy-checkpoint': { type: 'string' },
    'comfy-motion-model': { type: 'string' },
    size: { type: 'string', default: '64' },
    frames: { type: 'string', default: '16' },
    segments: { type: 'string', default: '1' },
    threads: { type: 'string' },
  },
});
const size = Number(values.size);
const frames = Number(values.frames);
const segments = Math.max(1, Number(values.segments));

function jobFor(i: number): SegmentJob {
  const motion = Array.from({ length: frames }, (_, k) => SEGMENT_MOTION[k % SEGMENT_MOTION.length]!);
  return { ...segmentJob(size, frames, 1, motion), index: i, seed: 100 + i };
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

async function timeSegments(
  engine: RenderEngine,
  afterSegment?: () => void,
): Promise<{ warmUpSec: number; meanSec: number; all: number[] }> {
  const render = async (job: SegmentJob): Promise<number> => {
    const workDir = await mkdtemp(join(tmpdir(), 'beatloom-native-bench-'));
    const started = performance.now();
    await engine.renderSegment(job, { workDir });
    const sec = (performance.now() - started) / 1000;
    await rm(workDir, { recursive: true, force: true });
    return sec;
  };
  const warmUp = jobFor(segments);
  const warmUpSec = await render({
    ...warmUp,
    frameCount: 1,
    motion:
      warmUp.motion.kind === 'perFrame'
        ? { kind: 'perFrame', scales: warmUp.motion.scales.slice(0, 1) }
        : warmUp.motion,
  });
  afterSegment?.();
  const all: number[] = [];
  for (let i = 0; i < segments; i++) {
    all.push(await render(jobFor(i)));
    afterSegment?.();
  }
  return { warmUpSec, meanSec: mean(all), all };
}

async function comfyAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/system_stats`, { signal: AbortSignal.timeout(3000) });
    return response.ok;
  } catch {
    return false;
  }
}

function comfyServerPeakRssMb(): number | undefined {
  try {
    const pid = readFileSync(join(ROOT, '..', 'server.pid'), 'utf8').trim();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  let checkpoint = values.checkpoint;
  let motionModel = values['motion-model'];
  let scratch: string | undefined;
  if (!values.tiny && checkpoint === undefined && existsSync(REAL_CHECKPOINT) && existsSync(REAL_MOTION)) {
    checkpoint = REAL_CHECKPOINT;
    motionModel ??= REAL_MOTION;
  }
  const tiny = checkpoint === undefined;
  if (tiny) {
    scratch = await mkdtemp(join(tmpdir(), 'beatloom-native-bench-models-'));
    const models = await writeTinyModels(scratch);
    checkpoint = models.checkpointPath;
    motionModel = models.motionModulePath;
  }
  const cacheDir = values['cache-dir'] ?? join(scratch ?? tmpdir(), 'beatloom-native-bench-graphs');
  process.stdout.write(
    `native engine bench: ${frames} frames ${size}×${size}, 4 steps, cfg 1, ${segments} segment(s) each after a 1-frame warm-up\n` +
      `models: ${tiny ? 'tiny test model' : `${basename(checkpoint!)} + ${basename(motionModel!)}`}\n`,
  );

  const native = createNativeEngine({
    checkpoint,
    motionModel,
    cacheDir,
    provider: 'cpu',
    steps: 4,
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  const preparedNative = await native.prepare({});
  const deployment = await native.deployment();
  // Time inside onnxruntime, to tell the model's time from beatloom's own.
  let modelMs = 0;
  for (const session of Object.values(deployment.sessions) as InferenceSession[]) {
    const run = session.run.bind(session);
    session.run = (async (...args: Parameters<typeof run>) => {
      const started = performance.now();
      try {
        return await run(...args);
      } finally {
        modelMs += performance.now() - started;
      }
    }) as typeof session.run;
  }
  const modelTimes: number[] = [];
  let counted = 0;
  const nativeTimes = await timeSegments(preparedNative, () => {
    modelTimes.push(modelMs - counted);
    counted = modelMs;
  });
  const laterModelSec = mean(modelTimes.slice(1)) / 1000; // the warm-up's left out
  const overheadPct = ((nativeTimes.meanSec - laterModelSec) / laterModelSec) * 100;
  const nativeRssMb = process.resourceUsage().maxRSS / 1024;
  await native.close();

  const report: Record<string, unknown> = {
    frames,
    size,
    steps: 4,
    models: tiny ? 'tiny' : 'sd15_random + animatediff_lightning_4step_comfyui',
    native: {
      graphBuildSec: deployment.buildMs / 1000,
      sessionLoadSec: deployment.loadMs / 1000,
      warmUpSec: nativeTimes.warmUpSec,
      segmentSec: nativeTimes.meanSec,
      onnxruntimeSec: laterModelSec,
      overheadPercent: overheadPct,
      peakRssMb: nativeRssMb,
    },
  };

  const url = values['comfy-url'];
  if (!tiny && (await comfyAnswers(url))) {
    const comfy = createComfyEngine({
      url,
      checkpoint: values['comfy-checkpoint'] ?? basename(checkpoint!),
      motionModel: values['comfy-motion-model'] ?? basename(motionModel!),
      steps: 4,
    });
    const comfyTimes = await timeSegments(await comfy.prepare({}));
    await comfy.close();
    report.comfyui = {
      url,
      warmUpSec: comfyTimes.warmUpSec,
      segmentSec: comfyTimes.meanSec,
      serverPeakRssMb: comfyServerPeakRssMb(),
    };
    report.ratio = nativeTimes.meanSec / comfyTimes.meanSec;
  } else {
    report.comfyui = tiny ? 'skipped (tiny model)' : `skipped (${url} does not answer)`;
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (scratch) await rm(scratch, { recursive: true, force: true });
}

await main();
