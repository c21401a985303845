/**
 * Time plots: a figure is a stack of panels sharing one time axis (seconds). A panel holds line
 * series, filled areas (a waveform's min/max), vertical markers (beats) and shaded spans
 * (sections), each optionally labelled. `layoutFigure` turns the figure into a display list of
 * pixel-space primitives; `renderSvg` and `renderPng` draw that list, so both outputs show the
 * same picture.
 */

export type Rgb = readonly [number, number, number];

/** Samples at startSec + i · stepSec, or at explicit times. */
export type TimeAxis =
  { readonly startSec: number; readonly stepSec: number } | { readonly timesSec: ArrayLike<number> };

export interface LineSeries {
  readonly label?: string;
  readonly color: Rgb;
  readonly widthPx?: number;
  readonly time: TimeAxis;
  readonly values: ArrayLike<number>;
}

export interface AreaSeries {
  readonly label?: string;
  readonly color: Rgb;
  readonly time: TimeAxis;
  readonly lower: ArrayLike<number>;
  readonly upper: ArrayLike<number>;
}

export interface Marker {
  readonly timeSec: number;
  readonly color: Rgb;
  readonly widthPx?: number;
  readonly label?: string;
}

export interface Span {
  readonly startSec: number;
  readonly endSec: number;
  readonly color: Rgb;
  /** 0..1; spans sit behind everything else in their panel. */
  readonly opacity?: number;
  readonly label?: string;
}

export interface Panel {
  readonly title?: string;
  readonly heightPx: number;
  /** Value range of the y axis; defaults to the data's range. */
  readonly yMin?: number;
  readonly yMax?: number;
  readonly spans?: readonly Span[];
  readonly areas?: readonly AreaSeries[];
  readonly lines?: readonly LineSeries[];
  readonly markers?: readonly Marker[];
}

export interface Figure {
  readonly title?: string;
  readonly widthPx: number;
  readonly startSec: number;
  readonly endSec: number;
  readonly panels: readonly Panel[];
  readonly background?: Rgb;
}

export type Primitive =
  | {
      readonly kind: 'rect';
      readonly x: number;
      readonly y: number;
      readonly w: number;
      readonly h: number;
      readonly color: Rgb;
      readonly opacity: number;
    }
  | { readonly kind: 'polyline'; readonly points: readonly number[]; readonly color: Rgb; readonly widthPx: number }
  | {
      readonly kind: 'text';
      readonly x: number;
      readonly y: number;
      readonly text: string;
      readonly color: Rgb;
      readonly scale: number;
    };

export interface Layout {
  readonly widthPx: number;
  readonly heightPx: number;
  readonly background: Rgb;
  readonly primitives: Primitive[];
}

/** Text is drawn with a 5×7 pixel font at this scale; a line of text is this tall. */
export const TEXT_SCALE = 2;
export const TEXT_HEIGHT_PX = 7 * TEXT_SCALE;
const MARGIN = { left: 12, right: 12, top: 10, bottom: 30 };
const PANEL_GAP = 26;
const AXIS_COLOR: Rgb = [110, 110, 120];
const TEXT_COLOR: Rgb = [30, 30, 36];
const FRAME_COLOR: Rgb = [200, 200, 208];

function timeAt(axis: TimeAxis, i: number): number {
  return 'timesSec' in axis ? axis.timesSec[i]! : axis.startSec + i * axis.stepSec;
}

function niceStep(rangeSec: number, maxTicks: number): number {
  const raw = rangeSec / Math.max(1, maxTicks);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

export function formatTime(sec: number): string {
  if (sec < 60) return `${Number(sec.toFixed(2))}S`;
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return `${m}:${s.toFixed(0).padStart(2, '0')}`;
}

function dataRange(panel: Panel): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const scan = (values: ArrayLike<number>): void => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  };
  for (const l of panel.lines ?? []) scan(l.values);
  for (const a of panel.areas ?? []) {
    scan(a.lower);
    scan(a.upper);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi - lo < 1e-12) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

/**
 * Reduces a series to at most two points per pixel column (its min and max, in time order), so
 * an hour of envelope frames draws as fast as a minute and keeps every peak.
 */
function columnPoints(
  time: TimeAxis,
  values: ArrayLike<number>,
  xOf: (t: number) => number,
  yOf: (v: number) => number,
  x0: number,
  x1: number,
): number[] {
  const points: number[] = [];
  let column = Number.NaN;
  let minV = 0;
  let maxV = 0;
  let minFirst = true;
  const flush = (): void => {
    if (Number.isNaN(column)) return;
    const a = minFirst ? minV : maxV;
    const b = minFirst ? maxV : minV;
    points.push(column + 0.5, yOf(a));
    if (b !== a) points.push(column + 0.5, yOf(b));
  };
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    const x = xOf(timeAt(time, i));
    if (x < x0 - 1 || x > x1 + 1) continue;
    const c = Math.floor(x);
    if (c !== column) {
      flush();
      column = c;
      minV = v;
      maxV = v;
      minFirst = true;
    } else {
      if (v < minV) {
        minV = v;
        minFirst = false;
      }
      if (v > maxV) maxV = v;
    }
  }
  flush();
  return points;
}

export function layoutFigure(figure: Figure): Layout {
  const primitives: Primitive[] = [];
  const width = Math.max(200, Math.round(figure.widthPx));
  const plotLeft = MARGIN.left;
  const plotRight = width - MARGIN.right;
  const span = Math.max(1e-9, figure.endSec - figure.startSec);
  const xOf = (t: number): number => plotLeft + ((t - figure.startSec) / span) * (plotRight - plotLeft);
  let y = MARGIN.top;
  if (figure.title) {
    primitives.push({ kind: 'text', x: plotLeft, y, text: figure.title, color: TEXT_COLOR, scale: TEXT_SCALE });
    y += TEXT_HEIGHT_PX + 10;
  }
  for (const panel of figure.panels) {
    if (panel.title) {
      primitives.push({ kind: 'text', x: plotLeft, y, text: panel.title, color: AXIS_COLOR, scale: TEXT_SCALE });
      y += TEXT_HEIGHT_PX + 4;
    }
    const top = y;
    const height = Math.max(10, Math.round(panel.heightPx));
    const bottom = top + height;
    const [dataLo, dataHi] = dataRange(panel);
    const lo = panel.yMin ?? dataLo;
    const hi = panel.yMax ?? dataHi;
    const yOf = (v: number): number => bottom - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo || 1)) * height;
    const clampX = (x: number): number => Math.min(plotRight, Math.max(plotLeft, x));

    primitives.push({
      kind: 'rect',
      x: plotLeft,
      y: top,
      w: plotRight - plotLeft,
      h: height,
      color: FRAME_COLOR,
      opacity: 0.25,
    });
    for (const s of panel.spans ?? []) {
      const x0 = clampX(xOf(s.startSec));
      const x1 = clampX(xOf(s.endSec));
      if (x1 <= x0) continue;
      primitives.push({
        kind: 'rect',
        x: x0,
        y: top,
        w: x1 - x0,
        h: height,
        color: s.color,
        opacity: s.opacity ?? 0.2,
      });
      if (s.label && x1 - x0 > 24)
        primitives.push({ kind: 'text', x: x0 + 4, y: top + 4, text: s.label, color: TEXT_COLOR, scale: TEXT_SCALE });
    }
    for (const a of panel.areas ?? []) {
      // One bar per pixel column from the lowest lower value to the highest upper value.
      const columns = new Map<number, [number, number]>();
      for (let i = 0; i < a.lower.length; i++) {
        const x = xOf(timeAt(a.time, i));
        if (x < plotLeft || x >= plotRight) continue;
        const c = Math.floor(x);
        const entry = columns.get(c);
        const l = a.lower[i]!;
        const u = a.upper[i]!;
        if (entry) {
          entry[0] = Math.min(entry[0], l);
          entry[1] = Math.max(entry[1], u);
        } else columns.set(c, [l, u]);
      }
      for (const [c, [l, u]] of columns) {
        const y0 = yOf(u);
        const y1 = yOf(l);
        primitives.push({ kind: 'rect', x: c, y: y0, w: 1, h: Math.max(1, y1 - y0), color: a.color, opacity: 1 });
      }
    }
    for (const m of panel.markers ?? []) {
      const x = xOf(m.timeSec);
      if (x < plotLeft || x > plotRight) continue;
      const w = m.widthPx ?? 1;
      primitives.push({ kind: 'rect', x: x - w / 2, y: top, w, h: height, color: m.color, opacity: 1 });
      if (m.label)
        primitives.push({
          kind: 'text',
          x: x + 3,
          y: bottom - TEXT_HEIGHT_PX - 3,
          text: m.label,
          color: m.color,
          scale: TEXT_SCALE,
        });
    }
    for (const l of panel.lines ?? []) {
      const points = columnPoints(l.time, l.values, xOf, yOf, plotLeft, plotRight);
      if (points.length >= 2) primitives.push({ kind: 'polyline', points, color: l.color, widthPx: l.widthPx ?? 1.5 });
    }
    // Legend: the labelled series, right-aligned on the title line.
    const legend = [...(panel.lines ?? []), ...(panel.areas ?? [])].filter((s) => s.label);
    let legendX = plotRight;
    for (const s of legend.reverse()) {
      const text = s.label!;
      const textW = (text.length * 6 - 1) * TEXT_SCALE;
      legendX -= textW;
      primitives.push({
        kind: 'text',
        x: legendX,
        y: top - TEXT_HEIGHT_PX - 4,
        text,
        color: s.color,
        scale: TEXT_SCALE,
      });
      legendX -= 16;
    }
    y = bottom + PANEL_GAP;
  }
  // Time axis under the last panel.
  const axisY = y - PANEL_GAP + 4;
  const step = niceStep(span, Math.floor((plotRight - plotLeft) / 90));
  for (let t = Math.ceil(figure.startSec / step) * step; t <= figure.endSec + 1e-9; t += step) {
    const x = xOf(t);
    primitives.push({ kind: 'rect', x, y: axisY - 4, w: 1, h: 4, color: AXIS_COLOR, opacity: 1 });
    primitives.push({
      kind: 'text',
      x: x + 2,
      y: axisY + 2,
      text: formatTime(Number(t.toFixed(6))),
      color: AXIS_COLOR,
      scale: TEXT_SCALE,
    });
  }
  return {
    widthPx: width,
    heightPx: axisY + TEXT_HEIGHT_PX + MARGIN.bottom - 12,
    background: figure.background ?? [255, 255, 255],
    primitives,
  };
}
