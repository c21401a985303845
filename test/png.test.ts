import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ffmpegPath } from '../src/ffmpeg/ffmpeg-path.js';
import pngjs from 'pngjs';
import { decodePng, decodePngAsync, encodePng } from '../src/raster/png.js';
import { tempDir } from './helpers/media.js';

const run = promisify(execFile);

describe('PNG', () => {
  it('round-trips RGB exactly', () => {
    const width = 7;
    const height = 5;
    const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + 11) & 0xff);
    const decoded = decodePng(encodePng({ width, height, data }, { text: { Software: 'beatloom' } }));
    expect(decoded.width).toBe(width);
    expect(decoded.height).toBe(height);
    expect(Array.from(decoded.data)).toEqual(Array.from(data));
  });

  it.each([
    ['rgb24', [255, 0, 0]],
    ['rgba', [255, 0, 0]],
    ['gray', [76, 76, 76]],
    // ffmpeg's pal8 palette is RGB 3-3-2 with dithering off: red is stored as 252.
    ['pal8', [252, 0, 0]],
    // ffmpeg widens 8-bit 255 to 16-bit 0xFF00 (not 0xFFFF); 0xFF00 / 257 = 254.
    ['rgb48be', [254, 0, 0]],
  ])('reads what ffmpeg writes as %s', async (pixFmt, rgb) => {
    const dir = await tempDir();
    const path = join(dir, 'red.png');
    await run(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'color=c=red:s=4x6,format=rgb24',
      '-frames:v',
      '1',
      '-pix_fmt',
      pixFmt,
      path,
    ]);
    const image = decodePng(await readFile(path));
    expect([image.width, image.height]).toEqual([4, 6]);
    expect(Array.from(image.data.subarray(0, 3))).toEqual(rgb);
  });

  it('names the file when it is not a PNG', () => {
    expect(() => decodePng(Buffer.from('hello, not a png at all, really not'), 'frame-0003.png')).toThrow(
      /not a valid PNG image: frame-0003\.png \(bad signature\)/,
    );
  });

  it.each([0, 1, 2, 3, 4])('undoes row filter %i exactly, for RGB and RGBA, sync and async', async (filterType) => {
    const width = 13;
    const height = 9;
    for (const alpha of [false, true]) {
      const png = new pngjs.PNG({ width, height });
      const expected = new Uint8Array(width * height * 3);
      for (let i = 0; i < width * height; i++) {
        // Values that exercise wrap-around and every Paeth branch.
        const [r, g, b] = [(i * 97 + 13) & 0xff, (i * i * 7 + 5) & 0xff, (255 - i * 31) & 0xff];
        const a = alpha ? (i * 53) & 0xff : 255;
        png.data.set([r, g, b, a], i * 4);
        expected.set([Math.round((r * a) / 255), Math.round((g * a) / 255), Math.round((b * a) / 255)], i * 3);
      }
      const file = pngjs.PNG.sync.write(png, { filterType, colorType: alpha ? 6 : 2 });
      expect(Array.from(decodePng(file).data)).toEqual(Array.from(expected));
      const out = new Uint8Array(width * height * 3);
      const image = await decodePngAsync(file, 'x.png', out);
      expect(image.data).toBe(out);
      expect(Array.from(out)).toEqual(Array.from(expected));
    }
  });
});
