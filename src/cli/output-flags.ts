/**
 * The output options of `beatloom render` → OutputSettings. Each bad value is one usage error
 * that names it and says what to give instead.
 */
import type { Command } from 'commander';
import { VIDEO_PRESETS } from '../ffmpeg/args.js';
import { formatFps, parseFps, type Rational } from '../shared/media-time.js';
import { usageError } from '../shared/errors.js';
import {
  CODEC_DEFAULTS,
  CRF_RANGE,
  PIXEL_FORMATS,
  resolveOutputSettings,
  VIDEO_CODECS,
  type OutputSettings,
} from '../stitching/output-settings.js';
import type { Size } from './options.js';

export interface OutputFlags {
  codec: string;
  crf?: string;
  preset?: string;
  pixFmt: string;
  audioBitrate: string;
  framesOnly?: boolean;
  debugOverlay?: boolean;
  upscale?: string;
  interpolate?: string;
  interpolateMode: string;
}

export function addOutputOptions(command: Command): Command {
  return command
    .option('--codec <codec>', `video codec: ${VIDEO_CODECS.join(', ')} (vp9 writes .webm)`, 'h264')
    .option(
      '--crf <n>',
      `quality, lower is better (default: ${VIDEO_CODECS.map((c) => `${c} ${CODEC_DEFAULTS[c].crf}`).join(', ')})`,
    )
    .option(
      '--preset <name>',
      `encoder speed: ${VIDEO_PRESETS.join(', ')} (default: ${VIDEO_CODECS.map((c) => `${c} ${CODEC_DEFAULTS[c].preset}`).join(', ')})`,
    )
    .option('--pix-fmt <format>', `pixel format: ${PIXEL_FORMATS.join(', ')}`, 'yuv420p')
    .option('--audio-bitrate <kbps>', 'audio bitrate (AAC in mp4, Opus in webm)', '192')
    .option('--frames-only', 'write a PNG sequence into the -o folder (default <run-dir>/frames) instead of a video')
    .option('--debug-overlay', 'draw frame, time, segment, motion scale, denoise and beat marks into the frames')
    .option('--upscale <factor|WxH>', 'lanczos upscale after stitching, e.g. 2 or 1024x1024')
    .option('--interpolate <fps>', 'interpolate to a higher frame rate after stitching, e.g. 24 for an 8 fps render')
    .option(
      '--interpolate-mode <mode>',
      'motion (motion-compensated, slow) or blend (crossfade neighbours, fast)',
      'motion',
    );
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value))
    throw usageError('E_OPTION', `invalid ${flag}: '${value}'`, `use one of: ${allowed.join(', ')}`);
  return value as T;
}

export function parseUpscale(text: string, size: Size): { width: number; height: number } {
  const hint = 'give a factor like 2 or 1.5, or a size like 1024x1024 (even numbers, at least the render size)';
  const bySize = /^(\d+)x(\d+)$/i.exec(text.trim());
  const factor = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  const target = bySize
    ? { width: Number(bySize[1]), height: Number(bySize[2]) }
    : { width: 2 * Math.round((size.width * factor) / 2), height: 2 * Math.round((size.height * factor) / 2) };
  if (
    (!bySize && !(factor > 1 && factor <= 8)) ||
    target.width % 2 !== 0 ||
    target.height % 2 !== 0 ||
    target.width > 8192 ||
    target.height > 8192
  ) {
    throw usageError('E_UPSCALE', `invalid --upscale: '${text}'`, hint);
  }
  if (target.width < size.width || target.height < size.height) {
    throw usageError(
      'E_UPSCALE',
      `invalid --upscale: '${text}' (${target.width}x${target.height} is smaller than the ${size.width}x${size.height} render)`,
      hint,
    );
  }
  return target;
}

function parseInteger(text: string, flag: string, lo: number, hi: number, hint: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < lo || value > hi)
    throw usageError('E_OPTION', `invalid ${flag}: '${text}'`, hint);
  return value;
}

export function outputSettingsFromFlags(flags: OutputFlags, size: Size, fps: Rational): OutputSettings {
  const codec = oneOf(flags.codec, VIDEO_CODECS, '--codec');
  const [crfLo, crfHi] = CRF_RANGE[codec];
  const crf =
    flags.crf === undefined
      ? undefined
      : parseInteger(flags.crf, '--crf', crfLo, crfHi, `give a whole number from ${crfLo} to ${crfHi} for ${codec}`);
  let interpolate: OutputSettings['interpolate'] = null;
  if (flags.interpolate !== undefined) {
    const target = parseFps(flags.interpolate);
    if (target.num * fps.den <= fps.num * target.den) {
      throw usageError(
        'E_INTERPOLATE',
        `invalid --interpolate: '${flags.interpolate}' is not above the render's ${formatFps(fps)} fps`,
        'give a higher rate, e.g. --interpolate 24 for an 8 fps render',
      );
    }
    interpolate = {
      fps: formatFps(target),
      mode: oneOf(flags.interpolateMode, ['motion', 'blend'] as const, '--interpolate-mode'),
    };
  }
  return resolveOutputSettings({
    target: flags.framesOnly ? 'frames' : 'video',
    codec,
    crf,
    preset: flags.preset === undefined ? undefined : oneOf(flags.preset, VIDEO_PRESETS, '--preset'),
    pixelFormat: oneOf(flags.pixFmt, PIXEL_FORMATS, '--pix-fmt'),
    audioBitrateKbps: parseInteger(
      flags.audioBitrate,
      '--audio-bitrate',
      32,
      512,
      'give kilobits per second from 32 to 512, e.g. 192',
    ),
    debugOverlay: flags.debugOverlay === true,
    upscale: flags.upscale === undefined ? null : parseUpscale(flags.upscale, size),
    interpolate,
  });
}
