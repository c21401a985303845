/**
 * The sync contract end to end, at every frame rate people use: `beatloom render` with the
 * flash-on-beat mapping, checked by decoding the output — the frame count, the audio to the
 * sample, the flashes on exactly the frames the plan put the beats on — and `beatloom verify`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { analysisSchema } from '../src/analysis/analysis-schema.js';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';
import { keyframesSchema } from '../src/keyframes/keyframes-schema.js';
import { frameAtSec, frameCountFor, parseFps } from '../src/shared/media-time.js';
import { decodePng } from '../src/raster/png.js';
import { verifyReportSchema } from '../src/pipeline/verify-render.js';
import { ROOT, runCli } from './helpers/cli.js';
import { decodedAudioSamples, decodeVideoFrames, makeClickTrack, tempDir } from './helpers/media.js';

const run = promisify(execFile);
const SIZE = 64;
const FLASH_MAPPING = join(ROOT, 'mappings', 'flash-test.yaml');

/** Mean brightness of each decoded frame. */
function brightness(frames: readonly Uint8Array[]): number[] {
  return frames.map((f) => f.reduce((sum, v) => sum + v, 0) / f.length);
}

describe('frame-exact sync at every common frame rate (flash-on-beat renders, decoded)', () => {
  let dir: string;
  let song: string;
  // 4.3 s at 44.1 kHz stereo: a length that is a whole number of frames at no rate tested here.
  const songSamples22k = Math.round(4.3 * 22050);

  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'clicks.wav');
    await makeClickTrack(song, { durationSec: 4.3, bpm: 100, sampleRateHz: 44100, channels: 2 });
  });

  it.each(['8', '12', '24', '25', '30', '24000/1001', '30000/1001', '60'])('%s fps', async (fpsText) => {
    const fps = parseFps(fpsText);
    const name = fpsText.replace('/', '-');
    const out = join(dir, `out-${name}.mp4`);
    const runDir = join(dir, `run-${name}`);
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'neon lights',
      '--size',
      `${SIZE}x${SIZE}`,
      '--fps',
      fpsText,
      '--mapping',
      FLASH_MAPPING,
      '--run-dir',
      runDir,
      '-o',
      out,
      '--quiet',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const analysis = analysisSchema.parse(JSON.parse(await readFile(join(runDir, 'analysis.json'), 'utf8')));
    const keyframes = keyframesSchema.parse(JSON.parse(await readFile(join(runDir, 'keyframes.json'), 'utf8')));
    const duration = { sampleCount: analysis.source.sampleCount, sampleRateHz: analysis.source.sampleRateHz };
    expect(duration.sampleCount).toBe(songSamples22k);

    // Frames: exactly ceil(D · fps).
    const frames = await decodeVideoFrames(out, SIZE, SIZE);
    expect(frames.length).toBe(frameCountFor(duration, fps));
    expect(frames.length).toBe(keyframes.frameCount);
    // Audio: the song to the sample at 48 kHz (well within one frame).
    expect(await decodedAudioSamples(out, 48000)).toBe(Math.ceil((songSamples22k * 48000) / 22050));

    // The plan puts a beat pulse on some frames; those, and only those, flash. A pulse is one
    // analysis step (23 ms) long, so at 60 fps it can cover two frames: the flash starts on the first.
    const beat = keyframes.signals.beat!;
    const planned = beat.flatMap((v, f) => (v > 0.99 && f > 0 && beat[f - 1]! <= 0.99 ? [f] : []));
    const pulse = new Set(beat.flatMap((v, f) => (v > 0.99 ? [f] : [])));
    expect(planned.length).toBeGreaterThanOrEqual(6);
    const y = brightness(frames);
    const jump = y.map((v, f) => (f === 0 ? 0 : v - y[f - 1]!));
    const weakestFlash = Math.min(...planned.map((f) => jump[f]!));
    const strongestOther = Math.max(...jump.filter((_, f) => f > 0 && !pulse.has(f)));
    expect(weakestFlash).toBeGreaterThan(10 * strongestOther);
    // And the planned frames are the frames that hold the song's beats, ±1.
    for (const f of planned)
      expect(Math.min(...analysis.beats.map((t) => Math.abs(frameAtSec(t, fps) - f)))).toBeLessThanOrEqual(1);
  });

  it('beatloom verify confirms it (JSON report), and fails a video with a frame dropped', async () => {
    const out = join(dir, 'out-24000-1001.mp4');
    const good = await runCli(['verify', out, '--audio', song, '--flashes', '--json']);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    const report = verifyReportSchema.parse(JSON.parse(good.stdout));
    expect(verifyReportSchema.encode(report).video).toMatchObject({ frameCount: 104, fps: '24000/1001' });
    expect(report.expectedFrameCount).toBe(104);
    expect(report.audio).toEqual({ sampleRateHz: 48000, sampleCount: 206400, durationSec: 4.3 });
    expect(Math.abs(report.videoMinusSongSec)).toBeLessThan(1001 / 24000);
    expect(report.flashes.beatsHit).toBe(report.beatFrames.length);
    expect(report.flashes.onBeat).toBe(report.flashes.frames.length);
    expect(report.checks).toEqual({ frameCount: true, videoDuration: true, audioDuration: true, flashesOnBeats: true });
    // The video was written outside its run directory and no --run-dir was given: no seams.
    expect(report.seams).toBeNull();

    // The same video with its first frame cut out: one frame short, every flash a frame early.
    const bad = join(dir, 'dropped.mp4');
    await run(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-i',
      out,
      '-vf',
      'select=gte(n\\,1),setpts=N/FRAME_RATE/TB',
      '-c:a',
      'copy',
      bad,
    ]);
    const failed = await runCli(['verify', bad, '--audio', song, '--flashes', '--tolerance', '0']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/frames {3}103, expected ceil\(D · fps\) = 104 {2}FAILED/);
    expect(failed.stderr).toMatch(
      /^beatloom: error: sync check failed: 103 frames instead of 104; .*flashes on \d+\/\d+ beat frames/m,
    );
  });

  it('interpolation to 24000/1001 and an upscale keep the contract: ceil(D · fps_out) frames, the audio to the sample', async () => {
    const out = join(dir, 'interpolated.mp4');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'neon lights',
      '--size',
      `${SIZE}x${SIZE}`,
      '--fps',
      '8',
      '--mapping',
      FLASH_MAPPING,
      '--run-dir',
      join(dir, 'run-8'),
      '-o',
      out,
      '--interpolate',
      '24000/1001',
      '--upscale',
      '2',
      '--quiet',
    ]);
    expect(result.code).toBe(0);
    const frames = await decodeVideoFrames(out, 2 * SIZE, 2 * SIZE);
    expect(frames.length).toBe(
      frameCountFor({ sampleCount: songSamples22k, sampleRateHz: 22050 }, parseFps('24000/1001')),
    ); // 103.1… → 104
    expect(frames.length).toBe(104);
    expect(await decodedAudioSamples(out, 48000)).toBe(Math.ceil((songSamples22k * 48000) / 22050));
    const verified = await runCli(['verify', out, '--audio', song, '--json']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout).video).toMatchObject({
      frameCount: 104,
      fps: '24000/1001',
    });
  });

  it('verify: bad input is one line and exit code 2', async () => {
    const missing = await runCli(['verify', join(dir, 'nope.mp4'), '--audio', song]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^beatloom: error: input not found: .*nope\.mp4/);
    const noAudio = await runCli(['verify', join(dir, 'out-8.mp4')]);
    expect(noAudio.code).toBe(2);
    expect(noAudio.stderr).toMatch(/^beatloom: error: missing --audio — add --audio song\.mp3/);
    const notVideo = await runCli(['verify', song, '--audio', song]);
    expect(notVideo.code).toBe(2);
    expect(notVideo.stderr).toMatch(/^beatloom: error: no video stream ffmpeg can decode in .*clicks\.wav/);
  });
});

describe('render output options', () => {
  let dir: string;
  let song: string;
  beforeAll(async () => {
    dir = await tempDir();
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 2.7, bpm: 120 });
  });

  it('--frames-only with interpolation, upscale and the debug overlay: ceil(D · 24) PNGs at twice the size', async () => {
    const out = join(dir, 'frames');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'x',
      '--size',
      '64x64',
      '--fps',
      '8',
      '--run-dir',
      join(dir, 'run'),
      '-o',
      out,
      '--quiet',
      '--frames-only',
      '--interpolate',
      '24',
      '--interpolate-mode',
      'blend',
      '--upscale',
      '2',
      '--debug-overlay',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const names = (await readdir(out)).filter((n) => n.endsWith('.png')).sort();
    expect(names.length).toBe(Math.ceil(2.7 * 24)); // 64.8 → 65
    expect(names.at(-1)).toBe('frame-000064.png');
    const last = decodePng(await readFile(join(out, names.at(-1)!)));
    expect([last.width, last.height]).toEqual([128, 128]);
    expect(JSON.parse(await readFile(join(out, 'frames.json'), 'utf8'))).toMatchObject({
      fps: '24',
      frameCount: 65,
      width: 128,
      height: 128,
    });
  });

  it('cutOn: downbeats — transitions that land on a bar start are hard cuts on exactly that frame, the rest crossfade', async () => {
    const mapping = join(dir, 'cuts.yaml');
    const flash = await readFile(FLASH_MAPPING, 'utf8');
    await writeFile(
      mapping,
      flash
        // Every boundary a transition (continue would make most of them continuations, without a fade).
        .replace('align: beats', 'align: downbeats\n  continuity: none')
        .replace(/transitions:[\s\S]*$/, 'transitions:\n  curve: smoothstep\n  cutOn: downbeats\n'),
    );
    // 100 BPM: bar starts fall inside frames at 12 fps, never on a frame boundary, where the
    // analysis' sub-millisecond timing could put a beat on either side.
    const longer = join(dir, 'bars.wav');
    await makeClickTrack(longer, { durationSec: 9, bpm: 100 });
    const runDir = join(dir, 'run-cuts');
    const out = join(dir, 'frames-cuts');
    const result = await runCli([
      'render',
      longer,
      '--prompt',
      'x',
      '--size',
      '64x64',
      '--fps',
      '12',
      '--mapping',
      mapping,
      '--run-dir',
      runDir,
      '-o',
      out,
      '--frames-only',
      '--quiet',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const analysis = analysisSchema.parse(JSON.parse(await readFile(join(runDir, 'analysis.json'), 'utf8')));
    const keyframes = keyframesSchema.parse(JSON.parse(await readFile(join(runDir, 'keyframes.json'), 'utf8')));
    const barFrames = new Set(analysis.downbeats.map((t) => frameAtSec(t, parseFps('12'))));
    const frame = async (f: number): Promise<Buffer> =>
      Buffer.from(decodePng(await readFile(join(out, `frame-${String(f).padStart(6, '0')}.png`))).data);
    const segmentFrame = async (s: number, j: number): Promise<Buffer> =>
      Buffer.from(
        decodePng(
          await readFile(
            join(runDir, 'segments', String(s).padStart(4, '0'), `frame-${String(j).padStart(4, '0')}.png`),
          ),
        ).data,
      );
    let cuts = 0;
    let fades = 0;
    for (const s of keyframes.segments.slice(1)) {
      const previous = keyframes.segments[s.index - 1]!;
      const lead = s.leadFrame;
      if (barFrames.has(lead)) {
        cuts++;
        expect((await frame(lead)).equals(await segmentFrame(s.index, lead - s.startFrame))).toBe(true);
        expect((await frame(lead - 1)).equals(await segmentFrame(previous.index, lead - 1 - previous.startFrame))).toBe(
          true,
        );
      } else {
        fades++;
        expect((await frame(lead)).equals(await segmentFrame(s.index, lead - s.startFrame))).toBe(false);
      }
    }
    // Transitions land on bar starts where the stride allows, else on beats: the first are cuts, the others fade.
    expect(cuts).toBeGreaterThanOrEqual(1);
    expect(fades).toBeGreaterThanOrEqual(1);
    expect(cuts + fades).toBe(keyframes.segments.length - 1);
  });

  it('--codec vp9 writes <run-dir>/out.webm', async () => {
    const runDir = join(dir, 'run');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'x',
      '--size',
      '64x64',
      '--run-dir',
      runDir,
      '--codec',
      'vp9',
      '--quiet',
    ]);
    expect(result.code).toBe(0);
    expect(existsSync(join(runDir, 'out.webm'))).toBe(true);
    expect(await decodedAudioSamples(join(runDir, 'out.webm'), 48000)).toBe((Math.round(2.7 * 22050) * 48000) / 22050);
  });

  it.each([
    [['--codec', 'av1'], /invalid --codec: 'av1' — use one of: h264, h265, vp9/],
    [['--crf', '70'], /invalid --crf: '70' — give a whole number from 0 to 51 for h264/],
    [['--interpolate', '6'], /invalid --interpolate: '6' is not above the render's 8 fps/],
    [['--upscale', '3000x3000x'], /invalid --upscale: '3000x3000x'/],
    [['--codec', 'vp9', '-o', 'OUT/v.mp4'], /output .*v\.mp4 does not end in \.webm/],
    [['--frames-only', '-o', 'OUT/notes'], /output folder .*notes holds other files \(a\.txt\)/],
  ])('%j → one line, exit 2, nothing written', async (flags, message) => {
    await mkdir(join(dir, 'notes'), { recursive: true });
    await writeFile(join(dir, 'notes', 'a.txt'), 'keep me');
    const runDir = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'x',
      '--size',
      '64x64',
      '--run-dir',
      runDir,
      ...flags.map((f) => f.replace('OUT', dir)),
    ]);
    expect(result.code).toBe(2);
    const errors = result.stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('beatloom: error:'));
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(message);
    expect(existsSync(join(runDir, 'out.mp4'))).toBe(false);
    expect(await readFile(join(dir, 'notes', 'a.txt'), 'utf8')).toBe('keep me');
  });
});
