/**
 * Pure builders for every ffmpeg command line beatloom runs. Each returns `string[]`; exact-value
 * tests pin them down (test/ffmpeg-args.test.ts).
 */
import { formatFps, type Rational } from '../shared/media-time.js';

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
    '-i',
    inputPath,
    '-map',
    '0:a:0',
    '-vn',
    '-sn',
    '-dn',
    '-af',
    `aresample=${sampleRateHz}:filter_size=16:rematrix_maxval=1,aformat=channel_layouts=mono`,
    '-flush_packets',
    '0',
    '-f',
    'f32le',
    '-acodec',
    'pcm_f32le',
    'pipe:1',
  ];
}

export type VideoCodec = 'h264' | 'h265' | 'vp9';

/** How a video codec's speed/quality preset is spelt on ffmpeg's command line. */
export const VIDEO_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
  'slower',
  'veryslow',
] as const;
export type VideoPreset = (typeof VIDEO_PRESETS)[number];

export interface VideoEncodeOptions {
  readonly codec: VideoCodec;
  readonly crf: number;
  readonly preset: VideoPreset;
  readonly pixelFormat: string;
}

export type InterpolationMode = 'motion' | 'blend';

/** Optional steps between the blended frames and the encoder. */
export interface VideoPostOptions {
  /** Frame interpolation to a higher rate; the output has exactly `frameCount` frames (see videoFilter). */
  readonly interpolate: {
    readonly fps: Rational;
    readonly mode: InterpolationMode;
    readonly frameCount: number;
  } | null;
  /** Lanczos upscale to this size (after interpolation, which is cheaper at the small size). */
  readonly upscale: { readonly width: number; readonly height: number } | null;
}

/** The song as it goes into the file: resampled, cut or padded, and pre-rolled (see stitching/audio-track.ts). */
export interface AudioTrackOptions {
  readonly path: string;
  readonly sampleRateHz: number;
  /** Exactly this many samples of the song are encoded (cut, or padded with silence). */
  readonly sampleCount: number;
  /** Silence put before the song and hidden by the mp4 edit list, so the AAC frames end where the song does. */
  readonly prerollSamples: number;
  readonly bitrateKbps: number;
}

/**
 * PNG images on stdin, one per frame, at an exact rational rate. PNG rather than raw RGB: most
 * frames are a segment's PNG passed through as it is, six times fewer bytes through the pipe and
 * no decode in node (see stitching/timeline-frames.ts); every image must be 8-bit RGB of one size.
 */
export interface FrameInput {
  readonly fps: Rational;
}

/**
 * Where the output's audio comes from: the song itself, cut and encoded here, or a track already
 * encoded from it by encodeAudioTrackArgs (cached in the run directory), copied as it is.
 */
export type AudioSource =
  ({ readonly kind: 'song' } & AudioTrackOptions) | { readonly kind: 'track'; readonly path: string };

export interface EncodeOptions extends FrameInput, VideoEncodeOptions {
  readonly post: VideoPostOptions;
  readonly audio: AudioSource;
  readonly outPath: string;
}

/** x264/x265 preset → libvpx-vp9 `-cpu-used` (0 slowest/best … 5 fastest with the `good` deadline). */
const VP9_CPU_USED: Readonly<Record<VideoPreset, number>> = {
  veryslow: 0,
  slower: 1,
  slow: 2,
  medium: 3,
  fast: 4,
  faster: 5,
  veryfast: 5,
  superfast: 5,
  ultrafast: 5,
};

/** Encoder arguments for one codec, preset, crf and pixel format. */
export function videoCodecArgs(options: VideoEncodeOptions): string[] {
  const common = ['-pix_fmt', options.pixelFormat];
  switch (options.codec) {
    case 'h264':
      return ['-c:v', 'libx264', '-preset', options.preset, '-crf', String(options.crf), ...common];
    case 'h265':
      return [
        '-c:v',
        'libx265',
        '-preset',
        options.preset,
        '-crf',
        String(options.crf),
        '-tag:v',
        'hvc1',
        '-x265-params',
        'log-level=error',
        ...common,
      ];
    case 'vp9':
      return [
        '-c:v',
        'libvpx-vp9',
        '-crf',
        String(options.crf),
        '-b:v',
        '0',
        '-deadline',
        'good',
        '-cpu-used',
        String(VP9_CPU_USED[options.preset]),
        '-row-mt',
        '1',
        ...common,
      ];
  }
}

/** The audio codec of each container: AAC in mp4, Opus in WebM. */
function audioCodecArgs(codec: VideoCodec, bitrateKbps: number): string[] {
  return [...(codec === 'vp9' ? ['-c:a', 'libopus'] : ['-c:a', 'aac']), '-b:a', `${bitrateKbps}k`];
}

function containerArgs(codec: VideoCodec): string[] {
  return codec === 'vp9' ? ['-f', 'webm'] : ['-movflags', '+faststart', '-f', 'mp4'];
}

/**
 * The video filter chain for the post steps, or null when there is none.
 *
 * Interpolation: minterpolate emits frames at k / fps_out up to about two input frames before
 * the last one, so the stitcher sends INTERPOLATION_TAIL_FRAMES copies of the last frame after
 * it and `trim=end_frame` cuts the result to exactly ceil(D · fps_out) frames (measured with this
 * ffmpeg: 80 frames at 8 fps gave 235 frames at 24 fps, not 240; with three more, 240 after the
 * trim, output frame k showing the picture of time k / 24). A trim by frame count, unlike an
 * output `-t`, never rounds.
 */
export function videoFilter(post: VideoPostOptions): string | null {
  const steps: string[] = [];
  if (post.interpolate) {
    const { fps, mode, frameCount } = post.interpolate;
    const how = mode === 'motion' ? 'mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1' : 'mi_mode=blend';
    steps.push('format=yuv444p', `minterpolate=fps=${formatFps(fps)}:${how}`, `trim=end_frame=${frameCount}`);
  }
  if (post.upscale) steps.push(`scale=${post.upscale.width}:${post.upscale.height}:flags=lanczos`);
  return steps.length > 0 ? steps.join(',') : null;
}

/** Copies of the last frame sent after it when interpolating (see videoFilter). */
export const INTERPOLATION_TAIL_FRAMES = 3;

/**
 * The song → exactly `sampleCount` samples at `sampleRateHz` (apad + atrim: sample-exact, unlike
 * `-t`), then, for AAC, `prerollSamples` of silence before it with the timestamps moved back by
 * as much: the mp4 muxer writes that into the edit list, so decoders skip it exactly like the
 * encoder's own priming, and the last AAC frame ends on the song's last sample.
 * adelay takes milliseconds and truncates to samples, so it gets half a sample more than needed;
 * it delays each listed channel and ignores the names of channels the song lacks (8 = 7.1).
 */
export function audioFilter(audio: AudioTrackOptions, inputLabel: string, outputLabel: string): string {
  const steps = [`aresample=${audio.sampleRateHz}`, 'apad', `atrim=end_sample=${audio.sampleCount}`];
  if (audio.prerollSamples > 0) {
    const ms = (((audio.prerollSamples + 0.5) * 1000) / audio.sampleRateHz).toFixed(6);
    steps.push(`adelay=${Array.from({ length: 8 }, () => ms).join('|')}`, `asetpts=PTS-${audio.prerollSamples}/SR/TB`);
  }
  return `[${inputLabel}]${steps.join(',')}[${outputLabel}]`;
}

/** image2pipe stamps frame i with i in a time base of 1 / fps: exact for 24000/1001 too. */
function frameInputArgs(input: FrameInput): string[] {
  return ['-f', 'image2pipe', '-framerate', formatFps(input.fps), '-c:v', 'png', '-i', 'pipe:0'];
}

/**
 * PNG frames on stdin + the song → one video file. The frame rate is an exact rational, so
 * timestamps are i·den/num, never a rounded float; the video has exactly the frames we send
 * (or, interpolated, exactly `post.interpolate.frameCount`). The song is cut in the filter
 * graph, by samples. Measured with this ffmpeg (2018): an output `-t` goes through a trim that
 * rounds to the frame grid and drops the last frame, and `-frames:v` ends the whole output when
 * the video reaches it, cutting the audio short; neither is used.
 */
export function encodeVideoArgs(options: EncodeOptions): string[] {
  const { audio } = options;
  const vf = videoFilter(options.post);
  const graph = [
    ...(vf ? [`[0:v]${vf}[v]`] : []),
    ...(audio.kind === 'song' ? [audioFilter(audio, '1:a', 'a')] : []),
  ].join(';');
  return [
    ...COMMON,
    '-y',
    '-loglevel',
    'error',
    ...frameInputArgs(options),
    '-i',
    audio.path,
    ...(graph ? ['-filter_complex', graph] : []),
    '-map',
    vf ? '[v]' : '0:v:0',
    '-map',
    audio.kind === 'song' ? '[a]' : '1:a:0',
    // Frames pass through as they come: the mp4 muxer's default (cfr) re-times interpolated frames
    // and duplicated the last ones (measured: 106 frames instead of the 104 the trim let through).
    '-vsync',
    '0',
    ...videoCodecArgs(options),
    ...(audio.kind === 'song' ? audioCodecArgs(options.codec, audio.bitrateKbps) : ['-c:a', 'copy']),
    ...containerArgs(options.codec),
    options.outPath,
  ];
}

/**
 * The song → the output's audio track alone (AAC in an mp4 for h264/h265, Opus in WebM for vp9),
 * cut and pre-rolled exactly as encodeVideoArgs would; muxed later by stream copy, which keeps
 * the edit list (measured: 480 590 samples in, 480 590 decoded from the muxed video).
 */
export function encodeAudioTrackArgs(audio: AudioTrackOptions, codec: VideoCodec, outPath: string): string[] {
  return [
    ...COMMON,
    '-y',
    '-loglevel',
    'error',
    '-i',
    audio.path,
    '-filter_complex',
    audioFilter(audio, '0:a', 'a'),
    '-map',
    '[a]',
    ...audioCodecArgs(codec, audio.bitrateKbps),
    '-f',
    codec === 'vp9' ? 'webm' : 'mp4',
    outPath,
  ];
}

export interface FramesOutputOptions extends FrameInput {
  readonly post: VideoPostOptions;
  /** An image2 pattern, e.g. `/out/.frames.tmp/frame-%06d.png`. */
  readonly pattern: string;
}

/** PNG frames on stdin → a PNG sequence numbered from 0, one file per frame (no audio). */
export function encodeFramesArgs(options: FramesOutputOptions): string[] {
  const vf = videoFilter(options.post);
  return [
    ...COMMON,
    '-y',
    '-loglevel',
    'error',
    ...frameInputArgs(options),
    ...(vf ? ['-vf', vf] : []),
    '-vsync',
    '0',
    '-c:v',
    'png',
    '-pix_fmt',
    'rgb24',
    '-start_number',
    '0',
    '-f',
    'image2',
    options.pattern,
  ];
}

/**
 * Decodes a video's frames for measuring: showinfo prints every decoded frame's timestamp on
 * stderr, and the frames come out on stdout shrunk to grey `width`×`height` (area-averaged, so a
 * pixel is the mean brightness of its block). `-vsync 0` passes frames through as decoded.
 */
export function inspectVideoArgs(inputPath: string, width: number, height: number): string[] {
  return [
    ...COMMON,
    '-i',
    inputPath,
    '-map',
    '0:v:0',
    '-vf',
    `showinfo,scale=${width}:${height}:flags=area,format=gray`,
    '-vsync',
    '0',
    '-f',
    'rawvideo',
    'pipe:1',
  ];
}

/** Decode a video's frames to raw RGB24 on stdout (used by the tests). */
export function decodeVideoFramesArgs(inputPath: string): string[] {
  return [
    ...COMMON,
    '-loglevel',
    'error',
    '-i',
    inputPath,
    '-map',
    '0:v:0',
    '-vsync',
    '0',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
}
