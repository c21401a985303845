/**
 * Long songs: how the pipeline scales with an hour of audio. Makes a one-hour mp3 (a 32 s loop
 * of loud and quiet bars), then runs the CLI as a child process, each stage on its own:
 *   1. `--dry-run` on an empty run directory: decode + analysis + keyframes + plan (+ calibration);
 *   2. the render with the analysis cached: every segment with the preview engine, then the stitch;
 *   3. the same command again: everything reused, the video up to date.
 * It prints wall time and the beatloom process's peak RSS (ffmpeg's own memory not included),
 * the artifact sizes and run.json's stage timings. Each stage runs --repeat times (default 2);
 * the fastest run is reported. The machine may be shared: figures are best-of, not typical.
 *
 *   npm run bench:long -- [--minutes 60] [--size 128x128] [--repeat 2]
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';

const run = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

const minutes = Number(option('minutes', '60'));
const size = option('size', '128x128');
const repeat = Math.max(1, Number(option('repeat', '2')));
const work = join(tmpdir(), 'beatloom-bench-long');

async function makeSong(): Promise<string> {
  const song = join(work, `song-${minutes}min.mp3`);
  if (existsSync(song)) return song;
  await mkdir(work, { recursive: true });
  const loop = join(work, 'loop.wav');
  const p = 0.5; // 120 BPM
  const tone = `(sin(2*PI*60*mod(t,${p}))*exp(-18*mod(t,${p}))+0.5*sin(2*PI*2500*mod(t,${p}))*exp(-120*mod(t,${p})))`;
  await run(ffmpegPath(), [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `aevalsrc='if(lt(mod(t,32),16),0.15,0.8)*${tone}':s=44100:d=32`,
    '-c:a',
    'pcm_s16le',
    loop,
  ]);
  await run(ffmpegPath(), [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-stream_loop',
    '-1',
    '-i',
    loop,
    '-t',
    String(minutes * 60),
    '-c:a',
    'libmp3lame',
    '-b:a',
    '128k',
    song,
  ]);
  return song;
}

interface Measured {
  readonly wallSec: number;
  readonly maxRssMb: number;
  readonly code: number;
}

/** Runs the CLI in a child node that reports its own peak RSS (process.resourceUsage) on exit. */
function measureCli(args: readonly string[]): Promise<Measured> {
  const script = `const { main } = await import(${JSON.stringify(join(ROOT, 'dist/cli/main.js'))});
const code = await main(['node', 'beatloom', ...JSON.parse(process.env.BENCH_ARGS)]);
process.stderr.write('\\nBENCH_RSS_KB ' + process.resourceUsage().maxRSS + '\\n');
process.exitCode = code;`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, BENCH_ARGS: JSON.stringify(args) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('close', (code) => {
      const rss = /BENCH_RSS_KB (\d+)/.exec(stderr);
      if (code !== 0 || !rss)
        return reject(new Error(`beatloom ${args.join(' ')} failed (${code}):\n${stderr.slice(-2000)}`));
      resolve({ wallSec: (performance.now() - started) / 1000, maxRssMb: Number(rss[1]) / 1024, code });
    });
  });
}

async function best(label: string, before: () => Promise<void>, args: readonly string[]): Promise<Measured> {
  const runs: Measured[] = [];
  for (let i = 0; i < repeat; i++) {
    await before();
    runs.push(await measureCli(args));
  }
  const fastest = runs.reduce((a, b) => (b.wallSec < a.wallSec ? b : a));
  console.log(
    `${label.padEnd(44)} ${fastest.wallSec.toFixed(1).padStart(7)} s  peak RSS ${fastest.maxRssMb.toFixed(0).padStart(5)} MB   (best of ${repeat}: ${runs.map((r) => r.wallSec.toFixed(1)).join(', ')} s)`,
  );
  return fastest;
}

async function sizeMb(path: string): Promise<string> {
  return `${((await stat(path)).size / 1e6).toFixed(1)} MB`;
}

const song = await makeSong();
const runDir = join(work, `run-${minutes}min-${size}`);
const base = ['render', song, '--prompt', 'neon city, rain', '--size', size, '--run-dir', runDir, '-q'];
console.log(
  `${minutes}-minute song (${await sizeMb(song)} mp3), preview engine at ${size}, 8 fps; node ${process.version}; the machine may be shared`,
);

await best('dry run, cold (decode + analysis + plan)', () => rm(runDir, { recursive: true, force: true }), [
  ...base,
  '--dry-run',
]);
await best('dry run, analysis cached', async () => undefined, [...base, '--dry-run']);
await best(
  'render + stitch, analysis cached',
  async () => {
    await rm(join(runDir, 'segments'), { recursive: true, force: true });
    await rm(join(runDir, 'out.mp4'), { force: true });
    await rm(join(runDir, 'run.json'), { force: true });
  },
  base,
);
const record = JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8')) as {
  timings: Record<string, unknown>;
  segments: unknown;
  video: unknown;
};
await best('same command again (all reused, up to date)', async () => undefined, base);

const segments = (await readdir(join(runDir, 'segments'))).length;
console.log(`video: ${JSON.stringify(record.video)}; ${segments} segments`);
console.log(`render run.json timings (ms): ${JSON.stringify(record.timings)}`);
for (const name of ['analysis.json', 'keyframes.json', 'plan.json', 'run.json', 'out.mp4'])
  console.log(`  ${name.padEnd(15)} ${await sizeMb(join(runDir, name))}`);
