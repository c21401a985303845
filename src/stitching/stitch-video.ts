/**
 * Segments' frames → one video with the song: frames are read in timeline order, overlaps are
 * crossfaded, and raw RGB is streamed into ffmpeg, which muxes the song cut to its exact decoded
 * duration. Only the frames being blended are in memory at any time.
 */
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeVideoArgs, type EncodeOptions, type VideoCodec } from '../ffmpeg/args.js';
import { ffmpegPath } from '../ffmpeg/ffmpeg-path.js';
import { spawnProcess } from '../ffmpeg/run-process.js';
import { frameSources, type PlannedSegment } from '../keyframes/plan-segments.js';
import type { Rational, SampleDuration } from '../keyframes/time.js';
import { BeatloomError, throwIfAborted } from '../shared/errors.js';
import { tempPathFor } from '../shared/fs-atomic.js';
import { decodePng } from '../shared/png.js';
import type { TaskOptions } from '../shared/progress.js';

export interface EncodeSettings {
  readonly codec: VideoCodec;
  readonly crf: number;
  readonly preset: string;
  readonly pixelFormat: string;
  readonly audioBitrateKbps: number;
}

export const DEFAULT_ENCODE_SETTINGS: EncodeSettings = { codec: 'h264', crf: 18, preset: 'medium', pixelFormat: 'yuv420p', audioBitrateKbps: 192 };

export interface StitchInput {
  readonly segments: readonly PlannedSegment[];
  readonly frameCount: number;
  readonly width: number;
  readonly height: number;
  readonly fps: Rational;
  /** Folder holding segment i's frames. */
  readonly segmentDir: (segmentIndex: number) => string;
  /** File name of local frame j inside a segment folder. */
  readonly frameFile: (localFrame: number) => string;
}

export interface StitchOutput {
  readonly audioPath: string;
  readonly duration: SampleDuration;
  readonly outPath: string;
  readonly encode: EncodeSettings;
}

/** Blends the sources of one timeline frame into `out` (weights sum to 1). */
export function blendInto(out: Uint8Array, layers: ReadonlyArray<{ data: Uint8Array; weight: number }>): void {
  if (layers.length === 1) {
    out.set(layers[0]!.data);
    return;
  }
  const [a, b] = layers as [{ data: Uint8Array; weight: number }, { data: Uint8Array; weight: number }];
  const wb = b.weight;
  for (let p = 0; p < out.length; p++) out[p] = Math.round(a.data[p]! + (b.data[p]! - a.data[p]!) * wb);
}

export async function stitchVideo(input: StitchInput, output: StitchOutput, options: TaskOptions = {}): Promise<void> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const tempPath = tempPathFor(output.outPath);
  const args: EncodeOptions = {
    width: input.width,
    height: input.height,
    fps: input.fps,
    audioPath: output.audioPath,
    duration: output.duration,
    outPath: tempPath,
    ...output.encode,
  };
  const proc = spawnProcess(ffmpegPath(), encodeVideoArgs(args), { signal });
  proc.child.stdout.resume();
  const frameBytes = input.width * input.height * 3;
  try {
    for (let f = 0; f < input.frameCount; f++) {
      throwIfAborted(signal);
      const sources = frameSources(input.segments, f);
      const layers = await Promise.all(
        sources.map(async (source) => {
          const path = join(input.segmentDir(source.segment), input.frameFile(source.localFrame));
          const image = decodePng(await readFile(path), path);
          if (image.width !== input.width || image.height !== input.height) {
            throw new BeatloomError('E_FRAME_SIZE', `${path} is ${image.width}x${image.height}, expected ${input.width}x${input.height}`, {
              hint: 'render again with --force',
            });
          }
          return { data: image.data, weight: source.weight };
        }),
      );
      const frame = new Uint8Array(frameBytes);
      blendInto(frame, layers);
      if (!proc.child.stdin.write(frame)) {
        await new Promise<void>((resolve, reject) => {
          proc.child.stdin.once('drain', resolve);
          proc.done.catch(reject);
        });
      }
      onProgress?.({ stage: 'stitch', done: f + 1, total: input.frameCount, unit: 'frames' });
    }
    proc.child.stdin.end();
    await proc.done;
    await rename(tempPath, output.outPath);
  } catch (error) {
    proc.child.kill('SIGKILL');
    await proc.done.catch(() => undefined);
    await rm(tempPath, { force: true });
    throw error;
  }
}
