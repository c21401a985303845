import { layoutFigure, TEXT_SCALE, type Figure, type Rgb } from './figure.js';

function hex(color: Rgb): string {
  return `#${color
    .map((c) =>
      Math.max(0, Math.min(255, Math.round(c)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

const n = (v: number): string => String(Math.round(v * 10) / 10);

/** The figure as a standalone SVG document. */
export function renderSvg(figure: Figure): string {
  const layout = layoutFigure(figure);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.widthPx}" height="${layout.heightPx}" viewBox="0 0 ${layout.widthPx} ${layout.heightPx}" font-family="monospace">`,
    `<rect width="100%" height="100%" fill="${hex(layout.background)}"/>`,
  ];
  for (const p of layout.primitives) {
    switch (p.kind) {
      case 'rect':
        out.push(
          `<rect x="${n(p.x)}" y="${n(p.y)}" width="${n(p.w)}" height="${n(p.h)}" fill="${hex(p.color)}"${p.opacity < 1 ? ` fill-opacity="${p.opacity}"` : ''}/>`,
        );
        break;
      case 'polyline': {
        const points: string[] = [];
        for (let i = 0; i + 1 < p.points.length; i += 2) points.push(`${n(p.points[i]!)},${n(p.points[i + 1]!)}`);
        out.push(
          `<polyline points="${points.join(' ')}" fill="none" stroke="${hex(p.color)}" stroke-width="${p.widthPx}" stroke-linejoin="round"/>`,
        );
        break;
      }
      case 'text':
        // The PNG's pixel font is 7 units tall at scale 1; match its size and top-left anchoring.
        out.push(
          `<text x="${n(p.x)}" y="${n(p.y + 7 * p.scale)}" font-size="${(9 * p.scale * TEXT_SCALE) / 2}" fill="${hex(p.color)}">${escapeXml(p.text)}</text>`,
        );
        break;
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
