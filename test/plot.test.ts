import { describe, expect, it } from 'vitest';
import { layoutFigure, type Figure } from '../src/plot/figure.js';
import { rasterizeFigure } from '../src/plot/render-png.js';
import { renderSvg } from '../src/plot/render-svg.js';

const figure: Figure = {
  widthPx: 224,
  startSec: 0,
  endSec: 10,
  panels: [
    {
      heightPx: 50,
      yMin: 0,
      yMax: 1,
      spans: [{ startSec: 0, endSec: 5, color: [0, 0, 255], opacity: 1 }],
      markers: [{ timeSec: 5, color: [255, 0, 0], widthPx: 2 }],
      lines: [
        {
          color: [0, 128, 0],
          time: { startSec: 0, stepSec: 1 },
          values: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
          widthPx: 1,
        },
      ],
    },
  ],
};

describe('plot', () => {
  it('maps time to pixels across the plot area (12 px margins: 10 s over 200 px)', () => {
    const layout = layoutFigure(figure);
    const marker = layout.primitives.find((p) => p.kind === 'rect' && p.color[0] === 255);
    expect(marker).toEqual({ kind: 'rect', x: 111, y: 10, w: 2, h: 50, color: [255, 0, 0], opacity: 1 });
    const span = layout.primitives.find((p) => p.kind === 'rect' && p.color[2] === 255);
    expect(span).toMatchObject({ x: 12, w: 100, y: 10, h: 50 });
    const line = layout.primitives.find((p) => p.kind === 'polyline');
    expect(line).toMatchObject({
      points: [
        12.5, 35, 32.5, 35, 52.5, 35, 72.5, 35, 92.5, 35, 112.5, 35, 132.5, 35, 152.5, 35, 172.5, 35, 192.5, 35, 212.5,
        35,
      ],
    });
  });

  it('rasterises the same primitives: marker red, span blue, line green', () => {
    const image = rasterizeFigure(figure);
    const px = (x: number, y: number): number[] =>
      Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));
    expect(px(111, 20)).toEqual([255, 0, 0]);
    expect(px(50, 20)).toEqual([0, 0, 255]);
    expect(px(150, 35)).toEqual([0, 128, 0]);
    expect(px(150, 20)).not.toEqual([0, 128, 0]);
  });

  it('writes the same figure as SVG elements', () => {
    const svg = renderSvg(figure);
    expect(svg).toContain('<rect x="111" y="10" width="2" height="50" fill="#ff0000"/>');
    expect(svg).toContain('<polyline points="12.5,35 32.5,35');
  });
});
