/**
 * Rasterises a figure into an RGB buffer (rects with opacity, polylines as stamped segments,
 * text in the preview engine's 5×7 pixel font) and encodes it with the project's PNG writer.
 */
import { drawText } from '../raster/bitmap-font.js';
import { encodePng, type RgbImage } from '../raster/png.js';
import { layoutFigure, type Figure, type Rgb } from './figure.js';

function blend(rgb: Uint8Array, width: number, height: number, x: number, y: number, color: Rgb, alpha: number): void {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  const p = (y * width + x) * 3;
  for (let c = 0; c < 3; c++) rgb[p + c] = Math.round(rgb[p + c]! * (1 - alpha) + color[c]! * alpha);
}

function fillRect(
  image: { rgb: Uint8Array; width: number; height: number },
  x: number,
  y: number,
  w: number,
  h: number,
  color: Rgb,
  alpha: number,
): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(image.width, Math.max(x0 + 1, Math.round(x + w)));
  const y1 = Math.min(image.height, Math.max(y0 + 1, Math.round(y + h)));
  for (let yy = y0; yy < y1; yy++)
    for (let xx = x0; xx < x1; xx++) blend(image.rgb, image.width, image.height, xx, yy, color, alpha);
}

/** A segment drawn as a trail of square dots of the line's width, one per pixel step. */
function drawSegment(
  image: { rgb: Uint8Array; width: number; height: number },
  ax: number,
  ay: number,
  bx: number,
  by: number,
  color: Rgb,
  widthPx: number,
): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(bx - ax), Math.abs(by - ay))));
  const r = Math.max(0.5, widthPx / 2);
  for (let s = 0; s <= steps; s++) {
    const x = ax + ((bx - ax) * s) / steps;
    const y = ay + ((by - ay) * s) / steps;
    for (let yy = Math.round(y - r); yy < Math.round(y + r); yy++) {
      for (let xx = Math.round(x - r); xx < Math.round(x + r); xx++) {
        if (xx < 0 || yy < 0 || xx >= image.width || yy >= image.height) continue;
        const p = (yy * image.width + xx) * 3;
        image.rgb[p] = color[0];
        image.rgb[p + 1] = color[1];
        image.rgb[p + 2] = color[2];
      }
    }
  }
}

export function rasterizeFigure(figure: Figure): RgbImage {
  const layout = layoutFigure(figure);
  const width = layout.widthPx;
  const height = Math.round(layout.heightPx);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(layout.background, i * 3);
  const image = { rgb, width, height };
  for (const p of layout.primitives) {
    switch (p.kind) {
      case 'rect':
        fillRect(image, p.x, p.y, p.w, p.h, p.color, p.opacity);
        break;
      case 'polyline':
        for (let i = 0; i + 3 < p.points.length; i += 2)
          drawSegment(image, p.points[i]!, p.points[i + 1]!, p.points[i + 2]!, p.points[i + 3]!, p.color, p.widthPx);
        break;
      case 'text':
        drawText(rgb, width, height, p.text, Math.round(p.x), Math.round(p.y), p.scale, p.color);
        break;
    }
  }
  return { width, height, data: rgb };
}

export function renderPng(figure: Figure): Buffer {
  return encodePng(rasterizeFigure(figure), { level: 6, text: { Software: 'beatloom' } });
}
