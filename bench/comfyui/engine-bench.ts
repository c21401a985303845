/**
 * ComfyUI engine benchmark: beatloom's own overhead per segment and how busy it keeps the GPU.
 *
 * Fake ComfyUI servers (test/comfyui/serve.ts, each in its own process, as a real server would
 * be) spend a fixed time per frame per sampler step (`--frame-step-ms`; a take's context windows
 * compute their shared frames twice) and return frames of realistic PNG size (noisy 512×512,
 * ≈ 450 kB like SD 1.5 frames). One song is planned by the real planner for every continuity and
 * rendered through the real path: renderSegments → comfyui engine → HTTP/WebSocket → /view →
 * checked frames (and, for continuations, the held latents) in a run directory.
 *
 *   engine fr/out = frames sampled / output frames (what overlaps cost)
 *   utilisation   = time the servers spent rendering / (wall time × servers)
 *   GPU idle/job  = (wall time × servers − rendering time) / jobs
 *   speed-up      = wall time with 1 server / wall time with 4 servers  (same plan)
 *
 * One untimed warm-up, then `--repeat` runs per case; the best (shortest) is reported.
 *
 * The queue depth (segments each server holds: one running, the rest queued) defaults to the
 * engine's; `--queue-depth 1` shows what one segment at a time per server would give.
 *
 *   npm run bench:engine -- [--frame-step-ms 12] [--segments 24] [--section 6] [--repeat 2] [--size 512] [--queue-depth 2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createComfyEngine } from '../../src/engines/comfyui/engine.js';
import { TAKE_CONTEXT } from '../../src/engines/comfyui/workflow.js';
import { modelFrames } from '../../test/comfyui/execute-graph.js';
import { DEFAULT_QUEUE_DEPTH } from '../../src/engines/comfyui/settings.js';
import { CONTINUITIES, type Continuity } from '../../src/engines/engine.js';
import type { Keyframes } from '../../src/keyframes/keyframes-schema.js';
import { buildRenderPlan } from '../../src/pipeline/render-plan.js';
import { renderSegments } from '../../src/pipeline/render-segments.js';
import { openRunDir } from '../../src/run/run-dir.js';
import { rational } from '../../src/shared/media-time.js';

const { values } = parseArgs({
  options: {
    segments: { type: 'string', default: '24' },
    repeat: { type: 'string', default: '2' },
    'queue-depth': { type: 'string', default: String(DEFAULT_QUEUE_DEPTH) },
    size: { type: 'string', default: '512' },
    section: { type: 'string', default: '6' },
    'frame-step-ms': { type: 'string', default: '12' },
  },
});
const FRAME_STEP_MS = Number(values['frame-step-ms']);
const SEGMENTS = Number(values.segments);
const REPEAT = Number(values.repeat);
const SIZE = Number(values.size);
const SECTION = Number(values.section);
const QUEUE_DEPTH = Number(values['queue-depth']);
const SERVE = fileURLToPath(new URL('../../test/comfyui/serve.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
}

async function startServer(): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      TSX,
      SERVE,
      '--port',
      '0',
      '--frame-step-ms',
      String(FRAME_STEP_MS),
      '--history-delay-ms',
      '0',
      '--frames',
      'noise',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`fake server exited (${code})`)));
  });
  return { url, child };
}

/** Rendering time per prompt as the server measured it. */
async function busyTimes(server: Server): Promise<Map<string, number>> {
  const prompts = (await (await fetch(`${server.url}/fake/prompts`)).json()) as Array<{
    id: string;
    busyMs: number | null;
  }>;
  return new Map(prompts.map((p) => [p.id, p.busyMs ?? 0]));
}

/**
 * A song's keyframes: SEGMENTS segments of 16 frames at stride 12 (4 shared), a new seed (a
 * section) every SECTION segments, one prompt; the plan is then built for each continuity by the
 * real planner, for the engine as prepared.
 */
function keyframes(continuity: Continuity): Keyframes {
  const frameCount = (SEGMENTS - 1) * 12 + 16;
  const segments = Array.from({ length: SEGMENTS }, (_, index) => ({
    index,
    startFrame: index * 12,
    frameCount: 16,
    leadFrame: index === 0 ? 0 : index * 12 + 2,
    crossfadeFrames: index === 0 ? 0 : 2,
    section: `s${Math.floor(index / SECTION)}`,
    motionScale: 1,
    denoise: 0.6,
    cfg: 1,
    seed: 1000 + Math.floor(index / SECTION),
    prompt: 'neon city, rain',
    negativePrompt: 'blurry',
    promptBlend: [{ prompt: 'neon city, rain', negativePrompt: 'blurry', weight: 1 }],
    loras: [],
  }));
  return {
    version: 2,
    fps: rational(8),
    frameCount,
    durationSec: frameCount / 8,
    sampleCount: frameCount * 2756,
    sampleRateHz: 22050,
    continuity,
    takeFrames: 192,
    bpm: 120,
    beatsPerBar: 4,
    warnings: [],
    signals: {},
    curves: {
      motionScale: Array.from({ length: frameCount }, (_, f) => 1 + (f % 16) / 30),
      denoise: new Array<number>(frameCount).fill(0.6),
      cfg: new Array<number>(frameCount).fill(1),
      loras: {},
    },
    prompts: [{ prompt: 'neon city, rain', negativePrompt: 'blurry', weights: new Array<number>(frameCount).fill(1) }],
    promptChanges: [],
    segments,
  };
}

interface Measurement {
  readonly wallMs: number;
  readonly busyMs: number;
  readonly jobs: number;
  readonly engineFrames: number;
  /** Frames the model computes: a take's context windows (16, 4 shared) compute their shared frames twice. */
  readonly modelFrames: number;
  readonly outputFrames: number;
  /** beatloom's own CPU time (this process), per job. */
  readonly cpuMsPerJob: number;
}

async function runOnce(servers: Server[], continuity: Continuity, queueDepth: number): Promise<Measurement> {
  const engine = createComfyEngine({ url: servers.map((s) => s.url), queueDepth });
  const root = await mkdtemp(join(tmpdir(), 'beatloom-bench-'));
  try {
    const prepared = await engine.prepare({});
    const plan = buildRenderPlan(keyframes(continuity), {
      engineId: prepared.id,
      engineFingerprint: prepared.settingsFingerprint,
      width: SIZE,
      height: SIZE,
      steps: prepared.sampler.steps,
      capabilities: prepared.capabilities,
    });
    const run = await openRunDir(root);
    const before = await Promise.all(servers.map(busyTimes));
    const cpu = process.cpuUsage();
    const started = performance.now();
    const summary = await renderSegments(plan, prepared, run);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (summary.rendered !== plan.jobs.length) throw new Error(`rendered ${summary.rendered} of ${plan.jobs.length}`);
    const after = await Promise.all(servers.map(busyTimes));
    let busyMs = 0;
    after.forEach((times, i) => times.forEach((ms, id) => (busyMs += before[i]!.has(id) ? 0 : ms)));
    return {
      wallMs,
      busyMs,
      jobs: plan.jobs.length,
      engineFrames: plan.jobs.reduce((sum, job) => sum + job.frameCount, 0),
      modelFrames: plan.jobs.reduce(
        (sum, job) => sum + modelFrames(job.frameCount, job.continuity === 'take' ? TAKE_CONTEXT : undefined),
        0,
      ),
      outputFrames: plan.frameCount,
      cpuMsPerJob: (used.user + used.system) / 1000 / plan.jobs.length,
    };
  } finally {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  }
}
async function best(servers: Server[], continuity: Continuity, queueDepth: number): Promise<Measurement> {
  let bestRun: Measurement | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const m = await runOnce(servers, continuity, queueDepth);
    if (!bestRun || m.wallMs < bestRun.wallMs) bestRun = m;
  }
  return bestRun!;
}

function row(label: string, servers: number, m: Measurement, speedup?: number): string {
  const utilisation = m.busyMs / (m.wallMs * servers);
  const idle = (m.wallMs * servers - m.busyMs) / m.jobs;
  return [
    label.padEnd(10),
    String(servers).padStart(7),
    String(m.jobs).padStart(4),
    (m.engineFrames / m.outputFrames).toFixed(2).padStart(14),
    (m.modelFrames / m.outputFrames).toFixed(2).padStart(13),
    `${(m.wallMs / 1000).toFixed(2)} s`.padStart(9),
    `${(m.busyMs / 1000).toFixed(2)} s`.padStart(9),
    `${(utilisation * 100).toFixed(1)} %`.padStart(11),
    `${idle.toFixed(0)} ms`.padStart(14),
    `${m.cpuMsPerJob.toFixed(1)} ms`.padStart(13),
    speedup === undefined ? '' : `${speedup.toFixed(2)}×`.padStart(8),
  ].join('  ');
}

const servers = await Promise.all(Array.from({ length: 4 }, startServer));
try {
  console.log(
    `ComfyUI engine benchmark: a song of ${SEGMENTS} segments (16 frames, 4 shared, a new seed every ${SECTION}) at ${SIZE}×${SIZE}; ` +
      `each fake server spends ${FRAME_STEP_MS} ms per frame per sampler step (context windows count their shared frames twice), best of ${REPEAT}`,
  );
  console.log(
    `(${cpus().length} CPU cores, shared with other work; each fake server is its own process; queue depth ${QUEUE_DEPTH})`,
  );
  console.log(
    [
      'continuity'.padEnd(10),
      'servers',
      'jobs',
      'engine fr/out'.padStart(14),
      'model fr/out'.padStart(13),
      'wall'.padStart(9),
      'GPU busy'.padStart(9),
      'utilisation'.padStart(11),
      'GPU idle / job'.padStart(14),
      'beatloom CPU'.padStart(13),
      'speed-up'.padStart(8),
    ].join('  '),
  );
  // One untimed run warms up the JIT, the sockets and the servers' frame cache.
  await runOnce(servers.slice(0, 1), 'none', QUEUE_DEPTH);
  for (const continuity of CONTINUITIES) {
    const single = await best(servers.slice(0, 1), continuity, QUEUE_DEPTH);
    console.log(row(continuity, 1, single));
    const four = await best(servers, continuity, QUEUE_DEPTH);
    console.log(row(continuity, 4, four, single.wallMs / four.wallMs));
  }
  console.log(
    '(engine fr/out: frames the jobs hold per output frame; model fr/out: frames the model computes per output frame; GPU idle / job: (wall × servers − busy) / jobs; beatloom CPU: this process per job.\n' +
      ' continue and chain render a seed in order, so 4 servers help only across seeds; a take is one job per seed.)',
  );
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
}
