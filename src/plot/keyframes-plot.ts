/**
 * The picture of a plan: the waveform with beats, downbeats and sections, the segments (with
 * their transitions and seeds), the prompt schedule, every signal and every parameter curve
 * (per frame, and the value each segment gets), on one time axis.
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import type { Keyframes } from '../keyframes/keyframes-schema.js';
import { frameStartSec, parseFps, type Rational } from '../shared/media-time.js';
import { RasterCanvas, SvgCanvas, type ChartCanvas, type Rgba } from './keyframes-canvas.js';

export const PLOT_FORMATS = ['png', 'svg'] as const;
export type PlotFormat = (typeof PLOT_FORMATS)[number];

export interface KeyframesPlotInput {
  readonly keyframes: Keyframes;
  readonly analysis: Analysis;
  /** The first line of the picture (the song's name). */
  readonly title: string;
}

export interface PlotOptions {
  readonly widthPx?: number;
}

const INK: Rgba = [34, 34, 34, 1];
const MUTED: Rgba = [110, 110, 110, 1];
const LANE_BG: Rgba = [246, 246, 246, 1];
const BEAT: Rgba = [150, 150, 150, 0.35];
const DOWNBEAT: Rgba = [60, 60, 60, 0.55];
const TRANSITION: Rgba = [200, 60, 60, 0.18];
const WAVE: Rgba = [120, 132, 150, 1];
const CURVE: Rgba = [40, 90, 200, 1];
const SEGMENT_VALUE: Rgba = [220, 110, 20, 1];

const SECTION_COLORS: Readonly<Record<string, Rgba>> = {
  intro: [120, 170, 230, 0.22],
  verse: [140, 200, 140, 0.22],
  build: [240, 200, 90, 0.26],
  drop: [235, 110, 90, 0.24],
  break: [170, 140, 220, 0.24],
  outro: [150, 150, 150, 0.22],
};

const LEFT = 130;
const RIGHT = 16;
const LANE_GAP = 8;

/** A colour per seed or prompt index, spread around the hue circle. */
function paletteColor(index: number, alpha = 1): Rgba {
  const hue = (index * 137.508) % 360;
  const c = 0.55;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const [r, g, b] =
    hue < 60
      ? [c, x, 0]
      : hue < 120
        ? [x, c, 0]
        : hue < 180
          ? [0, c, x]
          : hue < 240
            ? [0, x, c]
            : hue < 300
              ? [x, 0, c]
              : [c, 0, x];
  const m = 0.35;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255), alpha];
}

function formatTime(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return `${m}:${s < 10 ? '0' : ''}${Number.isInteger(s) ? s : s.toFixed(1)}`;
}

function formatValue(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** The smallest and largest value (a loop: spreading an hour of frames into Math.min overflows the stack). */
function extent(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]!);
    hi = Math.max(hi, values[i]!);
  }
  return values.length ? [lo, hi] : [0, 0];
}

interface Lane {
  readonly name: string;
  readonly heightPx: number;
  draw(c: ChartCanvas, top: number): void;
}

/** The lanes of the picture, top to bottom. */
function lanesFor(input: KeyframesPlotInput, x: (sec: number) => number, fps: Rational): Lane[] {
  const { keyframes, analysis } = input;
  const frameX = (f: number): number => x(frameStartSec(f, fps));
  const endX = x(keyframes.durationSec);
  const lanes: Lane[] = [];

  lanes.push({
    name: 'audio',
    heightPx: 130,
    draw(c, top) {
      const h = 130;
      for (const s of analysis.sections) {
        c.rect(
          x(s.startSec),
          top,
          x(Math.min(s.endSec, keyframes.durationSec)) - x(s.startSec),
          h,
          SECTION_COLORS[s.label] ?? SECTION_COLORS.verse!,
        );
        c.text(x(s.startSec) + 4, top + 3, s.label, INK, { size: 'small' });
      }
      const env = analysis.envelopes;
      const rate = env.sampleRateHz / env.hopSamples;
      const peak = extent(env.rms)[1] || 1e-9;
      const columns = Math.max(1, Math.round(endX - x(0)));
      const mid = top + h / 2 + 6;
      const amp = (h - 20) / 2;
      for (let col = 0; col < columns; col++) {
        const from = Math.floor((col / columns) * keyframes.durationSec * rate);
        const to = Math.max(from + 1, Math.floor(((col + 1) / columns) * keyframes.durationSec * rate));
        let v = 0;
        for (let i = from; i < Math.min(to, env.rms.length); i++) v = Math.max(v, env.rms[i]!);
        const y = Math.sqrt(v / peak) * amp;
        c.rect(x(0) + col, mid - y, 1, 2 * y + 1, WAVE);
      }
      const beatSpacing = analysis.beats.length > 1 ? x(analysis.beats[1]!) - x(analysis.beats[0]!) : 0;
      if (beatSpacing >= 3) for (const b of analysis.beats) c.line(x(b), top + 14, x(b), top + h, BEAT);
      const barSpacing = beatSpacing * analysis.beatsPerBar;
      if (barSpacing >= 2) for (const d of analysis.downbeats) c.line(x(d), top + 14, x(d), top + h, DOWNBEAT, 1);
    },
  });

  lanes.push({
    name: 'segments',
    heightPx: 40,
    draw(c, top) {
      const row = 16;
      const seeds = [...new Set(keyframes.segments.map((s) => s.seed))];
      keyframes.segments.forEach((s, k) => {
        const y = top + (k % 2) * (row + 4);
        const x0 = frameX(s.startFrame);
        const x1 = frameX(s.startFrame + s.frameCount);
        c.rect(x0, y, x1 - x0, row, paletteColor(seeds.indexOf(s.seed), 0.55));
        if (s.crossfadeFrames > 0) {
          const fadeFrom = s.leadFrame - Math.floor(s.crossfadeFrames / 2);
          c.rect(frameX(fadeFrom), y, frameX(fadeFrom + s.crossfadeFrames) - frameX(fadeFrom), row, [0, 0, 0, 0.18]);
        }
        c.line(frameX(s.leadFrame), y - 1, frameX(s.leadFrame), y + row + 1, INK, 2);
        if (x1 - x0 > 34) c.text(x0 + 3, y + 4, `${k}`, INK, { size: 'small' });
      });
    },
  });

  if (keyframes.prompts.length > 0) {
    lanes.push({
      name: 'prompt',
      heightPx: 34,
      draw(c, top) {
        const h = 22;
        // One stacked bar per frame, or per pixel column when frames are narrower than a pixel.
        const step = Math.max(1, Math.floor(keyframes.frameCount / Math.max(1, endX - x(0))));
        for (let f = 0; f < keyframes.frameCount; f += step) {
          let y = top;
          keyframes.prompts.forEach((p, i) => {
            const w = p.weights[f] ?? 0;
            if (w > 0)
              c.rect(
                frameX(f),
                y,
                frameX(Math.min(keyframes.frameCount, f + step)) - frameX(f) + 0.5,
                h * w,
                paletteColor(i + 3, 0.75),
              );
            y += h * w;
          });
        }
        for (const change of keyframes.promptChanges) {
          const p = keyframes.prompts[change.prompt]!;
          const label = p.prompt.length > 48 ? `${p.prompt.slice(0, 47)}…` : p.prompt;
          c.text(frameX(change.frame) + 2, top + h + 2, label, INK, { size: 'small' });
        }
      },
    });
  }

  const curveLane = (
    name: string,
    values: readonly number[],
    range: readonly [number, number] | undefined,
    perSegment?: (k: number) => number,
  ): Lane => ({
    name,
    heightPx: perSegment ? 60 : 44,
    draw(c, top) {
      const h = perSegment ? 60 : 44;
      const [lo0, hi0] = range ? [Math.min(range[0], range[1]), Math.max(range[0], range[1])] : extent(values);
      const [lo, hi] = hi0 > lo0 ? [lo0, hi0] : [lo0 - 0.5, hi0 + 0.5];
      const y = (v: number): number => top + h - 2 - ((v - lo) / (hi - lo)) * (h - 4);
      c.text(LEFT - 6, top, formatValue(hi), MUTED, { align: 'right', size: 'small' });
      c.text(LEFT - 6, top + h - c.textHeight('small'), formatValue(lo), MUTED, { align: 'right', size: 'small' });
      // One or two points per pixel column: the column's min and max, so a one-frame pulse shows.
      const xs: number[] = [];
      const ys: number[] = [];
      const perColumn = values.length / Math.max(1, endX - x(0));
      if (perColumn <= 1) {
        values.forEach((v, f) => {
          xs.push(frameX(f), frameX(f + 1));
          ys.push(y(v), y(v));
        });
      } else {
        const columns = Math.ceil(endX - x(0));
        for (let col = 0; col < columns; col++) {
          const from = Math.floor(col * perColumn);
          const to = Math.min(values.length, Math.max(from + 1, Math.floor((col + 1) * perColumn)));
          let mn = Infinity;
          let mx = -Infinity;
          for (let f = from; f < to; f++) {
            mn = Math.min(mn, values[f]!);
            mx = Math.max(mx, values[f]!);
          }
          xs.push(x(0) + col, x(0) + col + 0.5);
          ys.push(y(mx), y(mn));
        }
      }
      c.polyline(xs, ys, CURVE, 1);
      if (perSegment) {
        keyframes.segments.forEach((s, k) => {
          const next = keyframes.segments[k + 1];
          const vy = y(perSegment(k));
          c.line(frameX(s.leadFrame), vy, frameX(next ? next.leadFrame : keyframes.frameCount), vy, SEGMENT_VALUE, 2);
        });
      }
    },
  });

  for (const [name, values] of Object.entries(keyframes.signals)) lanes.push(curveLane(name, values, undefined));
  const k = keyframes;
  lanes.push(curveLane('motion scale', k.curves.motionScale, undefined, (i) => k.segments[i]!.motionScale));
  lanes.push(curveLane('denoise', k.curves.denoise, undefined, (i) => k.segments[i]!.denoise));
  lanes.push(curveLane('cfg', k.curves.cfg, undefined, (i) => k.segments[i]!.cfg));
  for (const [name, values] of Object.entries(k.curves.loras)) {
    lanes.push(
      curveLane(
        `lora ${name}`,
        values,
        undefined,
        (i) => k.segments[i]!.loras.find((l) => l.name === name)?.strength ?? 0,
      ),
    );
  }
  return lanes;
}

/** A tick step in seconds that keeps labels at least `minPx` apart. */
function tickStep(durationSec: number, widthPx: number, minPx = 70): number {
  for (const step of [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200])
    if ((step / Math.max(1e-9, durationSec)) * widthPx >= minPx) return step;
  return 3600;
}

export function drawKeyframesPlot(c: ChartCanvas, input: KeyframesPlotInput): void {
  const { keyframes, analysis } = input;
  const fps = parseFps(keyframes.fps);
  const plotWidth = c.width - LEFT - RIGHT;
  const x = (sec: number): number => LEFT + (sec / Math.max(1e-9, keyframes.durationSec)) * plotWidth;
  c.rect(0, 0, c.width, c.height, [255, 255, 255, 1]);
  const bpm = analysis.bpm ? `${analysis.bpm} BPM, ${analysis.beatsPerBar}/4` : 'no beat';
  c.text(
    LEFT,
    8,
    `${input.title} — ${bpm}, ${keyframes.fps} fps, ${keyframes.frameCount} frames, ${keyframes.segments.length} segments`,
    INK,
  );

  let top = 8 + c.textHeight() + 12;
  const lanes = lanesFor(input, x, fps);
  const lanesTop = top;
  for (const lane of lanes) {
    c.rect(LEFT, top, plotWidth, lane.heightPx, LANE_BG);
    lane.draw(c, top);
    c.text(8, top + lane.heightPx / 2 - c.textHeight('small') / 2, lane.name, INK, { size: 'small' });
    top += lane.heightPx + LANE_GAP;
  }
  // Transitions across every lane below the audio, so curves can be read against the cuts.
  const below = lanesTop + lanes[0]!.heightPx + LANE_GAP;
  for (const s of keyframes.segments.slice(1)) {
    const tx = x(frameStartSec(s.leadFrame, fps));
    c.line(tx, below, tx, top - LANE_GAP, TRANSITION);
  }
  // Time axis.
  const step = tickStep(keyframes.durationSec, plotWidth);
  for (let t = 0; t <= keyframes.durationSec + 1e-9; t += step) {
    c.line(x(t), top - 4, x(t), top + 2, INK);
    c.text(x(t), top + 5, formatTime(t), INK, { align: 'center', size: 'small' });
  }
  c.text(8, top + 5, 'time', INK, { size: 'small' });
  c.text(
    LEFT,
    top + 22,
    'blue: per frame; orange: the value each segment gets, from its lead frame (black tick) to the next; grey: crossfades; segment colours: seeds',
    MUTED,
    { size: 'small' },
  );
}

export function plotHeightFor(input: KeyframesPlotInput): number {
  const lanes = lanesFor(input, () => 0, parseFps(input.keyframes.fps));
  return 8 + 16 + 12 + lanes.reduce((sum, lane) => sum + lane.heightPx + LANE_GAP, 0) + 44;
}

/** The plot as PNG bytes or SVG text. */
export function plotKeyframes(
  input: KeyframesPlotInput,
  format: PlotFormat,
  options: PlotOptions = {},
): Uint8Array | string {
  const width = options.widthPx ?? 1600;
  const height = plotHeightFor(input);
  switch (format) {
    case 'svg': {
      const canvas = new SvgCanvas(width, height);
      drawKeyframesPlot(canvas, input);
      return canvas.toSvg();
    }
    case 'png': {
      const canvas = new RasterCanvas(width, height);
      drawKeyframesPlot(canvas, input);
      return canvas.toPng();
    }
  }
}
