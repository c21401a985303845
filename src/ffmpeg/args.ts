/**
 * Pure builders for every ffmpeg command line beatloom runs. Each returns `string[]`; exact-value
 * tests pin them down (test/ffmpeg-args.test.ts).
 */
import { ffmpegDuration, formatFps, type Rational, type SampleDuration } from '../keyframes/time.js';

const COMMON = ['-hide_banner', '-nostdin'] as const;

/**
 * Decode the first audio stream to mono 32-bit float PCM on stdout at `sampleRateHz`.
 *
 * - Downmix in ffmpeg, with its standard matrix scaled to unity gain (`rematrix_maxval=1`): for
 *   stereo exactly the average of the channels (plain `-ac 1` sums stereo at 0.707 per channel).
 *   Mono PCM is half the bytes of stereo through the pipe.
 * - `filter_size=16`: a shorter resampling filter than the default 32 (measured: 0.05 s instead of
 *   0.14 s of CPU for 5 minutes of 44.1 kHz stereo); its wider transition band only touches the
 *   top few hundred Hz below the new Nyquist frequency, which no analysis feature relies on.
 * - `-flush_packets 0`: write 32 KiB blocks instead of one write per decoded packet (about 1 KiB):
 *   a tenth of the pipe reads on our side (measured: 0.12 s instead of 0.3 s of CPU for 5 minutes).
 */
export function decodeAudioArgs(inputPath: string, sampleRateHz: number): string[] {
  return [
    ...COMMON,
    '-i', inputPath,
    '-map', '0:a:0',
    '-vn', '-sn', '-dn',
    '-af', `aresample=${sampleRateHz}:filter_size=16:rematrix_maxval=1,aformat=channel_layouts=mono`,
    '-flush_packets', '0',
    '-f', 'f32le',
    '-acodec', 'pcm_f32le',
    'pipe:1',
  ];
}

export type VideoCodec = 'h264' | 'h265' | 'vp9';

export interface EncodeOptions {
  readonly width: number;
  readonly height: number;
  readonly fps: Rational;
  /** The song, muxed as the audio track. */
  readonly audioPath: string;
  /** The song's decoded duration: the audio is cut to it (never `-shortest`: it overruns). */
  readonly duration: SampleDuration;
  readonly codec: VideoCodec;
  readonly crf: number;
  readonly preset: string;
  readonly pixelFormat: string;
  readonly audioBitrateKbps: number;
  readonly outPath: string;
}

function videoCodecArgs(options: EncodeOptions): string[] {
  switch (options.codec) {
    case 'h264':
      return ['-c:v', 'libx264', '-preset', options.preset, '-crf', String(options.crf)];
    case 'h265':
      return ['-c:v', 'libx265', '-preset', options.preset, '-crf', String(options.crf), '-tag:v', 'hvc1', '-x265-params', 'log-level=error'];
    case 'vp9':
      return ['-c:v', 'libvpx-vp9', '-crf', String(options.crf), '-b:v', '0', '-deadline', 'good', '-cpu-used', '4', '-row-mt', '1'];
  }
}

function containerArgs(options: EncodeOptions): string[] {
  switch (options.codec) {
    case 'h264':
    case 'h265':
      return ['-c:a', 'aac', '-b:a', `${options.audioBitrateKbps}k`, '-movflags', '+faststart', '-f', 'mp4'];
    case 'vp9':
      return ['-c:a', 'libopus', '-b:a', `${options.audioBitrateKbps}k`, '-f', 'webm'];
  }
}

/**
 * Raw RGB24 frames on stdin + the song → one video file. The frame rate is given as an exact
 * rational so ffmpeg's timestamps are i·den/num, never a rounded float. The video has exactly
 * the frames we send; the audio is cut by `-t` on the audio input. Measured with this ffmpeg
 * (2018): an output `-t` goes through a trim filter that rounds the duration to the frame grid
 * and drops the last frame (6.3 s at 8 fps gave 50 frames, not 51), and `-frames:v` ends the
 * whole output when the video reaches it, cutting the audio short.
 */
export function encodeVideoArgs(options: EncodeOptions): string[] {
  return [
    ...COMMON,
    '-y',
    '-loglevel', 'error',
    '-f', 'rawvideo',
    '-pix_fmt', 'rgb24',
    '-s', `${options.width}x${options.height}`,
    '-r', formatFps(options.fps),
    '-i', 'pipe:0',
    '-t', ffmpegDuration(options.duration),
    '-i', options.audioPath,
    '-map', '0:v:0',
    '-map', '1:a:0',
    ...videoCodecArgs(options),
    '-pix_fmt', options.pixelFormat,
    ...containerArgs(options),
    options.outPath,
  ];
}

/** Decode a video's frames to raw RGB24 on stdout (used by `verify` and the tests). */
export function decodeVideoFramesArgs(inputPath: string): string[] {
  return [...COMMON, '-loglevel', 'error', '-i', inputPath, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
}

/** Print a file's stream headers (ffmpeg with no output exits 1 after printing them). */
export function probeArgs(inputPath: string): string[] {
  return [...COMMON, '-i', inputPath];
}
