/**
 * PNG in and out for 8-bit RGB frames, the format every engine writes and the stitcher reads.
 * The common cases (8-bit grey, RGB, RGBA, grey+alpha and palette, not interlaced) are decoded
 * here without copies; anything else (16-bit, interlaced) goes through pngjs.
 */
import { constants, crc32, deflateSync, inflateSync } from 'node:zlib';
import pngjs from 'pngjs';
import { BeatloomError } from './errors.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width · height · 3 bytes, rows top to bottom. */
  readonly data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

export interface PngEncodeOptions {
  /** zlib level 0–9; frames are intermediate files, so the default favours speed. */
  readonly level?: number;
  /** tEXt key/value pairs (e.g. what made the frame). */
  readonly text?: Readonly<Record<string, string>>;
}

/** Encodes RGB with the Sub filter on every row: fast, and compact for smooth images. */
export function encodePng(image: RgbImage, options: PngEncodeOptions = {}): Buffer {
  const { width, height, data } = image;
  if (data.length !== width * height * 3) throw new RangeError(`RGB data is ${data.length} bytes, expected ${width * height * 3}`);
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const rowIn = y * stride;
    const rowOut = y * (stride + 1);
    raw[rowOut] = 1; // Sub
    for (let x = 0; x < 3 && x < stride; x++) raw[rowOut + 1 + x] = data[rowIn + x]!;
    for (let x = 3; x < stride; x++) raw[rowOut + 1 + x] = (data[rowIn + x]! - data[rowIn + x - 3]!) & 0xff;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const parts = [SIGNATURE, chunk('IHDR', header)];
  for (const [key, value] of Object.entries(options.text ?? {})) {
    parts.push(chunk('tEXt', Buffer.from(`${key}\0${value}`, 'latin1')));
  }
  parts.push(chunk('IDAT', deflateSync(raw, { level: options.level ?? 1, strategy: constants.Z_FILTERED })));
  parts.push(chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

function invalid(what: string, detail: string): BeatloomError {
  return new BeatloomError('E_PNG', `not a valid PNG image: ${what} (${detail})`, { hint: 'the file is damaged or not a PNG; re-render the segment' });
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes any PNG to 8-bit RGB (alpha is composited over black). `what` names it in errors. */
export function decodePng(file: Uint8Array, what = 'image'): RgbImage {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(SIGNATURE)) throw invalid(what, 'bad signature');
  let offset = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = 0;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  const idat: Buffer[] = [];
  while (offset + 8 <= buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    if (body.length !== length) throw invalid(what, `truncated ${type} chunk`);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      bitDepth = body[8]!;
      colorType = body[9]!;
      interlace = body[12]!;
    } else if (type === 'PLTE') palette = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  if (width === 0 || height === 0 || idat.length === 0) throw invalid(what, 'missing IHDR or IDAT');
  if (bitDepth !== 8 || interlace !== 0) return decodeWithPngjs(buf, what);

  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (channels === undefined) throw invalid(what, `colour type ${colorType}`);
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (error) {
    throw invalid(what, (error as Error).message);
  }
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) throw invalid(what, 'image data too short');
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride;
    for (let x = 0; x < stride; x++) {
      const value = raw[src + x]!;
      const left = x >= channels ? pixels[dst + x - channels]! : 0;
      const above = y > 0 ? pixels[up + x]! : 0;
      const corner = y > 0 && x >= channels ? pixels[up + x - channels]! : 0;
      switch (filter) {
        case 0: pixels[dst + x] = value; break;
        case 1: pixels[dst + x] = (value + left) & 0xff; break;
        case 2: pixels[dst + x] = (value + above) & 0xff; break;
        case 3: pixels[dst + x] = (value + ((left + above) >> 1)) & 0xff; break;
        case 4: pixels[dst + x] = (value + paeth(left, above, corner)) & 0xff; break;
        default: throw invalid(what, `row filter ${filter}`);
      }
    }
  }
  if (colorType === 2) return { width, height, data: pixels };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    const p = i * channels;
    switch (colorType) {
      case 0: rgb[j] = rgb[j + 1] = rgb[j + 2] = pixels[p]!; break;
      case 4: { const v = (pixels[p]! * pixels[p + 1]!) / 255; rgb[j] = rgb[j + 1] = rgb[j + 2] = Math.round(v); break; }
      case 6: { const a = pixels[p + 3]! / 255; rgb[j] = Math.round(pixels[p]! * a); rgb[j + 1] = Math.round(pixels[p + 1]! * a); rgb[j + 2] = Math.round(pixels[p + 2]! * a); break; }
      case 3: {
        if (!palette) throw invalid(what, 'palette image without PLTE');
        const k = pixels[p]! * 3;
        rgb[j] = palette[k] ?? 0; rgb[j + 1] = palette[k + 1] ?? 0; rgb[j + 2] = palette[k + 2] ?? 0;
        break;
      }
    }
  }
  return { width, height, data: rgb };
}

function decodeWithPngjs(buf: Buffer, what: string): RgbImage {
  let png;
  try {
    png = pngjs.PNG.sync.read(buf);
  } catch (error) {
    throw invalid(what, (error as Error).message);
  }
  const { width, height, data } = png;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    const a = data[i * 4 + 3]! / 255;
    rgb[j] = Math.round(data[i * 4]! * a);
    rgb[j + 1] = Math.round(data[i * 4 + 1]! * a);
    rgb[j + 2] = Math.round(data[i * 4 + 2]! * a);
  }
  return { width, height, data: rgb };
}
