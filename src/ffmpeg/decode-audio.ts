import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { BeatloomError, usageError } from '../shared/errors.js';
import { decodeAudioArgs } from './args.js';
import { ffmpegPath } from './ffmpeg-path.js';
import { ProcessError, spawnProcess } from './run-process.js';

export interface DecodedAudioInfo {
  readonly sampleRateHz: number;
  /** Channels in the source; the PCM we return is their average. */
  readonly channels: number;
  readonly sourceSampleRateHz: number;
  readonly codec: string;
}

export interface DecodedAudio extends DecodedAudioInfo {
  /** Mono: the plain average of all channels. */
  readonly samples: Float32Array;
  readonly sampleCount: number;
}

export interface DecodeOptions {
  readonly sampleRateHz: number;
  readonly signal?: AbortSignal;
}

/** Channel counts of the layout names ffmpeg prints in stream lines. */
const LAYOUT_CHANNELS: Readonly<Record<string, number>> = {
  mono: 1, stereo: 2, downmix: 2, '2.1': 3, '3.0': 3, '3.0(back)': 3, '4.0': 4, quad: 4, 'quad(side)': 4,
  '3.1': 4, '5.0': 5, '5.0(side)': 5, '4.1': 5, '5.1': 6, '5.1(side)': 6, '6.0': 6, '6.0(front)': 6,
  hexagonal: 6, '6.1': 7, '6.1(back)': 7, '6.1(front)': 7, '7.0': 7, '7.0(front)': 7, '7.1': 8,
  '7.1(wide)': 8, '7.1(wide-side)': 8, octagonal: 8, hexadecagonal: 16,
};

export function channelsOfLayout(layout: string): number | undefined {
  const named = LAYOUT_CHANNELS[layout];
  if (named !== undefined) return named;
  const counted = /^(\d+) channels/.exec(layout);
  return counted ? Number(counted[1]) : undefined;
}

/**
 * Reads the stream lines ffmpeg prints before it writes any sample: the source's codec and rate
 * from `Input #0`, the output channel layout from `Output #0`.
 */
export function parseDecodeHeader(stderr: string): { channels: number; sourceSampleRateHz: number; codec: string } | undefined {
  const outputAt = stderr.indexOf('Output #0');
  if (outputAt < 0) return undefined;
  const out = /Stream #0:\d+.*?: Audio: pcm_f32le[^,]*, (\d+) Hz, ([^,]+),/.exec(stderr.slice(outputAt));
  if (!out) return undefined;
  const channels = channelsOfLayout(out[2]!.trim());
  if (channels === undefined) return undefined;
  const input = /Stream #0:\d+.*?: Audio: ([^, ]+)[^,]*, (\d+) Hz/.exec(stderr.slice(0, outputAt));
  return { channels, sourceSampleRateHz: input ? Number(input[2]) : Number(out[1]), codec: input?.[1] ?? 'unknown' };
}

/** Checks the path before ffmpeg sees it, so the error names the real problem. */
export async function assertReadableFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw usageError('E_INPUT_MISSING', `input not found: ${path}`, 'check the path and try again');
  }
  if (!info.isFile()) throw usageError('E_INPUT_NOT_FILE', `input is not a file: ${path}`, 'give the path of an audio file');
  try {
    await access(path, constants.R_OK);
  } catch {
    throw usageError('E_INPUT_UNREADABLE', `input is not readable: ${path}`, 'check the file permissions');
  }
}

function decodeFailure(path: string, error: ProcessError): BeatloomError {
  const tail = error.stderrTail;
  if (/matches no streams|does not contain any stream/i.test(tail)) {
    return usageError('E_AUDIO_NO_STREAM', `no audio stream in ${path}`, 'give a file that contains audio (mp3, wav, flac, ogg, m4a, …)', error);
  }
  if (/Invalid data found|could not find codec|Unknown input format|moov atom not found|Invalid argument|End of file/i.test(tail)) {
    return usageError('E_AUDIO_UNREADABLE', `not an audio file ffmpeg can decode: ${path}`, 'give an mp3, wav, flac, ogg, opus or m4a file', error);
  }
  return error;
}

/**
 * Streams the first audio stream as mono float chunks at `sampleRateHz`. Memory stays bounded by
 * the consumer: nothing here holds more than the chunks that wait for the channel count.
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
  const pending: Buffer[] = [];
  let carry = Buffer.alloc(0);
  const frameBytes = (): number => 4 * (header?.channels ?? 1);
  try {
    for await (const chunk of proc.child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      if (header === undefined) {
        // Samples can arrive before stderr has named the layout; hold them until it has.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (header === undefined) continue;
      }
      const data = Buffer.concat([carry, ...pending]);
      pending.length = 0;
      const usable = data.length - (data.length % frameBytes());
      carry = Buffer.from(data.subarray(usable));
      if (usable > 0) yield downmix(data.subarray(0, usable), header.channels);
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
    const data = Buffer.concat([carry, ...pending]);
    const usable = data.length - (data.length % frameBytes());
    if (usable > 0) yield downmix(data.subarray(0, usable), header.channels);
  }
}

/** Interleaved float32 little-endian → mono average. */
export function downmix(bytes: Buffer, channels: number): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  const interleaved = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
  if (channels === 1) return Float32Array.from(interleaved);
  const frames = interleaved.length / channels;
  const mono = new Float32Array(frames);
  const scale = 1 / channels;
  for (let i = 0, j = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[j++]!;
    mono[i] = sum * scale;
  }
  return mono;
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
    throw usageError('E_AUDIO_EMPTY', `no audio samples could be decoded from ${path}`, 'check that the file plays; re-export it if it is damaged');
  }
  return { ...info, samples: buffer.slice(0, length), sampleCount: length };
}
