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
 * The queue depth (segments each server holds: one running, the rest queued) defaults to the
 * engine's; `--queue-depth 1` shows what one segment at a time per server would give.
 *
 *   npm run bench:engine -- [--segment-ms 3000] [--segments 24] [--repeat 2] [--size 512] [--queue-depth 2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createComfyEngine } from '../../src/engines/comfyui/engine.js';
import { DEFAULT_QUEUE_DEPTH } from '../../src/engines/comfyui/settings.js';
import type { RenderPlan } from '../../src/pipeline/render-plan.js';
import { renderSegments } from '../../src/pipeline/render-segments.js';
import { openRunDir } from '../../src/run/run-dir.js';
import { rational } from '../../src/shared/media-time.js';

const { values } = parseArgs({
  options: {
    'segment-ms': { type: 'string', default: '3000' },
    segments: { type: 'string', default: '24' },
    repeat: { type: 'string', default: '2' },
    'queue-depth': { type: 'string', default: String(DEFAULT_QUEUE_DEPTH) },
    size: { type: 'string', default: '512' },
    'anchor-every': { type: 'string', default: '6' },
  },
});
const SEGMENT_MS = Number(values['segment-ms']);
const SEGMENTS = Number(values.segments);
const REPEAT = Number(values.repeat);
const SIZE = Number(values.size);
const ANCHOR_EVERY = Number(values['anchor-every']);
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
    [TSX, SERVE, '--port', '0', '--segment-ms', String(SEGMENT_MS), '--history-delay-ms', '0', '--frames', 'noise'],
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

let planCounter = 0;
function plan(continuity: 'none' | 'anchor', segments: number): RenderPlan {
  const run = planCounter++;
  return {
    version: 1,
    engine: 'comfyui',
    fps: rational(8),
    frameCount: segments * 14 + 2,
    width: SIZE,
    height: SIZE,
    continuity,
    notices: [],
    jobs: Array.from({ length: segments }, (_, index) => {
      const anchor = index - (index % ANCHOR_EVERY);
      return {
        index,
        hash: `bench-${run}-${index}`,
        startFrame: index * 14,
        frameCount: 16,
        leadFrame: index * 14,
        crossfadeFrames: 2,
        fps: rational(8),
        width: SIZE,
        height: SIZE,
        prompt: 'neon city, rain',
        promptBlend: [{ prompt: 'neon city, rain', negativePrompt: '', weight: 1 }],
        loras: [],
        negativePrompt: 'blurry',
        seed: 1000 + index,
        noiseFrame: 0,
        heldFrames: 0,
        denoise: 0.6,
        cfg: 1,
        steps: 4,
        motion: { kind: 'perFrame', scales: Array.from({ length: 16 }, (_, i) => 1 + i / 30) },
        continuity,
        section: `s${anchor}`,
        initFrom: continuity === 'anchor' && anchor !== index ? anchor : null,
        holdFrom: null,
      };
    }),
  };
}

interface Measurement {
  readonly wallMs: number;
  readonly busyMs: number;
}

async function runOnce(
  servers: Server[],
  continuity: 'none' | 'anchor',
  queueDepth: number,
  segments = SEGMENTS,
): Promise<Measurement> {
  const engine = createComfyEngine({ url: servers.map((s) => s.url), queueDepth });
  const root = await mkdtemp(join(tmpdir(), 'beatloom-bench-'));
  try {
    const prepared = await engine.prepare({});
    const run = await openRunDir(root);
    const before = await Promise.all(servers.map(busyTimes));
    const started = performance.now();
    const summary = await renderSegments(plan(continuity, segments), prepared, run);
    const wallMs = performance.now() - started;
    if (summary.rendered !== segments) throw new Error(`rendered ${summary.rendered} of ${segments}`);
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
  // A short untimed run warms up the JIT, the sockets and the servers' frame cache.
  await runOnce(servers, continuity, queueDepth, Math.min(SEGMENTS, 2 * servers.length));
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
  console.log(
    `ComfyUI engine benchmark: ${SEGMENTS} segments of 16 frames at ${SIZE}×${SIZE}, ${SEGMENT_MS} ms per segment on each fake server, best of ${REPEAT}`,
  );
  console.log(`(${cpus().length} CPU cores, shared with other work; each fake server is its own process)`);
  console.log(
    [
      'case'.padEnd(18),
      'servers',
      'queue depth',
      'wall'.padStart(9),
      'utilisation'.padStart(11),
      'GPU idle / segment'.padStart(18),
      'speed-up'.padStart(8),
    ].join('  '),
  );
  for (const continuity of ['none', 'anchor'] as const) {
    const single = await best(servers.slice(0, 1), continuity, QUEUE_DEPTH);
    console.log(row(`continuity ${continuity}`, 1, QUEUE_DEPTH, single));
    const four = await best(servers, continuity, QUEUE_DEPTH);
    console.log(row(`continuity ${continuity}`, 4, QUEUE_DEPTH, four, single.wallMs / four.wallMs));
  }
  // With anchors, a section's segments wait for its anchor: 4 servers cannot quite make 4× fewer rounds.
  const sections = Math.ceil(SEGMENTS / ANCHOR_EVERY);
  const anchorRounds = Math.ceil(sections / 4) + Math.ceil((SEGMENTS - sections) / 4);
  console.log(
    `(anchor every ${ANCHOR_EVERY} segments: ${SEGMENTS} rounds on 1 server, at best ${anchorRounds} on 4: a ${(SEGMENTS / anchorRounds).toFixed(2)}× ceiling)`,
  );
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
}
