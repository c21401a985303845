/**
 * A minimal 2-D canvas for charts, with two backends: SVG (text) and PNG (rasterised here, text
 * in the 5×7 bitmap font). The keyframes plot draws through this interface only, so it can move
 * onto another plotting module without changing what it draws.
 */
import { drawText, GLYPH_HEIGHT, textWidth } from '../raster/bitmap-font.js';
import { encodePng } from '../raster/png.js';

/** Red, green, blue 0–255 and opacity 0–1. */
export type Rgba = readonly [number, number, number, number];

export interface TextOptions {
  readonly align?: 'left' | 'center' | 'right';
  /** 'small' for tick labels, 'normal' for lane names. */
  readonly size?: 'small' | 'normal';
}

export interface ChartCanvas {
  readonly width: number;
  readonly height: number;
  rect(x: number, y: number, w: number, h: number, fill: Rgba): void;
  line(x1: number, y1: number, x2: number, y2: number, stroke: Rgba, widthPx?: number): void;
  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, stroke: Rgba, widthPx?: number): void;
  /** Text whose top edge is at y. */
  text(x: number, y: number, text: string, color: Rgba, options?: TextOptions): void;
  /** Height in pixels of a line of text of this size. */
  textHeight(size?: TextOptions['size']): number;
}

const SVG_FONT_PX = { small: 10, normal: 13 } as const;

function svgColor([r, g, b, a]: Rgba): string {
  const hex = `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
  return a >= 1 ? `fill="${hex}"` : `fill="${hex}" fill-opacity="${round(a)}"`;
}

function svgStroke([r, g, b, a]: Rgba, width: number): string {
  const hex = `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
  return `stroke="${hex}"${a >= 1 ? '' : ` stroke-opacity="${round(a)}"`} stroke-width="${round(width)}"`;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export class SvgCanvas implements ChartCanvas {
  private readonly parts: string[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  rect(x: number, y: number, w: number, h: number, fill: Rgba): void {
    if (w <= 0 || h <= 0) return;
    this.parts.push(
      `<rect x="${round(x)}" y="${round(y)}" width="${round(w)}" height="${round(h)}" ${svgColor(fill)}/>`,
    );
  }

  line(x1: number, y1: number, x2: number, y2: number, stroke: Rgba, widthPx = 1): void {
    this.parts.push(
      `<line x1="${round(x1)}" y1="${round(y1)}" x2="${round(x2)}" y2="${round(y2)}" ${svgStroke(stroke, widthPx)}/>`,
    );
  }

  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, stroke: Rgba, widthPx = 1): void {
    const points: string[] = [];
    for (let i = 0; i < xs.length; i++) points.push(`${round(xs[i]!)},${round(ys[i]!)}`);
    this.parts.push(
      `<polyline points="${points.join(' ')}" fill="none" ${svgStroke(stroke, widthPx)} stroke-linejoin="round"/>`,
    );
  }

  text(x: number, y: number, text: string, color: Rgba, options: TextOptions = {}): void {
    const px = SVG_FONT_PX[options.size ?? 'normal'];
    const anchor = options.align === 'center' ? 'middle' : options.align === 'right' ? 'end' : 'start';
    this.parts.push(
      `<text x="${round(x)}" y="${round(y + px * 0.85)}" font-size="${px}" text-anchor="${anchor}" ${svgColor(color)}>${escapeXml(text)}</text>`,
    );
  }

  textHeight(size: TextOptions['size'] = 'normal'): number {
    return SVG_FONT_PX[size];
  }

  toSvg(): string {
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" ` +
      `font-family="Helvetica, Arial, sans-serif">\n${this.parts.join('\n')}\n</svg>\n`
    );
  }
}

const RASTER_SCALE = { small: 1, normal: 2 } as const;

/** Rasterises into 8-bit RGB: rectangles and lines with opacity, text in the bitmap font. */
export class RasterCanvas implements ChartCanvas {
  readonly rgb: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Uint8Array(width * height * 3);
  }

  private blend(x: number, y: number, [r, g, b, a]: Rgba): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const p = (y * this.width + x) * 3;
    const rgb = this.rgb;
    rgb[p] = Math.round(rgb[p]! + (r - rgb[p]!) * a);
    rgb[p + 1] = Math.round(rgb[p + 1]! + (g - rgb[p + 1]!) * a);
    rgb[p + 2] = Math.round(rgb[p + 2]! + (b - rgb[p + 2]!) * a);
  }

  rect(x: number, y: number, w: number, h: number, fill: Rgba): void {
    const x0 = Math.max(0, Math.round(x));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y0 = Math.max(0, Math.round(y));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.blend(px, py, fill);
  }

  line(x1: number, y1: number, x2: number, y2: number, stroke: Rgba, widthPx = 1): void {
    // Stamp a square pen along the line, each pixel once, so translucent lines stay even.
    const steps = Math.max(1, Math.ceil(Math.hypot(x2 - x1, y2 - y1) * 2));
    const half = (Math.max(1, Math.round(widthPx)) - 1) / 2;
    const done = new Set<number>();
    for (let s = 0; s <= steps; s++) {
      const cx = x1 + ((x2 - x1) * s) / steps;
      const cy = y1 + ((y2 - y1) * s) / steps;
      for (let py = Math.round(cy - half); py <= Math.round(cy + half); py++) {
        for (let px = Math.round(cx - half); px <= Math.round(cx + half); px++) {
          const key = py * this.width + px;
          if (done.has(key)) continue;
          done.add(key);
          this.blend(px, py, stroke);
        }
      }
    }
  }

  /** Joints of a translucent polyline blend twice: the plot draws curves opaque. */
  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, stroke: Rgba, widthPx = 1): void {
    for (let i = 1; i < xs.length; i++) this.line(xs[i - 1]!, ys[i - 1]!, xs[i]!, ys[i]!, stroke, widthPx);
  }

  text(x: number, y: number, text: string, [r, g, b, a]: Rgba, options: TextOptions = {}): void {
    const scale = RASTER_SCALE[options.size ?? 'normal'];
    const w = textWidth(text, scale);
    const left = options.align === 'center' ? x - w / 2 : options.align === 'right' ? x - w : x;
    drawText(this.rgb, this.width, this.height, text, Math.round(left), Math.round(y), scale, [r, g, b], a);
  }

  textHeight(size: TextOptions['size'] = 'normal'): number {
    return GLYPH_HEIGHT * RASTER_SCALE[size];
  }

  toPng(): Buffer {
    return encodePng(
      { width: this.width, height: this.height, data: this.rgb },
      { level: 9, text: { Software: 'beatloom' } },
    );
  }
}
