/**
 * What the stitcher writes: a video (codec, crf, preset, pixel format, audio bitrate) or a PNG
 * sequence, with optional post steps (interpolation to a higher rate, lanczos upscale) and a
 * debug overlay. The schema is the source of truth (it is recorded in run.json); per-codec
 * defaults are filled in here, once.
 */
import { z } from 'zod';
import { VIDEO_PRESETS, type VideoCodec, type VideoPreset } from '../ffmpeg/args.js';
import { fpsValue, parseFps, type Rational } from '../shared/media-time.js';
import { usageError } from '../shared/errors.js';

export const VIDEO_CODECS = ['h264', 'h265', 'vp9'] as const;
export const PIXEL_FORMATS = ['yuv420p', 'yuv422p', 'yuv444p', 'yuv420p10le', 'yuv422p10le', 'yuv444p10le'] as const;

/** Valid crf per codec: x264/x265 0–51, libvpx-vp9 0–63 (lower is better and bigger). */
export const CRF_RANGE: Readonly<Record<VideoCodec, readonly [number, number]>> = {
  h264: [0, 51],
  h265: [0, 51],
  vp9: [0, 63],
};

/**
 * Per-codec defaults. h264: `superfast` at crf 19, chosen by measurement (`npm run bench:stitch --
 * --quality`: 768 preview frames at 512×512, ffmpeg CPU time for colour conversion + x264, best of
 * 3 on this shared 2-core machine, SSIM against the source frames):
 *
 *   medium    crf 18: 14.4 ms/frame, SSIM 26.49 dB, 3.64 MB   (x264's own default preset)
 *   veryfast  crf 16:  6.7 ms/frame, SSIM 26.38 dB, 4.44 MB
 *   superfast crf 19:  3.6 ms/frame, SSIM 26.56 dB, 5.99 MB   ← default
 *   ultrafast crf 17:  4.7 ms/frame, SSIM 25.99 dB, 8.23 MB
 *
 * The default keeps medium's picture (SSIM) and pays in file size (+65 %), not in time: the stitch
 * has 12.5 ms of CPU per frame on two cores to run at 20× realtime at 8 fps, and reading and
 * decoding the frames needs part of it. `--preset medium --crf 18` gives the smaller file.
 * h265 and vp9 defaults follow their encoders' usual quality points.
 */
export const CODEC_DEFAULTS: Readonly<Record<VideoCodec, { readonly crf: number; readonly preset: VideoPreset }>> = {
  h264: { crf: 19, preset: 'superfast' },
  h265: { crf: 22, preset: 'fast' },
  vp9: { crf: 32, preset: 'fast' },
};

const sizeSchema = z
  .object({ width: z.number().int().min(16).max(8192), height: z.number().int().min(16).max(8192) })
  .strict();

export const outputSettingsSchema = z
  .object({
    /** `video`: one file with the song; `frames`: a PNG sequence in a folder, no audio. */
    target: z.enum(['video', 'frames']).default('video'),
    codec: z.enum(VIDEO_CODECS).default('h264'),
    crf: z.number().min(0).max(63).optional(),
    preset: z.enum(VIDEO_PRESETS).optional(),
    pixelFormat: z.enum(PIXEL_FORMATS).default('yuv420p'),
    audioBitrateKbps: z.number().int().min(32).max(512).default(192),
    debugOverlay: z.boolean().default(false),
    upscale: sizeSchema.nullable().default(null),
    /** Frame interpolation to `fps` (a rate like "24" or "30000/1001"), by motion compensation or blending. */
    interpolate: z
      .object({ fps: z.string(), mode: z.enum(['motion', 'blend']).default('motion') })
      .strict()
      .nullable()
      .default(null),
  })
  .strict()
  .transform((s) => ({
    ...s,
    crf: s.crf ?? CODEC_DEFAULTS[s.codec].crf,
    preset: s.preset ?? CODEC_DEFAULTS[s.codec].preset,
  }))
  .superRefine((s, ctx) => {
    const [lo, hi] = CRF_RANGE[s.codec];
    if (s.crf < lo || s.crf > hi)
      ctx.addIssue({ code: 'custom', path: ['crf'], message: `crf ${s.crf} is outside ${lo}–${hi} for ${s.codec}` });
    if (s.upscale && (s.upscale.width % 2 !== 0 || s.upscale.height % 2 !== 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upscale'],
        message: `upscale size ${s.upscale.width}x${s.upscale.height} must be even`,
      });
    }
  });

export type OutputSettingsInput = z.input<typeof outputSettingsSchema>;
export type OutputSettings = z.output<typeof outputSettingsSchema>;

export const DEFAULT_OUTPUT_SETTINGS: OutputSettings = outputSettingsSchema.parse({});

/** The output's name in the run directory when the user names none: out.mp4, out.webm (vp9), or frames/. */
export function defaultOutputName(settings: OutputSettings): string {
  if (settings.target === 'frames') return 'frames';
  return settings.codec === 'vp9' ? 'out.webm' : 'out.mp4';
}

/** Resolves settings from the CLI or a job file; a bad value is one usage error naming it. */
export function resolveOutputSettings(input: OutputSettingsInput): OutputSettings {
  const result = outputSettingsSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw usageError(
    'E_OUTPUT_SETTINGS',
    `invalid output setting ${issue.path.join('.') || '(settings)'}: ${issue.message}`,
    'see beatloom render --help for the output options',
  );
}

/** The rate and frame count of what the stitcher writes: the render's, or the interpolated rate's. */
export function outputFps(settings: OutputSettings, renderFps: Rational): Rational {
  return settings.interpolate ? parseFps(settings.interpolate.fps) : renderFps;
}

/** Checks the post steps against the render they follow: upscale only grows, interpolation only raises the rate. */
export function assertPostStepsFit(
  settings: OutputSettings,
  render: { readonly width: number; readonly height: number; readonly fps: Rational },
): void {
  const { upscale, interpolate } = settings;
  if (upscale && (upscale.width < render.width || upscale.height < render.height)) {
    throw usageError(
      'E_UPSCALE',
      `upscale to ${upscale.width}x${upscale.height} is smaller than the ${render.width}x${render.height} render`,
      'give a factor like 2 or a size at least as large as --size',
    );
  }
  if (interpolate && fpsValue(parseFps(interpolate.fps)) <= fpsValue(render.fps)) {
    throw usageError(
      'E_INTERPOLATE',
      `interpolation to ${interpolate.fps} fps does not raise the render's rate`,
      'give a rate above --fps, e.g. --interpolate 24 for an 8 fps render',
    );
  }
}
