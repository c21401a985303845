/**
 * Tiny media made at test time with ffmpeg's lavfi sources, and decoders that check outputs.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ffmpegPath } from '../../src/ffmpeg/ffmpeg-path.js';

const run = promisify(execFile);

export async function tempDir(prefix = 'beatloom-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface ClickTrackOptions {
  readonly durationSec: number;
  readonly bpm: number;
  readonly sampleRateHz?: number;
  /** Clicks before this time are quiet (gain 0.08), after it loud (0.8). */
  readonly quietUntilSec?: number;
  readonly channels?: 1 | 2;
}

/**
 * A kick-like click on every beat (a 60 Hz thump with a fast decay and a bright tick), written as
 * 16-bit WAV. Beat k is at exactly k · 60 / bpm seconds.
 */
export async function makeClickTrack(path: string, options: ClickTrackOptions): Promise<void> {
  const rate = options.sampleRateHz ?? 22050;
  const period = 60 / options.bpm;
  const quiet = options.quietUntilSec ?? 0;
  const gain = `if(lt(t,${quiet}),0.08,0.8)`;
  const tone = `(sin(2*PI*60*mod(t,${period}))*exp(-18*mod(t,${period}))+0.5*sin(2*PI*2500*mod(t,${period}))*exp(-120*mod(t,${period})))`;
  const expr = `${gain}*${tone}`;
  const channelExpr = options.channels === 2 ? `${expr}|${expr}` : expr;
  await run(ffmpegPath(), [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `aevalsrc='${channelExpr}':s=${rate}:d=${options.durationSec}`,
    '-c:a',
    'pcm_s16le',
    path,
  ]);
}

/** Decodes a video's frames as RGB24 and returns them (for tiny test videos only). */
export async function decodeVideoFrames(path: string, width: number, height: number): Promise<Uint8Array[]> {
  const child = spawn(ffmpegPath(), [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-i',
    path,
    '-map',
    '0:v:0',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ]);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`ffmpeg could not decode ${path}`);
  const all = Buffer.concat(chunks);
  const size = width * height * 3;
  if (all.length % size !== 0)
    throw new Error(`decoded ${all.length} bytes, not a whole number of ${width}x${height} frames`);
  return Array.from({ length: all.length / size }, (_, i) => new Uint8Array(all.subarray(i * size, (i + 1) * size)));
}

/** Decodes the first audio stream and returns its length in samples at `rate`. */
export async function decodedAudioSamples(path: string, rate = 22050): Promise<number> {
  const { stdout } = await run(
    ffmpegPath(),
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-i',
      path,
      '-map',
      '0:a:0',
      '-f',
      'f32le',
      '-ac',
      '1',
      '-ar',
      String(rate),
      'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 1 << 30 },
  );
  return stdout.length / 4;
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}
