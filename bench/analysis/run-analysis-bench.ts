/**
 * `npm run bench:analysis`: accuracy and speed of `beatloom analyze` on a beats-public style set.
 *
 *   npm run bench:analysis -- [--set DIR] [--out DIR] [--only id,id] [--repeat N] [--no-speed] [--long]
 *
 * 1. Analyses every item of the set (decode included), writes `OUT/<id>.json` in score.py's format
 *    and prints score.py's tables computed by our own metrics (mir-metrics.ts).
 *    Sections: boundary hit rates against the set's annotated sections (score-sections.ts).
 * 2. Where `/usr/bin/python3` has mir_eval, runs score.py on the same estimates and prints its
 *    summary line next to ours, with the largest difference.
 * 3. Speed: a 5-minute MP3 made from the set's songs, analysed `--repeat` times in this process;
 *    the best run of each figure is reported: wall time, and CPU time (ours + ffmpeg's), with the
 *    median run's CPU time beside it.
 * 4. `--long`: a 1-hour MP3 (the 5-minute one looped), analysed in a child process that reports
 *    its peak resident memory.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { analysisEvents } from '../../src/analysis/analysis-events.js';
import { analyzeFile } from '../../src/analysis/analyze.js';
import { ffmpegPath } from '../../src/ffmpeg/ffmpeg-path.js';
import { cpuSince, cpuTime } from './cpu-time.js';
import { formatSections, type SectionsOfSong } from './score-sections.js';
import {
  formatReport,
  overallOf,
  readGroundTruth,
  readManifest,
  scoreItem,
  summaryLine,
  type ScoredItem,
} from './score-set.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Flags {
  set: string;
  out: string;
  only: string[] | undefined;
  repeat: number;
  speed: boolean;
  long: boolean;
}

function parseFlags(argv: readonly string[]): Flags {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const candidates = [
    value('--set'),
    process.env.BEATLOOM_BENCH_SET,
    join(ROOT, '../shared/bench/beats-public'),
    join(ROOT, '../../shared/bench/beats-public'),
  ];
  const set = candidates.find((c): c is string => c !== undefined && existsSync(join(c, 'manifest.json')));
  if (set === undefined) {
    throw new Error(
      'no beats-public set found: pass --set DIR (a folder with manifest.json) or set BEATLOOM_BENCH_SET',
    );
  }
  return {
    set: resolve(set),
    out: resolve(value('--out') ?? join(ROOT, '.bench-out/analysis/est')),
    only: value('--only')?.split(','),
    repeat: Number(value('--repeat') ?? 5),
    speed: !argv.includes('--no-speed'),
    long: argv.includes('--long'),
  };
}

async function scoreSet(flags: Flags): Promise<{ results: ScoredItem[]; sections: SectionsOfSong[] }> {
  const items = (await readManifest(flags.set)).filter((i) => !flags.only || flags.only.includes(i.id));
  await mkdir(flags.out, { recursive: true });
  const results: ScoredItem[] = [];
  const sections: SectionsOfSong[] = [];
  for (const item of items) {
    const started = performance.now();
    const analysis = await analyzeFile(join(flags.set, item.audio));
    const wallSec = (performance.now() - started) / 1000;
    const events = analysisEvents(analysis);
    await writeFile(join(flags.out, `${item.id}.json`), `${JSON.stringify(events)}\n`);
    const gt = await readGroundTruth(flags.set, item);
    results.push({
      item,
      score: scoreItem(gt, events),
      bpm: events.bpm,
      refBpm: gt.bpm ?? null,
      speed: analysis.source.durationSec / wallSec,
    });
    if (item.kind === 'song') sections.push({ id: item.id, truth: gt.sections ?? [], ours: analysis.sections });
  }
  return { results, sections };
}

/** score.py's last line for the same estimates, or why it could not run. */
async function referenceSummary(flags: Flags): Promise<string | undefined> {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return undefined;
  // A set without its own scorer (real-public) is scored by beats-public's, which its README names.
  const scorer = [join(flags.set, 'score.py'), join(flags.set, '../beats-public/score.py')].find((p) => existsSync(p));
  if (scorer === undefined) return 'score.py did not run: no score.py in the set or beside it in ../beats-public';
  try {
    const { stdout } = await run(python, [scorer, flags.out, '--root', flags.set], {
      maxBuffer: 1 << 24,
    });
    return stdout.trim().split('\n').at(-1);
  } catch (error) {
    return `score.py did not run: ${(error as Error).message.split('\n')[0]}`;
  }
}

function parseSummary(line: string): Record<string, number> {
  return Object.fromEntries([...line.matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** A 5-minute MP3 (192 kb/s, 44.1 kHz stereo) made by concatenating the set's songs. */
async function makeFiveMinuteMp3(flags: Flags, path: string): Promise<void> {
  if (existsSync(path)) return;
  const items = (await readManifest(flags.set)).filter((i) => i.kind === 'song');
  const inputs = items.flatMap((i) => ['-i', join(flags.set, i.audio)]);
  const filter = `${items.map((_, k) => `[${k}:a:0]`).join('')}concat=n=${items.length}:v=0:a=1,atrim=0:300[a]`;
  await mkdir(dirname(path), { recursive: true });
  await run(ffmpegPath(), [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'error',
    ...inputs,
    '-filter_complex',
    filter,
    '-map',
    '[a]',
    '-ar',
    '44100',
    '-ac',
    '2',
    '-b:a',
    '192k',
    path,
  ]);
}

async function measureSpeed(flags: Flags): Promise<string[]> {
  const path = join(ROOT, '.bench-out/analysis/five-minutes.mp3');
  await makeFiveMinuteMp3(flags, path);
  const runs: Array<{ wallSec: number; selfSec: number; childrenSec: number; durationSec: number }> = [];
  await analyzeFile(path); // warm-up: JIT and page cache
  for (let r = 0; r < flags.repeat; r++) {
    const cpu = cpuTime();
    const started = performance.now();
    const analysis = await analyzeFile(path);
    const wallSec = (performance.now() - started) / 1000;
    runs.push({ wallSec, ...cpuSince(cpu), durationSec: analysis.source.durationSec });
  }
  // On a shared machine every figure is inflated by other load, each run differently: the best
  // run of each figure (wall, CPU) is the closest to what the code itself costs.
  const cpuOf = (r: (typeof runs)[number]): number => r.selfSec + r.childrenSec;
  const byWall = runs.reduce((a, b) => (b.wallSec < a.wallSec ? b : a));
  const byCpu = runs.reduce((a, b) => (cpuOf(b) < cpuOf(a) ? b : a));
  const median = (values: number[]): number => values.sort((a, b) => a - b)[values.length >> 1]!;
  const d = byCpu.durationSec;
  return [
    `speed: 5-minute MP3 (${d.toFixed(1)} s, 192 kb/s stereo), ${flags.repeat} runs in one process after a warm-up (start-up excluded, decode included); machine shared, best run of each figure`,
    `  wall ${byWall.wallSec.toFixed(3)} s = ${(d / byWall.wallSec).toFixed(0)}× realtime (ffmpeg decodes in its own process, in parallel)`,
    `  CPU  ${cpuOf(byCpu).toFixed(3)} s = ${(d / cpuOf(byCpu)).toFixed(0)}× realtime on one core (analysis ${byCpu.selfSec.toFixed(3)} s + ffmpeg decode ${byCpu.childrenSec.toFixed(3)} s); ` +
      `median run ${median(runs.map(cpuOf)).toFixed(3)} s = ${(d / median(runs.map(cpuOf))).toFixed(0)}×`,
    `  analysis alone ${(d / byCpu.selfSec).toFixed(0)}× realtime`,
  ];
}

async function measureLongFile(flags: Flags): Promise<string[]> {
  const five = join(ROOT, '.bench-out/analysis/five-minutes.mp3');
  await makeFiveMinuteMp3(flags, five);
  const hour = join(ROOT, '.bench-out/analysis/one-hour.mp3');
  if (!existsSync(hour)) {
    await run(ffmpegPath(), [
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-stream_loop',
      '11',
      '-i',
      five,
      '-c',
      'copy',
      hour,
    ]);
  }
  const outJson = join(ROOT, '.bench-out/analysis/one-hour.analysis.json');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/analysis/measure-long-file.ts'), hour, outJson],
    { cwd: ROOT },
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr.pipe(process.stderr);
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) return [`1-hour file: the child process failed (exit ${code})`];
  const r = JSON.parse(stdout) as { durationSec: number; wallSec: number; maxRssMb: number; beats: number };
  const size = (await stat(outJson)).size;
  await rm(outJson, { force: true });
  return [
    `1-hour MP3 (${(r.durationSec / 60).toFixed(1)} min): peak RSS ${r.maxRssMb.toFixed(0)} MB (whole process: Node, tsx, decode buffers, result, JSON text), ` +
      `${r.wallSec.toFixed(1)} s wall, ${r.beats} beats, analysis.json ${(size / 1e6).toFixed(1)} MB`,
  ];
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  console.log(`analysis benchmark on ${flags.set}; estimates in ${flags.out}`);
  const { results, sections } = await scoreSet(flags);
  for (const line of formatReport(results)) console.log(line);
  for (const line of formatSections(sections)) console.log(line);
  const ours = summaryLine(overallOf(results.filter((r) => r.item.kind === 'song')));
  console.log('');
  console.log(`ours:     ${ours}`);
  const reference = flags.only ? undefined : await referenceSummary(flags);
  if (reference !== undefined) {
    console.log(`score.py: ${reference}`);
    const a = parseSummary(ours);
    const b = parseSummary(reference);
    const keys = Object.keys(a).filter((k) => k in b);
    if (keys.length)
      console.log(`largest difference: ${Math.max(...keys.map((k) => Math.abs(a[k]! - b[k]!))).toFixed(3)}`);
  }
  if (flags.speed) for (const line of await measureSpeed(flags)) console.log(line);
  if (flags.long) for (const line of await measureLongFile(flags)) console.log(line);
}

await main();
