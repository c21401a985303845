/**
 * Stitch speed and memory: × realtime and peak RSS (node and ffmpeg) for a 5-minute and a 1-hour
 * song at 512×512, 8 fps, with the default encoder settings and a fast preset.
 *
 *   npm run bench:stitch                          # 300 s and 3600 s, default + ultrafast, best of 2
 *   npm run bench:stitch -- --lengths 300 --runs 3 --presets default,veryfast,medium
 *   npm run bench:stitch -- --verify              # also decode each output: frames, durations
 *   npm run bench:stitch -- --quality             # x264 presets on the pool's frames: CPU, size, SSIM
 *
 * Segment frames are real preview-engine frames: a pool of POOL_SEGMENTS distinct 16-frame
 * segments is rendered once into .bench-out/stitch/pool, and every planned segment of the song
 * reads one of them (segment i → pool i mod POOL_SEGMENTS, through its own folder of hard
 * links), so the stitcher reads every frame's PNG and passes it on, or decodes and blends two in
 * crossfades, exactly as in a render, without 5 GB of frames on disk. The pool stays in the page
 * cache, as a freshly rendered run's frames usually are. The song is a click track at 120 BPM
 * encoded to MP3 once. Timings are wall-clock, best of --runs; the machine may be shared.
 *
 * As in a render, the song's AAC track is encoded once (prepareAudioTrack; the pipeline does it
 * while segments render) and the stitch copies it; its one-time cost is printed separately, and
 * the "with audio" figure adds it to the stitch time.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPreviewEngine } from '../../src/engines/preview/preview-engine.js';
import { frameFileName, type SegmentJob } from '../../src/engines/engine.js';
import { ffmpegPath } from '../../src/ffmpeg/ffmpeg-path.js';
import { decodePng } from '../../src/raster/png.js';
import { planSegments } from '../../src/keyframes/plan-segments.js';
import { frameCountFor, rational } from '../../src/shared/media-time.js';
import { prepareAudioTrack } from '../../src/stitching/audio-track.js';
import { resolveOutputSettings, type OutputSettingsInput, outputTiming } from '../../src/stitching/output-settings.js';
import { stitchVideo } from '../../src/stitching/stitch-video.js';
import { verifySync } from '../../src/stitching/verify-sync.js';

const run = promisify(execFile);
const OUT = join(process.cwd(), '.bench-out', 'stitch');
const SIZE = 512;
const FPS = rational(8);
const POOL_SEGMENTS = 24;
const FRAMES = 16;
const BPM = 120;
const SEGMENT_OPTIONS = { frames: FRAMES, overlap: 4, minOverlap: 2, maxOverlap: 8, crossfade: 2 };
const PROMPTS = [
  'neon city, rain',
  'ocean waves at sunset',
  'space galaxy stars',
  'forest lights',
  'portal rings',
  'golden desert',
];

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const lengths = argValue('--lengths', '300,3600').split(',').map(Number);
const runs = Number(argValue('--runs', '2'));
const presets = argValue('--presets', 'default,ultrafast').split(',');
const verify = process.argv.includes('--verify');
const quality = process.argv.includes('--quality');

async function renderPool(): Promise<string> {
  const dir = join(OUT, 'pool');
  const marker = join(dir, 'complete.json');
  if (existsSync(marker)) return dir;
  await rm(dir, { recursive: true, force: true });
  const engine = await createPreviewEngine().prepare({});
  for (let i = 0; i < POOL_SEGMENTS; i++) {
    const segDir = join(dir, String(i).padStart(4, '0'));
    await mkdir(segDir, { recursive: true });
    const motion = Array.from({ length: FRAMES }, (_, j) => (j % 4 === 0 ? 1.4 : 0.7));
    const job: SegmentJob = {
      index: i,
      hash: `pool-${i}`,
      startFrame: i * 12,
      frameCount: FRAMES,
      leadFrame: i * 12,
      crossfadeFrames: 2,
      fps: rational(8),
      width: SIZE,
      height: SIZE,
      prompt: PROMPTS[i % PROMPTS.length]!,
      negativePrompt: '',
      seed: 1000 + i,
      noiseFrame: 0,
      heldFrames: 0,
      denoise: 0.4 + 0.02 * i,
      promptBlend: [{ prompt: PROMPTS[i % PROMPTS.length]!, negativePrompt: '', weight: 1 }],
      loras: [],
      cfg: 1,
      steps: 4,
      motion: { kind: 'perFrame', scales: motion },
      continuity: 'none',
      section: 'verse',
    };
    await engine.renderSegment(job, { workDir: segDir });
  }
  await writeFile(marker, JSON.stringify({ segments: POOL_SEGMENTS, size: SIZE }));
  return dir;
}

/** Segment folders for a song: hard links into the pool, so each planned segment has its own folder. */
async function segmentFolders(pool: string, count: number): Promise<string> {
  const dir = join(OUT, `segments-${count}`);
  if (existsSync(join(dir, 'complete'))) return dir;
  await rm(dir, { recursive: true, force: true });
  for (let i = 0; i < count; i++) {
    const target = join(dir, String(i).padStart(5, '0'));
    await mkdir(target, { recursive: true });
    const source = join(pool, String(i % POOL_SEGMENTS).padStart(4, '0'));
    for (let j = 0; j < FRAMES; j++) await link(join(source, frameFileName(j)), join(target, frameFileName(j)));
  }
  await writeFile(join(dir, 'complete'), '');
  return dir;
}

async function song(lengthSec: number): Promise<string> {
  const path = join(OUT, `clicks-${lengthSec}s.mp3`);
  if (existsSync(path)) return path;
  const period = 60 / BPM;
  const expr = `0.8*sin(2*PI*60*mod(t,${period}))*exp(-18*mod(t,${period}))`;
  await run(ffmpegPath(), [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `aevalsrc='${expr}|${expr}':s=44100:d=${lengthSec}`,
    '-c:a',
    'libmp3lame',
    '-b:a',
    '128k',
    path,
  ]);
  return path;
}

interface ProcessPeak {
  rssKb: number;
  cpuTicks: number;
}

/**
 * Polls /proc every 100 ms for this process and its children: peak RSS (VmHWM, the kernel's own
 * high-water mark, where readable) and CPU ticks. Reads are synchronous: /proc files are tiny, and
 * the poller should cost the process it measures as little as possible.
 */
function watchMemory(): { stop(): { node: ProcessPeak; children: ProcessPeak } } {
  const children = new Map<number, ProcessPeak>();
  const node: ProcessPeak = { rssKb: 0, cpuTicks: 0 };
  const readStatus = (pid: number): ProcessPeak | undefined => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return { rssKb: Math.max(hwm, rss), cpuTicks: Number(fields[11]) + Number(fields[12]) };
    } catch {
      return undefined;
    }
  };
  const poll = (): void => {
    const self = readStatus(process.pid);
    if (self) Object.assign(node, { rssKb: Math.max(node.rssKb, self.rssKb), cpuTicks: self.cpuTicks });
    for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
      let list: string;
      try {
        list = readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const pid of list.trim().split(/\s+/).filter(Boolean).map(Number)) {
        const peak = readStatus(pid);
        if (!peak) continue;
        const known = children.get(pid) ?? { rssKb: 0, cpuTicks: 0 };
        children.set(pid, {
          rssKb: Math.max(known.rssKb, peak.rssKb),
          cpuTicks: Math.max(known.cpuTicks, peak.cpuTicks),
        });
      }
    }
  };
  const timer = setInterval(poll, 100);
  return {
    stop() {
      clearInterval(timer);
      poll();
      const all = [...children.values()];
      return {
        node,
        children: { rssKb: Math.max(0, ...all.map((c) => c.rssKb)), cpuTicks: all.reduce((s, c) => s + c.cpuTicks, 0) },
      };
    },
  };
}

const PRESET_SETTINGS: Readonly<Record<string, OutputSettingsInput>> = {
  default: {},
  medium: { preset: 'medium', crf: 18 },
};

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const pool = await renderPool();
  const ticksPerSec = 100;
  console.log(
    `stitch benchmark: ${SIZE}x${SIZE}, 8 fps, best of ${runs}; machine: ${(await readFile('/proc/cpuinfo', 'utf8')).match(/^processor/gm)?.length} cores (shared)`,
  );
  for (const lengthSec of lengths) {
    const audioPath = await song(lengthSec);
    const duration = { sampleCount: lengthSec * 22050, sampleRateHz: 22050 };
    const frameCount = frameCountFor(duration, FPS);
    const beats = Array.from({ length: Math.floor((lengthSec * BPM) / 60) }, (_, k) => (k * 60) / BPM);
    const bars = beats.filter((_, k) => k % 4 === 0);
    const toFrames = (times: number[]): number[] => times.map((t) => Math.floor(t * 8 + 1e-9));
    const segments = planSegments(frameCount, SEGMENT_OPTIONS, { primary: toFrames(bars), secondary: toFrames(beats) });
    const folders = await segmentFolders(pool, segments.length);
    const trackDir = join(OUT, 'tracks');
    await rm(trackDir, { recursive: true, force: true });
    const trackStarted = performance.now();
    const audioTrackPath = await prepareAudioTrack(
      { songPath: audioPath, songKey: `clicks-${lengthSec}`, duration, codec: 'h264', bitrateKbps: 192 },
      trackDir,
    );
    const trackSec = (performance.now() - trackStarted) / 1000;
    console.log(
      `  audio track (AAC 192k, once per song): ${trackSec.toFixed(1)} s, ${(lengthSec / trackSec).toFixed(0)}× realtime`,
    );
    for (const preset of presets) {
      const settings = resolveOutputSettings(
        PRESET_SETTINGS[preset] ?? { preset: preset as OutputSettingsInput['preset'] },
      );
      let best: { sec: number; nodeMb: number; ffmpegMb: number; nodeCpu: number; ffmpegCpu: number } | undefined;
      for (let r = 0; r < runs; r++) {
        const outPath = join(OUT, `out-${lengthSec}s-${preset}.mp4`);
        const cpuBefore = process.cpuUsage();
        const watch = watchMemory();
        const started = performance.now();
        await stitchVideo(
          {
            segments,
            frameCount,
            width: SIZE,
            height: SIZE,
            fps: FPS,
            segmentDir: (i) => join(folders, String(i).padStart(5, '0')),
            frameFile: frameFileName,
          },
          {
            audioPath,
            audioTrackPath,
            duration,
            outPath,
            settings,
            timing: outputTiming(settings, { fps: FPS, frameCount }, duration),
          },
        );
        const sec = (performance.now() - started) / 1000;
        const peaks = watch.stop();
        const cpu = process.cpuUsage(cpuBefore);
        const result = {
          sec,
          nodeMb: peaks.node.rssKb / 1024,
          ffmpegMb: peaks.children.rssKb / 1024,
          nodeCpu: (cpu.user + cpu.system) / 1e6,
          ffmpegCpu: peaks.children.cpuTicks / ticksPerSec,
        };
        const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
        console.log(
          `  run ${r + 1} (load average ${load}): ${lengthSec} s song, ${settings.codec} ${settings.preset} crf ${settings.crf}: ${sec.toFixed(1)} s, ${(lengthSec / sec).toFixed(1)}× realtime, ` +
            `${(frameCount / sec).toFixed(0)} frames/s; peak RSS node ${result.nodeMb.toFixed(0)} MB + ffmpeg ${result.ffmpegMb.toFixed(0)} MB; CPU node ${result.nodeCpu.toFixed(1)} s, ffmpeg ${result.ffmpegCpu.toFixed(1)} s`,
        );
        if (!best || sec < best.sec) best = result;
        if (verify && r === 0) {
          const report = await verifySync(outPath, { duration, beats: [], downbeats: [] });
          console.log(
            `  verify: ${report.video.frameCount} frames (expected ${report.expectedFrameCount}), video − song ${(report.videoMinusSongSec * 1000).toFixed(3)} ms, audio − song ${((report.audioMinusSongSec ?? NaN) * 1000).toFixed(3)} ms, ${(await stat(outPath)).size >> 20} MB`,
          );
        }
      }
      console.log(
        `BEST ${String(lengthSec).padStart(5)} s song | ${preset.padEnd(9)} (${settings.preset}, crf ${settings.crf}) | ${(lengthSec / best!.sec).toFixed(1).padStart(5)}× realtime | ` +
          `${(frameCount / best!.sec).toFixed(0)} frames/s | with audio ${(lengthSec / (best!.sec + trackSec)).toFixed(1)}× | ` +
          `peak RSS node ${best!.nodeMb.toFixed(0)} MB, ffmpeg ${best!.ffmpegMb.toFixed(0)} MB, sum ${(best!.nodeMb + best!.ffmpegMb).toFixed(0)} MB`,
      );
    }
  }
}

/** The encoder settings the default was chosen among (see CODEC_DEFAULTS in src/stitching/output-settings.ts). */
const QUALITY_CANDIDATES = [
  ['medium', 18],
  ['veryfast', 16],
  ['superfast', 19],
  ['ultrafast', 17],
] as const;

/**
 * Encodes the pool's frames (twice over) with each candidate, as the stitcher would (rgb24 →
 * yuv420p, libx264), and reports ffmpeg's CPU time per frame (user + sys from /usr/bin/time, best
 * of 3), the file size and the SSIM against the source frames.
 */
async function qualityTable(): Promise<void> {
  const pool = await renderPool();
  const raw = join(OUT, 'pool.rgb');
  const frames: Uint8Array[] = [];
  for (let i = 0; i < POOL_SEGMENTS; i++) {
    for (let j = 0; j < FRAMES; j++)
      frames.push(decodePng(await readFile(join(pool, String(i).padStart(4, '0'), frameFileName(j)))).data);
  }
  await writeFile(raw, Buffer.concat([...frames, ...frames]));
  const frameCount = 2 * frames.length;
  const input = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${SIZE}x${SIZE}`, '-r', '8', '-i', raw];
  console.log(`x264 on ${frameCount} preview frames at ${SIZE}x${SIZE} (CPU best of 3; machine shared)`);
  for (const [preset, crf] of QUALITY_CANDIDATES) {
    const out = join(OUT, `quality-${preset}-${crf}.mp4`);
    let cpuSec = Infinity;
    for (let r = 0; r < 3; r++) {
      const { stderr } = await run('/usr/bin/time', [
        '-f',
        '%U %S',
        ffmpegPath(),
        '-hide_banner',
        '-nostdin',
        '-y',
        '-loglevel',
        'error',
        ...input,
        '-c:v',
        'libx264',
        '-preset',
        preset,
        '-crf',
        String(crf),
        '-pix_fmt',
        'yuv420p',
        out,
      ]);
      const [user, sys] = stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
      cpuSec = Math.min(cpuSec, user! + sys!);
    }
    const { stderr } = await run(ffmpegPath(), [
      '-hide_banner',
      '-nostdin',
      ...input,
      '-i',
      out,
      '-lavfi',
      '[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];[b][a]ssim',
      '-f',
      'null',
      '-',
    ]);
    const ssim = /All:([\d.]+) \(([\d.]+)\)/.exec(stderr);
    console.log(
      `  ${preset.padEnd(9)} crf ${crf}: ${((cpuSec * 1000) / frameCount).toFixed(1)} ms/frame, ${((await stat(out)).size / 1e6).toFixed(2)} MB, SSIM ${ssim?.[1]} (${ssim?.[2]} dB)`,
    );
  }
}

await (quality ? qualityTable() : main());
