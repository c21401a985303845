import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { BeatloomError, usageError } from '../shared/errors.js';
import { decodeAudioArgs } from './args.js';
import { ffmpegPath } from './ffmpeg-path.js';
import { ProcessError, spawnProcess } from './run-process.js';

export interface DecodedAudioInfo {
  readonly sampleRateHz: number;
  /** Channels in the source; the PCM we return is their downmix (for stereo, the average). */
  readonly channels: number;
  readonly sourceSampleRateHz: number;
  readonly codec: string;
}

export interface DecodedAudio extends DecodedAudioInfo {
  /** Mono: ffmpeg's downmix at unity gain (for stereo, the average of the channels). */
  readonly samples: Float32Array;
  readonly sampleCount: number;
}

export interface DecodeOptions {
  readonly sampleRateHz: number;
  readonly signal?: AbortSignal;
}

/** Channel counts of the layout names ffmpeg prints in stream lines. */
const LAYOUT_CHANNELS: Readonly<Record<string, number>> = {
  mono: 1,
  stereo: 2,
  downmix: 2,
  '2.1': 3,
  '3.0': 3,
  '3.0(back)': 3,
  '4.0': 4,
  quad: 4,
  'quad(side)': 4,
  '3.1': 4,
  '5.0': 5,
  '5.0(side)': 5,
  '4.1': 5,
  '5.1': 6,
  '5.1(side)': 6,
  '6.0': 6,
  '6.0(front)': 6,
  hexagonal: 6,
  '6.1': 7,
  '6.1(back)': 7,
  '6.1(front)': 7,
  '7.0': 7,
  '7.0(front)': 7,
  '7.1': 8,
  '7.1(wide)': 8,
  '7.1(wide-side)': 8,
  octagonal: 8,
  hexadecagonal: 16,
};

export function channelsOfLayout(layout: string): number | undefined {
  const named = LAYOUT_CHANNELS[layout];
  if (named !== undefined) return named;
  const counted = /^(\d+) channels/.exec(layout);
  return counted ? Number(counted[1]) : undefined;
}

/**
 * Reads the stream lines ffmpeg prints before it writes any sample: the source's codec, rate and
 * channel layout from `Input #0`, once `Output #0` shows that the input has been fully described.
 */
export function parseDecodeHeader(
  stderr: string,
): { channels: number; sourceSampleRateHz: number; codec: string } | undefined {
  const outputAt = stderr.indexOf('Output #0');
  if (outputAt < 0) return undefined;
  const input = /Stream #0:\d+.*?: Audio: ([^, ]+)[^,]*, (\d+) Hz, ([^,]+),/.exec(stderr.slice(0, outputAt));
  if (!input) return undefined;
  const channels = channelsOfLayout(input[3]!.trim());
  if (channels === undefined) return undefined;
  return { channels, sourceSampleRateHz: Number(input[2]), codec: input[1]! };
}

/** Checks the path before ffmpeg sees it, so the error names the real problem. */
export async function assertReadableFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP')
      throw usageError(
        'E_INPUT_MISSING',
        `input ${path} is a loop of symbolic links`,
        'give the path of the file itself',
      );
    throw usageError('E_INPUT_MISSING', `input not found: ${path}`, 'check the path and try again');
  }
  if (!info.isFile())
    throw usageError('E_INPUT_NOT_FILE', `input is not a file: ${path}`, 'give the path of an audio file');
  try {
    await access(path, constants.R_OK);
  } catch {
    throw usageError('E_INPUT_UNREADABLE', `input is not readable: ${path}`, 'check the file permissions');
  }
}

function decodeFailure(path: string, error: ProcessError): BeatloomError {
  const tail = error.stderrTail;
  if (/matches no streams|does not contain any stream/i.test(tail)) {
    return usageError(
      'E_AUDIO_NO_STREAM',
      `no audio stream in ${path}`,
      'give a file that contains audio (mp3, wav, flac, ogg, m4a, …)',
      error,
    );
  }
  if (
    /Invalid data found|could not find codec|Unknown input format|moov atom not found|Invalid argument|End of file/i.test(
      tail,
    )
  ) {
    return usageError(
      'E_AUDIO_UNREADABLE',
      `not an audio file ffmpeg can decode: ${path}`,
      'give an mp3, wav, flac, ogg, opus or m4a file',
      error,
    );
  }
  return error;
}

/**
 * Streams the first audio stream as mono float chunks at `sampleRateHz`. Memory stays bounded by
 * the consumer: each chunk is a view of the bytes just read from the pipe (copied only when they
 * are not 4-byte aligned), and nothing here keeps it.
 */
export async function* decodeAudioChunks(
  path: string,
  options: DecodeOptions,
  onInfo?: (info: DecodedAudioInfo) => void,
): AsyncGenerator<Float32Array> {
  await assertReadableFile(path);
  let stderr = '';
  let header: ReturnType<typeof parseDecodeHeader>;
  const proc = spawnProcess(ffmpegPath(), decodeAudioArgs(path, options.sampleRateHz), {
    signal: options.signal,
    onStderr: (text) => {
      if (header === undefined && stderr.length < 1 << 20) {
        stderr += text;
        header = parseDecodeHeader(stderr);
        if (header) onInfo?.({ ...header, sampleRateHz: options.sampleRateHz });
      }
    },
  });
  proc.child.stdin.end();
  let carry: Buffer | undefined;
  try {
    for await (const chunk of proc.child.stdout as AsyncIterable<Buffer>) {
      const data = carry ? Buffer.concat([carry, chunk]) : chunk;
      const usable = data.length - (data.length % 4);
      carry = usable < data.length ? Buffer.from(data.subarray(usable)) : undefined;
      if (usable > 0) yield floatSamples(data.subarray(0, usable));
    }
    await proc.done;
  } catch (error) {
    proc.child.kill('SIGKILL');
    if (error instanceof ProcessError) throw decodeFailure(path, error);
    throw error;
  }
  if (header === undefined) {
    header = parseDecodeHeader(stderr);
    if (header === undefined) {
      throw new BeatloomError('E_AUDIO_HEADER', `could not read the audio stream layout of ${path}`, {
        hint: 'convert it to wav or flac with ffmpeg and try again',
      });
    }
    onInfo?.({ ...header, sampleRateHz: options.sampleRateHz });
  }
}

/** Little-endian float32 bytes as samples: a view where aligned, a copy where not. */
export function floatSamples(bytes: Buffer): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length >> 2);
}

/** Decodes a whole file to mono PCM. The song's duration is `sampleCount / sampleRateHz`. */
export async function decodeAudio(path: string, options: DecodeOptions): Promise<DecodedAudio> {
  let info: DecodedAudioInfo | undefined;
  let buffer = new Float32Array(options.sampleRateHz * 60);
  let length = 0;
  for await (const chunk of decodeAudioChunks(path, options, (i) => (info = i))) {
    if (length + chunk.length > buffer.length) {
      const grown = new Float32Array(Math.max(buffer.length * 2, length + chunk.length));
      grown.set(buffer.subarray(0, length));
      buffer = grown;
    }
    buffer.set(chunk, length);
    length += chunk.length;
  }
  if (info === undefined || length === 0) {
    throw usageError(
      'E_AUDIO_EMPTY',
      `no audio samples could be decoded from ${path}`,
      'check that the file plays; re-export it if it is damaged',
    );
  }
  return { ...info, samples: buffer.slice(0, length), sampleCount: length };
}
