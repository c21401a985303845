import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

let cached: string | undefined;

/**
 * The ffmpeg binary: `BEATLOOM_FFMPEG` when set, else the one @ffmpeg-installer ships
 * (a 2018 static build: libx264/libx265/libvpx, no xfade, no ffprobe).
 */
export function ffmpegPath(): string {
  if (process.env.BEATLOOM_FFMPEG) return process.env.BEATLOOM_FFMPEG;
  cached ??= (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  return cached;
}
