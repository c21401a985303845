/**
 * Which ffmpeg encodes the video: run.json records it, because the encoder's version (and x264's
 * thread count) decides the output's bytes.
 */
import { ffmpegPath } from './ffmpeg-path.js';
import { runProcess } from './run-process.js';

export function ffmpegVersionArgs(): string[] {
  return ['-hide_banner', '-nostdin', '-version'];
}

/** "ffmpeg version N-47683-g0e8eb07980-static https://…" → "N-47683-g0e8eb07980-static". */
export function parseFfmpegVersion(stdout: string): string {
  const match = /^ffmpeg version (\S+)/m.exec(stdout);
  return match?.[1] ?? 'unknown';
}

const cache = new Map<string, Promise<string>>();

/**
 * The version of the ffmpeg beatloom runs, asked once per process. No abort signal: the probe
 * takes milliseconds and is shared by every render of a batch.
 */
export function ffmpegVersion(): Promise<string> {
  const path = ffmpegPath();
  let version = cache.get(path);
  if (!version) {
    version = runProcess(path, ffmpegVersionArgs()).then((out) => parseFfmpegVersion(out.toString('utf8')));
    // A failed probe is not remembered: the next render asks again.
    version.catch(() => cache.delete(path));
    cache.set(path, version);
  }
  return version;
}
