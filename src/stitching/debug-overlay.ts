/**
 * A debug overlay for previews: frame number and time, the segment (or the two being
 * crossfaded, with the incoming weight), motion scale and denoise, and a beat mark — a square
 * that lights on every frame holding a beat, red and labelled BAR on bar starts. It is drawn
 * into the blended frame, before any upscale, so it is part of what the frame shows.
 */
import { drawText, GLYPH_HEIGHT, textWidth } from '../raster/bitmap-font.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { frameAtSec, frameStartSec, type Rational } from '../shared/media-time.js';
import type { FrameSource } from './frame-sources.js';

/** What the overlay shows, per timeline frame and per segment. */
export interface DebugOverlayData {
  /** Motion scale of every timeline frame. */
  readonly motionScale: readonly number[];
  /** Denoise of every segment. */
  readonly denoise: readonly number[];
  readonly beatFrames: ReadonlySet<number>;
  readonly downbeatFrames: ReadonlySet<number>;
}

/** Overlay data from the keyframes (motion scale per frame, denoise per segment) and the song's beats. */
export function overlayDataFor(
  keyframes: Pick<Keyframes, 'curves' | 'segments'>,
  beats: { readonly beats: readonly number[]; readonly downbeats: readonly number[] },
  fps: Rational,
): DebugOverlayData {
  return {
    motionScale: keyframes.curves.motionScale,
    denoise: keyframes.segments.map((s) => s.denoise),
    beatFrames: new Set(beats.beats.map((t) => frameAtSec(t, fps))),
    downbeatFrames: new Set(beats.downbeats.map((t) => frameAtSec(t, fps))),
  };
}

const WHITE = [255, 255, 255] as const;
const BEAT_COLOR = [255, 255, 255] as const;
const BAR_COLOR = [255, 64, 48] as const;

/** The overlay's text lines for one frame. */
export function overlayLines(
  frame: number,
  fps: Rational,
  sources: readonly FrameSource[],
  data: DebugOverlayData,
): string[] {
  const segment =
    sources.length === 1
      ? `SEG ${sources[0]!.segment}`
      : `SEG ${sources[0]!.segment}>${sources[1]!.segment} ${Math.round(sources[1]!.weight * 100)}%`;
  const leading = sources.reduce((a, b) => (b.weight > a.weight ? b : a));
  const ms = data.motionScale[frame];
  const dn = data.denoise[leading.segment];
  return [
    `F ${frame} T ${frameStartSec(frame, fps).toFixed(3)}`,
    segment,
    `MS ${ms === undefined ? '-' : ms.toFixed(2)} DN ${dn === undefined ? '-' : dn.toFixed(2)}`,
  ];
}

function fillRect(
  rgb: Uint8Array,
  width: number,
  height: number,
  x0: number,
  y0: number,
  w: number,
  h: number,
  color: readonly [number, number, number],
  alpha: number,
): void {
  for (let y = Math.max(0, y0); y < Math.min(height, y0 + h); y++) {
    for (let x = Math.max(0, x0); x < Math.min(width, x0 + w); x++) {
      const p = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) rgb[p + c] = Math.round(rgb[p + c]! * (1 - alpha) + color[c]! * alpha);
    }
  }
}

export function drawDebugOverlay(
  rgb: Uint8Array,
  width: number,
  height: number,
  frame: number,
  fps: Rational,
  sources: readonly FrameSource[],
  data: DebugOverlayData,
): void {
  const scale = Math.max(1, Math.round(Math.min(width, height) / 256));
  const margin = 3 * scale;
  const lineHeight = (GLYPH_HEIGHT + 3) * scale;
  const lines = overlayLines(frame, fps, sources, data);
  const boxWidth = Math.max(...lines.map((l) => textWidth(l, scale))) + 2 * margin;
  fillRect(rgb, width, height, 0, 0, boxWidth, lines.length * lineHeight + margin, [0, 0, 0], 0.55);
  lines.forEach((line, i) => drawText(rgb, width, height, line, margin, margin + i * lineHeight, scale, WHITE));

  const bar = data.downbeatFrames.has(frame);
  if (bar || data.beatFrames.has(frame)) {
    const size = 12 * scale;
    const label = bar ? 'BAR' : 'BEAT';
    const x = width - size - margin;
    fillRect(rgb, width, height, x, margin, size, size, bar ? BAR_COLOR : BEAT_COLOR, 1);
    drawText(
      rgb,
      width,
      height,
      label,
      x - textWidth(label, scale) - margin,
      margin + Math.floor((size - GLYPH_HEIGHT * scale) / 2),
      scale,
      bar ? BAR_COLOR : BEAT_COLOR,
    );
  }
}
