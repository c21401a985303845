/**
 * Parsers for the values a render is given on the command line or in a batch file: each names
 * the bad value and says what to give instead.
 */
import { usageError } from '../shared/errors.js';

export interface Size {
  readonly width: number;
  readonly height: number;
}

export function parseSize(text: string): Size {
  const match = /^(\d+)x(\d+)$/i.exec(text.trim());
  const hint = 'give WIDTHxHEIGHT in pixels, multiples of 8 between 64 and 4096, e.g. 512x512 or 768x432';
  if (!match) throw usageError('E_SIZE', `invalid size: '${text}'`, hint);
  const width = Number(match[1]);
  const height = Number(match[2]);
  for (const v of [width, height]) {
    if (v < 64 || v > 4096 || v % 8 !== 0)
      throw usageError('E_SIZE', `invalid size: '${text}' (${v} is not a multiple of 8 in 64..4096)`, hint);
  }
  return { width, height };
}

export function parseSeed(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value > 0xffffffff) {
    throw usageError('E_SEED', `invalid seed: '${text}'`, 'give a whole number from 0 to 4294967295');
  }
  return value;
}
