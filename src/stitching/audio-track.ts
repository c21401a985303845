/**
 * The song's track in the output, planned to the sample so that a decoder gives back exactly the
 * song: D = sampleCount / sampleRateHz, no more, no less.
 *
 * AAC codes 1024-sample frames after 1024 samples of encoder priming. ffmpeg's mp4 muxer writes the
 * priming into the edit list's start, which every decoder honours, and the true end into the edit
 * list's length and the last packet's duration, which this ffmpeg's decoder (2018) ignores: it
 * returns whole frames, so a song decoded up to 1023 samples long (21 ms at 48 kHz, more than a
 * frame at 60 fps). Measured: 441 542 samples in → 442 368 out. Fix: put P samples of silence
 * before the song, P = (−n) mod 1024, and move the timestamps back by P. The muxer adds P to the
 * edit list's start, decoders skip priming + P, and priming + P + n is a whole number of frames, so
 * the last frame ends on the song's last sample and there is nothing to trim. Measured: 480 590
 * samples in → 480 590 out, the first click at sample 24 000 exactly as in the song.
 *
 * Opus in WebM needs none of this: the muxer writes DiscardPadding and decoders honour it
 * (measured exact), so P = 0 there.
 */
import { mkdir, open, rename, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeAudioTrackArgs, type VideoCodec } from '../ffmpeg/args.js';
import { ffmpegPath } from '../ffmpeg/ffmpeg-path.js';
import { runProcess } from '../ffmpeg/run-process.js';
import type { SampleDuration } from '../shared/media-time.js';
import { tempPathFor } from '../shared/fs-atomic.js';
import { hashValue } from '../shared/hash.js';
import { BeatloomError } from '../shared/errors.js';

/** The rate of every output track: the video norm, and Opus's only rate. */
export const OUTPUT_AUDIO_SAMPLE_RATE_HZ = 48_000;
export const AAC_FRAME_SAMPLES = 1024;

export interface AudioTrackPlan {
  readonly sampleRateHz: number;
  /** Samples of the song in the output: ceil(D · rate), so the track is never shorter than the song. */
  readonly sampleCount: number;
  /** Silence before the song that the edit list hides (AAC only). */
  readonly prerollSamples: number;
}

export function planAudioTrack(
  duration: SampleDuration,
  codec: VideoCodec,
  sampleRateHz = OUTPUT_AUDIO_SAMPLE_RATE_HZ,
): AudioTrackPlan {
  const num = BigInt(duration.sampleCount) * BigInt(sampleRateHz);
  const den = BigInt(duration.sampleRateHz);
  const sampleCount = Number((num + den - 1n) / den);
  switch (codec) {
    case 'h264':
    case 'h265':
      return {
        sampleRateHz,
        sampleCount,
        prerollSamples: (AAC_FRAME_SAMPLES - (sampleCount % AAC_FRAME_SAMPLES)) % AAC_FRAME_SAMPLES,
      };
    case 'vp9':
      return { sampleRateHz, sampleCount, prerollSamples: 0 };
  }
}

/** Bumped whenever the way a track is made changes, so old cached tracks are not reused. */
const AUDIO_TRACK_VERSION = 1;

export interface AudioTrackRequest {
  readonly songPath: string;
  /** Identifies the song's content (its SHA-256): a changed file never reuses an old track. */
  readonly songKey: string;
  readonly duration: SampleDuration;
  readonly codec: VideoCodec;
  readonly bitrateKbps: number;
}

/** The file a prepared track is kept in: everything that decides its bytes is in the name. */
export function audioTrackFileName(request: AudioTrackRequest): string {
  const plan = planAudioTrack(request.duration, request.codec);
  const family = request.codec === 'vp9' ? 'opus' : 'aac';
  const key = hashValue({
    song: request.songKey,
    plan,
    family,
    bitrateKbps: request.bitrateKbps,
    version: AUDIO_TRACK_VERSION,
  });
  return `audio-${family}-${key.slice(0, 16)}.${family === 'opus' ? 'webm' : 'm4a'}`;
}

/**
 * Whether `path` holds a whole track: an MP4/M4A whose top-level boxes run exactly to the end
 * of the file and include the index (moov) and the data (mdat), or a WebM that starts with
 * its EBML header and is not empty. Reads only box headers.
 */
export async function isCompleteTrack(path: string, container: 'mp4' | 'webm'): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const head = Buffer.alloc(16);
    if (container === 'webm') {
      await handle.read(head, 0, 4, 0);
      return size > 64 && head.readUInt32BE(0) === 0x1a45dfa3;
    }
    const seen = new Set<string>();
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(head, 0, 16, at);
      if (bytesRead < 8) return false;
      let box = head.readUInt32BE(0);
      seen.add(head.toString('latin1', 4, 8));
      if (box === 1) {
        if (bytesRead < 16) return false;
        box = Number(head.readBigUInt64BE(8));
      } else if (box === 0) box = size - at;
      if (box < 8) return false;
      at += box;
    }
    return at === size && seen.has('moov') && seen.has('mdat');
  } finally {
    await handle.close();
  }
}

/**
 * Encodes the song's track for the output once and keeps it in `dir` (the run directory): the
 * stitch then copies it instead of encoding AAC again, which costs about as much CPU as the x264
 * encode of an 8 fps video (measured: 1.0 s per minute of audio here). The pipeline starts this
 * while segments render, so the stitch does not wait for it; a re-stitch reuses it.
 */
export async function prepareAudioTrack(
  request: AudioTrackRequest,
  dir: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<string> {
  const path = join(dir, audioTrackFileName(request));
  // A track cut short (a disk that filled up while ffmpeg wrote it, which it does not always
  // report) is encoded again, never muxed.
  const container = path.endsWith('.webm') ? 'webm' : 'mp4';
  if (await isCompleteTrack(path, container)) return path;
  await mkdir(dir, { recursive: true });
  const temp = tempPathFor(path);
  const audio = {
    path: request.songPath,
    bitrateKbps: request.bitrateKbps,
    ...planAudioTrack(request.duration, request.codec),
  };
  try {
    await runProcess(ffmpegPath(), encodeAudioTrackArgs(audio, request.codec, temp), { signal: options.signal });
    if (!(await isCompleteTrack(temp, container))) {
      const free = await statfs(dir).then(
        (fs) => fs.bavail * fs.bsize,
        () => undefined,
      );
      throw new BeatloomError('E_DISK_FULL', `the song's track in ${dir} was cut short while it was written`, {
        hint:
          free !== undefined && free < 64 * 1024 * 1024
            ? `free some space on that disk (${Math.round(free / 1024 / 1024)} MB free) and run the same command again`
            : 'check the disk the run directory is on, then run the same command again',
      });
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return path;
}
