import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyframesSchema } from '../src/keyframes/keyframes-schema.js';
import { runCli } from './helpers/cli.js';
import { decodedAudioSamples, decodeVideoFrames, makeClickTrack, meanAbsDiff, tempDir } from './helpers/media.js';

const SIZE = 128;

describe('beatloom render (preview engine), checked by decoding the output', () => {
  let dir: string;
  let song: string;
  const durationSec = 6.3;
  const songSamples = Math.round(durationSec * 22050);

  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'clicks.wav');
    await makeClickTrack(song, { durationSec, bpm: 120, quietUntilSec: 3, channels: 2 });
  });

  it('has exactly ceil(D · fps) frames, video and audio within one frame of D, and motion where the plan says', async () => {
    const runDir = join(dir, 'run-8');
    const out = join(dir, 'out-8.mp4');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'neon city, rain',
      '--size',
      `${SIZE}x${SIZE}`,
      '--fps',
      '8',
      '--run-dir',
      runDir,
      '-o',
      out,
      '--quiet',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const expectedFrames = Math.ceil((songSamples * 8) / 22050); // 50.4 → 51
    expect(expectedFrames).toBe(51);
    const frames = await decodeVideoFrames(out, SIZE, SIZE);
    expect(frames.length).toBe(expectedFrames);
    const audioSamples = await decodedAudioSamples(out);
    expect(Math.abs(audioSamples - songSamples) / 22050).toBeLessThan(1 / 8);

    // The run directory holds every artifact, one folder per segment.
    const names = await readdir(runDir);
    // The song's encoded track is kept for later stitches (stitching/audio-track.ts).
    expect(names.sort()).toEqual([
      'analysis.json',
      expect.stringMatching(/^audio-aac-[0-9a-f]{16}\.m4a$/),
      'keyframes.json',
      'plan.json',
      'run.json',
      'segments',
    ]);
    const keyframes = keyframesSchema.parse(JSON.parse(await readFile(join(runDir, 'keyframes.json'), 'utf8')));
    expect(keyframes.frameCount).toBe(51);
    expect(await readdir(join(runDir, 'segments'))).toEqual(
      keyframes.segments.map((s) => String(s.index).padStart(4, '0')),
    );

    // Frames change more where motion scale is higher: compare the calm and loud halves.
    const motion = keyframes.curves.motionScale;
    const diffs = frames.slice(1).map((f, i) => meanAbsDiff(frames[i]!, f));
    const byMotion = diffs.map((d, i) => ({ d, m: (motion[i]! + motion[i + 1]!) / 2 })).sort((a, b) => a.m - b.m);
    const half = Math.floor(byMotion.length / 2);
    const calm = byMotion.slice(0, half).reduce((s, x) => s + x.d, 0) / half;
    const wild = byMotion.slice(half).reduce((s, x) => s + x.d, 0) / (byMotion.length - half);
    expect(Math.max(...motion.slice(30))).toBeGreaterThan(Math.max(...motion.slice(0, 20)));
    expect(wild).toBeGreaterThan(calm * 1.3);
  });

  it('keeps sync at a rational frame rate (24000/1001)', async () => {
    const out = join(dir, 'out-ntsc.mp4');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'ocean waves',
      '--size',
      '64x64',
      '--fps',
      '24000/1001',
      '--run-dir',
      join(dir, 'run-ntsc'),
      '-o',
      out,
      '--quiet',
    ]);
    expect(result.code).toBe(0);
    const expectedFrames = Math.ceil((songSamples * 24000) / (22050 * 1001)); // 151.04… → 152
    expect(expectedFrames).toBe(152);
    const frames = await decodeVideoFrames(out, 64, 64);
    expect(frames.length).toBe(152);
    const audioSamples = await decodedAudioSamples(out);
    expect(Math.abs(audioSamples - songSamples) / 22050).toBeLessThan(1001 / 24000);
  });

  it('resumes: a second run reuses every segment and writes the same video frames', async () => {
    const runDir = join(dir, 'run-8');
    const out = join(dir, 'out-8-again.mp4');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'neon city, rain',
      '--size',
      `${SIZE}x${SIZE}`,
      '--fps',
      '8',
      '--run-dir',
      runDir,
      '-o',
      out,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      renderedSegments: number;
      cachedSegments: number;
      segments: number;
    };
    expect(summary.renderedSegments).toBe(0);
    expect(summary.cachedSegments).toBe(summary.segments);
    const a = await decodeVideoFrames(join(dir, 'out-8.mp4'), SIZE, SIZE);
    const b = await decodeVideoFrames(out, SIZE, SIZE);
    expect(b.length).toBe(a.length);
    expect(b.every((frame, i) => meanAbsDiff(frame, a[i]!) === 0)).toBe(true);
  });
});

describe('bad input: one clear line, exit code 2, nothing written', () => {
  let dir: string;
  let song: string;
  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 2.5, bpm: 120 });
    await writeFile(join(dir, 'notes.txt'), 'this is not audio\n');
    await writeFile(join(dir, 'blocker'), 'a file where a folder should be\n');
  });

  it.each([
    [
      'a missing input',
      (d: string) => ['render', join(d, 'nope.mp3'), '--prompt', 'x'],
      /input not found: .*nope\.mp3/,
    ],
    [
      'a file that is not audio',
      (d: string) => ['render', join(d, 'notes.txt'), '--prompt', 'x'],
      /(not an audio file ffmpeg can decode|no audio stream in) .*notes\.txt/,
    ],
    [
      'an unwritable output path',
      (d: string) => ['render', join(d, 'song.wav'), '--prompt', 'x', '-o', join(d, 'blocker', 'out.mp4')],
      /cannot write output .*blocker\/out\.mp4/,
    ],
    [
      'an unknown engine',
      (d: string) => ['render', join(d, 'song.wav'), '--prompt', 'x', '--engine', 'dalle'],
      /unknown engine 'dalle' — use one of: preview, comfyui/,
    ],
    [
      'a bad frame rate',
      (d: string) => ['render', join(d, 'song.wav'), '--prompt', 'x', '--fps', '24/0'],
      /invalid fps: '24\/0'/,
    ],
    [
      'a bad size',
      (d: string) => ['render', join(d, 'song.wav'), '--prompt', 'x', '--size', '500x500'],
      /invalid size: '500x500'/,
    ],
    ['a missing prompt', (d: string) => ['render', join(d, 'song.wav')], /missing --prompt/],
    ['an unknown option', (d: string) => ['render', join(d, 'song.wav'), '--promtp', 'x'], /unknown option '--promtp'/],
  ])('%s', async (_what, args, message) => {
    const runDir = join(dir, `run-${Math.random().toString(36).slice(2)}`);
    const result = await runCli([...args(dir), '--run-dir', runDir]);
    expect(result.code).toBe(2);
    const errors = result.stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('beatloom: error:'));
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(message);
    expect(existsSync(join(runDir, 'out.mp4'))).toBe(false);
  });
});

describe('Ctrl-C', () => {
  it('stops cleanly, leaves no half-written video, keeps finished segments, and the next run resumes', async () => {
    const dir = await tempDir();
    const song = join(dir, 'long.wav');
    await makeClickTrack(song, { durationSec: 30, bpm: 100 });
    const runDir = join(dir, 'run');
    const args = ['render', song, '--prompt', 'forest', '--size', '256x256', '--run-dir', runDir, '--json'];
    let sent = false;
    const first = await runCli(args, {
      onStdout: (text, kill) => {
        if (!sent && /"stage":"render","done":3/.test(text)) {
          sent = true;
          kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/interrupted — run the same command again to resume/);
    expect(existsSync(join(runDir, 'out.mp4'))).toBe(false);
    const leftovers = [...(await readdir(runDir)), ...(await readdir(join(runDir, 'segments')))].filter((n) =>
      n.includes('.tmp-'),
    );
    expect(leftovers).toEqual([]);
    const kept = (await readdir(join(runDir, 'segments'))).length;
    expect(kept).toBeGreaterThanOrEqual(3);

    const second = await runCli(args);
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { cachedSegments: number };
    expect(summary.cachedSegments).toBe(kept);
    expect(existsSync(join(runDir, 'out.mp4'))).toBe(true);
  });
});
