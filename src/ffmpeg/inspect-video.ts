/**
 * Decodes a video for measuring, streaming: every decoded frame's timestamp (from showinfo) and
 * a small grey copy of it, handed to `onFrame` one at a time, so an hour of video costs no more
 * memory than a minute. Durations come from decoded frames, never from container headers.
 */
import { BeatloomError, usageError } from '../shared/errors.js';
import { inspectVideoArgs } from './args.js';
import { ffmpegPath } from './ffmpeg-path.js';
import { ProcessError, spawnProcess } from './run-process.js';

export interface InspectOptions {
  /** Size of the grey copy handed to onFrame (each pixel the mean of its block). */
  readonly sampleWidth: number;
  readonly sampleHeight: number;
  readonly signal?: AbortSignal;
  readonly onFrame: (pixels: Uint8Array, frameIndex: number) => void;
}

export interface InspectedVideo {
  readonly frameCount: number;
  /** Ticks per second of the stream's timestamps (its "tbn"). */
  readonly timeBaseHz: number;
  /** Decoded timestamps in ticks, in decode-output order. */
  readonly pts: readonly number[];
}

/** `15360 tbn`, `1k tbn`, `90k tbn` → ticks per second. */
export function parseTimeBaseHz(stderr: string): number | undefined {
  const match = /Stream #0:\d+[^\n]*: Video: [^\n]*?, ([\d.]+)(k?) tbn/.exec(stderr);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (match[2] === 'k' ? 1000 : 1));
}

/** The timestamp of one showinfo line, or undefined for other lines. */
export function parseShowinfoPts(line: string): number | undefined {
  const match = /Parsed_showinfo.*\bn:\s*\d+\s+pts:\s*(-?\d+)/.exec(line);
  return match ? Number(match[1]) : undefined;
}

export async function inspectVideo(path: string, options: InspectOptions): Promise<InspectedVideo> {
  const pts: number[] = [];
  let header = '';
  let partial = '';
  const proc = spawnProcess(ffmpegPath(), inspectVideoArgs(path, options.sampleWidth, options.sampleHeight), {
    signal: options.signal,
    onStderr: (text) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const t = parseShowinfoPts(line);
        if (t !== undefined) pts.push(t);
        else if (header.length < 1 << 16) header += `${line}\n`;
      }
    },
  });
  proc.child.stdin.end();
  const frameBytes = options.sampleWidth * options.sampleHeight;
  let pending: Buffer = Buffer.alloc(0);
  let frameIndex = 0;
  try {
    for await (const chunk of proc.child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      for (; offset + frameBytes <= pending.length; offset += frameBytes)
        options.onFrame(pending.subarray(offset, offset + frameBytes), frameIndex++);
      pending = Buffer.from(pending.subarray(offset));
    }
    await proc.done;
  } catch (error) {
    proc.child.kill('SIGKILL');
    if (
      error instanceof ProcessError &&
      /matches no streams|Invalid data found|moov atom not found|does not contain any stream|Invalid argument|Unknown input format|could not find codec|End of file/i.test(
        error.stderrTail,
      )
    ) {
      throw usageError(
        'E_VIDEO_UNREADABLE',
        `no video stream ffmpeg can decode in ${path}`,
        'give the video beatloom render wrote (mp4 or webm)',
        error,
      );
    }
    throw error;
  }
  const t = parseShowinfoPts(partial);
  if (t !== undefined) pts.push(t);
  const timeBaseHz = parseTimeBaseHz(header);
  if (timeBaseHz === undefined || pts.length !== frameIndex) {
    throw new BeatloomError(
      'E_VIDEO_INSPECT',
      `could not read frame timestamps of ${path} (${frameIndex} frames, ${pts.length} timestamps)`,
      {
        hint: 'please report this with the file',
      },
    );
  }
  return { frameCount: frameIndex, timeBaseHz, pts };
}
