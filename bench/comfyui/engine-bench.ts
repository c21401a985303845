/**
 * ComfyUI engine benchmark: beatloom's own overhead per segment and how busy it keeps the GPU.
 *
 * Fake ComfyUI servers (test/comfyui/serve.ts, each in its own process, as a real server would
 * be) take a fixed time per segment (`--segment-ms`) and return 16 frames of realistic PNG size
 * (noisy 512×512, ≈ 450 kB like SD 1.5 frames). Segments go through the real pipeline path:
 * renderSegments → comfyui engine → HTTP/WebSocket → /view → checked frames in a run directory.
 *
 *   utilisation = time the servers spent rendering / (wall time × servers)
 *   overhead    = (wall time × servers − rendering time) / segments   (GPU time lost per segment)
 *   speed-up    = wall time with 1 server / wall time with 4 servers  (same segments)
 *
 * Each case runs once untimed (warm-up), then `--repeat` times; the best (shortest) is reported.
 *
 *   npm run bench:engine -- [--segment-ms 3000] [--segments 24] [--repeat 3] [--size 512]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createComfyEngine } from '../../src/engines/comfyui/engine.js';
import type { RenderPlan } from '../../src/pipeline/render-plan.js';
import { renderSegments } from '../../src/pipeline/render-segments.js';
import { openRunDir } from '../../src/pipeline/run-dir.js';

const { values } = parseArgs({
  options: {
    'segment-ms': { type: 'string', default: '3000' },
    segments: { type: 'string', default: '24' },
    repeat: { type: 'string', default: '3' },
    size: { type: 'string', default: '512' },
    'anchor-every': { type: 'string', default: '6' },
  },
});
const SEGMENT_MS = Number(values['segment-ms']);
const SEGMENTS = Number(values.segments);
const REPEAT = Number(values.repeat);
const SIZE = Number(values.size);
const ANCHOR_EVERY = Number(values['anchor-every']);
const SERVE = fileURLToPath(new URL('../../test/comfyui/serve.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
}

async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, [TSX, SERVE, '--port', '0', '--segment-ms', String(SEGMENT_MS), '--history-delay-ms', '0', '--frames', 'noise'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
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
  const prompts = (await (await fetch(`${server.url}/fake/prompts`)).json()) as Array<{ id: string; busyMs: number | null }>;
  return new Map(prompts.map((p) => [p.id, p.busyMs ?? 0]));
}

let planCounter = 0;
function plan(continuity: 'none' | 'anchor'): RenderPlan {
  const run = planCounter++;
  return {
    version: 1,
    engine: 'comfyui',
    fps: '8',
    frameCount: SEGMENTS * 14 + 2,
    width: SIZE,
    height: SIZE,
    continuity,
    jobs: Array.from({ length: SEGMENTS }, (_, index) => {
      const anchor = index - (index % ANCHOR_EVERY);
      return {
        index,
        hash: `bench-${run}-${index}`,
        startFrame: index * 14,
        frameCount: 16,
        leadFrame: index * 14,
        crossfadeFrames: 2,
        fps: '8',
        width: SIZE,
        height: SIZE,
        prompt: 'neon city, rain',
        negativePrompt: 'blurry',
        seed: 1000 + index,
        denoise: 0.6,
        cfg: 1,
        steps: 4,
        motionScale: 1.1,
        motionScalePerFrame: Array.from({ length: 16 }, (_, i) => 1 + i / 30),
        continuity,
        section: `s${anchor}`,
        initFrom: continuity === 'anchor' && anchor !== index ? anchor : null,
      };
    }),
  };
}

interface Measurement {
  readonly wallMs: number;
  readonly busyMs: number;
}

async function runOnce(servers: Server[], continuity: 'none' | 'anchor', queueDepth: number): Promise<Measurement> {
  const engine = createComfyEngine({ url: servers.map((s) => s.url), queueDepth });
  const root = await mkdtemp(join(tmpdir(), 'beatloom-bench-'));
  try {
    await engine.prepare({});
    const run = await openRunDir(root);
    const before = await Promise.all(servers.map(busyTimes));
    const started = performance.now();
    const summary = await renderSegments(plan(continuity), engine, run);
    const wallMs = performance.now() - started;
    if (summary.rendered !== SEGMENTS) throw new Error(`rendered ${summary.rendered} of ${SEGMENTS}`);
    const after = await Promise.all(servers.map(busyTimes));
    let busyMs = 0;
    after.forEach((times, i) => times.forEach((ms, id) => (busyMs += before[i]!.has(id) ? 0 : ms)));
    return { wallMs, busyMs };
  } finally {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function best(servers: Server[], continuity: 'none' | 'anchor', queueDepth: number): Promise<Measurement> {
  await runOnce(servers, continuity, queueDepth);
  let bestRun: Measurement | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const m = await runOnce(servers, continuity, queueDepth);
    if (!bestRun || m.wallMs < bestRun.wallMs) bestRun = m;
  }
  return bestRun!;
}

function row(label: string, servers: number, depth: number, m: Measurement, speedup?: number): string {
  const utilisation = m.busyMs / (m.wallMs * servers);
  const overhead = (m.wallMs * servers - m.busyMs) / SEGMENTS;
  return [
    label.padEnd(18),
    String(servers).padStart(7),
    String(depth).padStart(11),
    `${(m.wallMs / 1000).toFixed(2)} s`.padStart(9),
    `${(utilisation * 100).toFixed(1)} %`.padStart(11),
    `${overhead.toFixed(1)} ms`.padStart(18),
    speedup === undefined ? '' : `${speedup.toFixed(2)}×`.padStart(8),
  ].join('  ');
}

const servers = await Promise.all(Array.from({ length: 4 }, startServer));
try {
  console.log(`ComfyUI engine benchmark: ${SEGMENTS} segments of 16 frames at ${SIZE}×${SIZE}, ${SEGMENT_MS} ms per segment on each fake server, best of ${REPEAT}`);
  console.log(`(${cpus().length} CPU cores, shared with other work; each fake server is its own process)`);
  console.log(['case'.padEnd(18), 'servers', 'queue depth', 'wall'.padStart(9), 'utilisation'.padStart(11), 'GPU idle / segment'.padStart(18), 'speed-up'.padStart(8)].join('  '));
  const results = new Map<string, Measurement>();
  for (const depth of [1, 2]) {
    for (const continuity of ['none', 'anchor'] as const) {
      for (const count of [1, 4]) {
        const m = await best(servers.slice(0, count), continuity, depth);
        results.set(`${continuity}/${count}/${depth}`, m);
        const single = results.get(`${continuity}/1/${depth}`)!;
        console.log(row(`continuity ${continuity}`, count, depth, m, count === 1 ? undefined : single.wallMs / m.wallMs));
      }
    }
  }
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
}
