/**
 * Streams the blended timeline frames in order with bounded memory. Files for the next
 * `lookahead` frames are read and inflated ahead (on libuv's thread pool, in parallel with the
 * main thread and the encoder); the main thread unfilters into a small pool of frame buffers and
 * blends crossfades in place. Nothing grows with the length of the song: at most `lookahead`
 * frames of compressed and inflated data plus the pool are alive at any time.
 */
import { readFile } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { CrossfadeCurve } from '../config/mapping-schema.js';
import type { PlannedSegment } from '../keyframes/plan-segments.js';
import { BeatloomError, throwIfAborted } from '../shared/errors.js';
import { inflatePngData, isFastPathPng, readPngLayout, rgbFromScanlines, decodePngAsync, type PngLayout } from '../shared/png.js';
import { blendInto } from './blend-frames.js';
import { frameSources, type FrameSource } from './frame-sources.js';

/** The rendered segments and where their frames are. */
export interface SegmentFrames {
  readonly segments: readonly PlannedSegment[];
  readonly frameCount: number;
  readonly width: number;
  readonly height: number;
  /** Folder holding segment i's frames. */
  readonly segmentDir: (segmentIndex: number) => string;
  /** File name of local frame j inside a segment folder. */
  readonly frameFile: (localFrame: number) => string;
}

export interface TimelineInput extends SegmentFrames {
  readonly curve: CrossfadeCurve;
}

export interface TimelineFrame {
  readonly index: number;
  /** width · height · 3 bytes of RGB; valid until release() is called. */
  readonly data: Uint8Array;
  readonly sources: readonly FrameSource[];
  /** Gives the buffer back to the pool (call once the frame has been written). */
  release(): void;
}

export interface TimelineOptions {
  readonly signal?: AbortSignal;
  /** Frames read and inflated ahead of the one being blended. */
  readonly lookahead?: number;
  /** Frame buffers in the pool: frames handed out and not yet released, at most. */
  readonly poolSize?: number;
}

// The callback API: fs/promises' readFile costs several times more main-thread time per file
// (FileHandle open, fstat, read, close as separate promises; measured with --cpu-prof).
const readFileAsync = promisify(readFile);

/** How far ahead files are read and inflated: enough to keep the thread pool busy, measured in bench/stitch. */
export const DEFAULT_LOOKAHEAD = 6;
export const DEFAULT_POOL_SIZE = 3;

interface LoadedLayer {
  readonly path: string;
  readonly weight: number;
  readonly layout: PngLayout;
  /** Inflated scanlines, or (for PNGs off the fast path) RGB already decoded. */
  readonly raw: Uint8Array;
  readonly decoded: boolean;
}

/** A fixed set of equal buffers; acquire() waits while all are out. */
class BufferPool {
  private readonly free: Uint8Array[] = [];
  private readonly waiting: Array<(buffer: Uint8Array) => void> = [];
  constructor(size: number, count: number) {
    for (let i = 0; i < count; i++) this.free.push(new Uint8Array(size));
  }
  acquire(): Promise<Uint8Array> {
    const buffer = this.free.pop();
    return buffer ? Promise.resolve(buffer) : new Promise((resolve) => this.waiting.push(resolve));
  }
  release(buffer: Uint8Array): void {
    const next = this.waiting.shift();
    if (next) next(buffer);
    else this.free.push(buffer);
  }
}

async function loadLayer(path: string, weight: number, width: number, height: number): Promise<LoadedLayer> {
  let file: Buffer;
  try {
    file = await readFileAsync(path);
  } catch (error) {
    throw new BeatloomError('E_FRAME_MISSING', `cannot read segment frame ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      hint: 'render again: the run directory is missing finished segments',
      cause: error,
    });
  }
  const layout = readPngLayout(file, path);
  if (layout.width !== width || layout.height !== height) {
    throw new BeatloomError('E_FRAME_SIZE', `${path} is ${layout.width}x${layout.height}, expected ${width}x${height}`, { hint: 'render again with --force' });
  }
  if (!isFastPathPng(layout)) return { path, weight, layout, raw: (await decodePngAsync(file, path)).data, decoded: true };
  return { path, weight, layout, raw: await inflatePngData(layout, path), decoded: false };
}

function toRgb(layer: LoadedLayer, out: Uint8Array): void {
  if (layer.decoded) out.set(layer.raw);
  else rgbFromScanlines(layer.raw, layer.layout, out, layer.path);
}

export async function* timelineFrames(input: TimelineInput, options: TimelineOptions = {}): AsyncGenerator<TimelineFrame> {
  const { signal } = options;
  const lookahead = Math.max(1, options.lookahead ?? DEFAULT_LOOKAHEAD);
  const frameBytes = input.width * input.height * 3;
  const pool = new BufferPool(frameBytes, Math.max(1, options.poolSize ?? DEFAULT_POOL_SIZE));
  const scratch = new Uint8Array(frameBytes);

  const start = (f: number): { sources: FrameSource[]; layers: Promise<LoadedLayer[]> } => {
    const sources = frameSources(input.segments, f, input.curve);
    const layers = Promise.all(
      sources.map((s) => loadLayer(join(input.segmentDir(s.segment), input.frameFile(s.localFrame)), s.weight, input.width, input.height)),
    );
    // Awaited in order below; until then a failure must not count as unhandled.
    layers.catch(() => undefined);
    return { sources, layers };
  };

  const ahead: Array<ReturnType<typeof start>> = [];
  let next = 0;
  for (let f = 0; f < input.frameCount; f++) {
    throwIfAborted(signal);
    while (next < input.frameCount && next < f + lookahead) ahead.push(start(next++));
    const { sources, layers } = ahead.shift()!;
    const loaded = await layers;
    const out = await pool.acquire();
    toRgb(loaded[0]!, out);
    if (loaded.length === 2) {
      toRgb(loaded[1]!, scratch);
      blendInto(out, out, scratch, loaded[1]!.weight);
    }
    yield { index: f, data: out, sources, release: () => pool.release(out) };
  }
}
