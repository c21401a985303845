/**
 * CLIP's byte-level BPE tokenizer (OpenAI CLIP `simple_tokenizer.py`, the one SD 1.5 was trained
 * with) and ComfyUI's prompt handling on top of it (comfy/sd1_clip.py `SDTokenizer`): the
 * `(text:1.2)` / `(text)` weighting syntax, `\(` escapes, and the split into 77-token chunks
 * (start token, up to 75 tokens, end token, end-token padding), where a group of fewer than 8
 * tokens that does not fit moves whole to the next chunk.
 *
 * Checked token for token against ComfyUI's own SD1Tokenizer on a table of prompts
 * (test/fixtures/native/native-tokenizer-comfyui.json, scripts/native/reference-runtime.py).
 * Text cleaning is CLIP's without ftfy: HTML entities unescaped twice, whitespace runs folded,
 * lower case. Known gap: HTML entities other than the Latin-1 set and a few common ones
 * (`&hellip;`, `&mdash;`, …) stay as text, where Python's html.unescape knows all of HTML5.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type BeatloomError, usageError } from '../../shared/errors.js';
import { PACKAGE_ROOT } from '../../shared/package-root.js';

export const CLIP_START_TOKEN = 49406;
export const CLIP_END_TOKEN = 49407;
export const CLIP_CONTEXT_LENGTH = 77;
/** comfy/sd1_clip.py SDTokenizer.max_word_length: shorter groups are never split across chunks. */
const MAX_WORD_LENGTH = 8;
const START_TEXT = '<|startoftext|>';
const END_TEXT = '<|endoftext|>';

/** The merges file shipped with beatloom (OpenAI CLIP's, MIT licence in the same folder). */
export const SHIPPED_MERGES_PATH = join(PACKAGE_ROOT, 'data', 'clip-tokenizer', 'merges.txt.gz');

export interface ClipVocabulary {
  readonly encoder: ReadonlyMap<string, number>;
  /** "first second" → merge rank. */
  readonly ranks: ReadonlyMap<string, number>;
  /** Where it came from, for messages and the engine's fingerprint. */
  readonly source: string;
}

/** One 77-token chunk: token ids and the weight of each token. */
export interface TokenChunk {
  readonly ids: readonly number[];
  readonly weights: readonly number[];
}

function vocabError(path: string, problem: string): BeatloomError {
  return usageError(
    'E_NATIVE_VOCAB',
    `CLIP tokenizer files '${path}' ${problem}`,
    "point --native-vocab at ComfyUI's comfy/sd1_tokenizer folder (vocab.json + merges.txt), or leave it out to use beatloom's own",
  );
}

/** GPT-2 / CLIP's reversible map from bytes to printable characters, and its order (the vocabulary's). */
function byteEncoder(): { table: string[]; order: string[] } {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) {
      table[b] = String.fromCodePoint(256 + n++);
      bs.push(b);
    }
  }
  return { table, order: bs.map((b) => table[b]!) };
}
const { table: BYTE_ENCODER, order: BYTE_SYMBOLS } = byteEncoder();

function parseMerges(text: string, path: string): string[] {
  const lines = text.split('\n');
  if (lines[0]?.startsWith('#version')) lines.shift();
  const merges = lines.filter((line) => line.trim() !== '');
  for (const merge of merges) {
    if (merge.split(' ').length !== 2) throw vocabError(path, `merges line '${merge.slice(0, 40)}' is not two symbols`);
  }
  return merges;
}

/** CLIP's vocabulary is its merges in order after the 256 bytes, with and without `</w>` (simple_tokenizer.py). */
function vocabularyFromMerges(merges: readonly string[]): Map<string, number> {
  const symbols = [...BYTE_SYMBOLS, ...BYTE_SYMBOLS.map((s) => `${s}</w>`), ...merges.map((m) => m.replace(' ', ''))];
  symbols.push(START_TEXT, END_TEXT);
  return new Map(symbols.map((s, i) => [s, i]));
}

function rankMerges(merges: readonly string[]): Map<string, number> {
  return new Map(merges.map((m, i) => [m, i]));
}

function checkSpecials(encoder: ReadonlyMap<string, number>, path: string): void {
  if (encoder.get(START_TEXT) !== CLIP_START_TOKEN || encoder.get(END_TEXT) !== CLIP_END_TOKEN) {
    throw vocabError(path, `is not SD 1.5's CLIP vocabulary (${START_TEXT} must be ${CLIP_START_TOKEN})`);
  }
}

function readText(path: string): string {
  try {
    const bytes = readFileSync(path);
    return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (error) {
    throw vocabError(path, `cannot be read (${(error as Error).message})`);
  }
}

/**
 * The vocabulary from `path`: a folder holding vocab.json and merges.txt (ComfyUI's
 * comfy/sd1_tokenizer), or a merges file (.txt or .txt.gz) the vocabulary is derived from.
 * Without a path, the merges file beatloom ships.
 */
export function loadClipVocabulary(path: string = SHIPPED_MERGES_PATH): ClipVocabulary {
  if (!existsSync(path)) throw vocabError(path, 'does not exist');
  if (statSync(path).isDirectory()) {
    const mergesPath = join(path, 'merges.txt');
    const vocabPath = join(path, 'vocab.json');
    if (!existsSync(mergesPath) || !existsSync(vocabPath)) throw vocabError(path, 'has no vocab.json and merges.txt');
    const merges = parseMerges(readText(mergesPath), mergesPath);
    let json: unknown;
    try {
      json = JSON.parse(readText(vocabPath));
    } catch (error) {
      throw vocabError(vocabPath, `is not JSON (${(error as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw vocabError(vocabPath, 'is not a map');
    const encoder = new Map<string, number>();
    for (const [symbol, id] of Object.entries(json)) {
      if (!Number.isInteger(id)) throw vocabError(vocabPath, `gives '${symbol}' the id ${String(id)}`);
      encoder.set(symbol, id as number);
    }
    checkSpecials(encoder, vocabPath);
    return { encoder, ranks: rankMerges(merges), source: path };
  }
  const merges = parseMerges(readText(path), path);
  const encoder = vocabularyFromMerges(merges);
  checkSpecials(encoder, path);
  return { encoder, ranks: rankMerges(merges), source: path };
}

// ---------------------------------------------------------------- text cleaning

/** Python's str.isspace(): Unicode White_Space plus the four ASCII separators. */
// The ASCII file/group/record/unit separators are whitespace to Python, so they are here.
// eslint-disable-next-line no-control-regex
const PY_SPACE = /[\p{White_Space}\x1c-\x1f]/u;
/** The `regex` module's `\s` (what CLIP's whitespace_clean folds): Unicode White_Space. */
const WHITESPACE_RUN = /\p{White_Space}+/gu;

function pyStrip(text: string): string {
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && PY_SPACE.test(chars[start]!)) start++;
  while (end > start && PY_SPACE.test(chars[end - 1]!)) end--;
  return chars.slice(start, end).join('');
}

const LATIN1_ENTITIES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute ' +
  'micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig ' +
  'Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash ' +
  'Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc ' +
  'euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml ' +
  'yacute thorn yuml';
/** Entities Python's html.unescape also replaces without a ';' (HTML5's legacy names). */
const LEGACY_ENTITIES = new Map<string, string>([
  ...LATIN1_ENTITIES.split(' ').map((name, i): [string, string] => [name, String.fromCodePoint(0xa0 + i)]),
  ['COPY', '©'],
  ['REG', '®'],
  ['amp', '&'],
  ['AMP', '&'],
  ['lt', '<'],
  ['LT', '<'],
  ['gt', '>'],
  ['GT', '>'],
  ['quot', '"'],
  ['QUOT', '"'],
]);
const SEMICOLON_ENTITIES = new Map<string, string>([
  ['apos', "'"],
  ['hellip', '…'],
  ['mdash', '—'],
  ['ndash', '–'],
  ['lsquo', '‘'],
  ['rsquo', '’'],
  ['ldquo', '“'],
  ['rdquo', '”'],
  ['bull', '•'],
  ['trade', '™'],
  ['euro', '€'],
  ['deg', '°'],
  ['larr', '←'],
  ['rarr', '→'],
  ['uarr', '↑'],
  ['darr', '↓'],
  ['hearts', '♥'],
  ['star', '☆'],
  ['infin', '∞'],
]);
/** Python html._invalid_charrefs: numeric references HTML5 maps to windows-1252 (and NUL, CR). */
const CP1252 = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';

function charref(num: number): string {
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252[num - 0x80]!;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  // Python html._invalid_codepoints: controls, non-characters.
  if (
    (num >= 0x1 && num <= 0x8) ||
    num === 0xb ||
    (num >= 0xe && num <= 0x1f) ||
    (num >= 0x7f && num <= 0x9f) ||
    (num >= 0xfdd0 && num <= 0xfdef) ||
    (num & 0xfffe) === 0xfffe
  ) {
    return '';
  }
  return String.fromCodePoint(num);
}

/** Python's html.unescape for numeric references and the named entities above. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const digits = ref.replace(/;$/, '');
      const num =
        digits[1] === 'x' || digits[1] === 'X' ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10);
      return charref(num);
    }
    if (ref.endsWith(';')) {
      const name = ref.slice(0, -1);
      const known = LEGACY_ENTITIES.get(name) ?? SEMICOLON_ENTITIES.get(name);
      if (known !== undefined) return known;
    }
    // The longest legacy name the reference starts with (html.unescape's rule for a missing ';').
    for (let length = ref.length - (ref.endsWith(';') ? 1 : 0); length > 1; length--) {
      const known = LEGACY_ENTITIES.get(ref.slice(0, length));
      if (known !== undefined) return known + ref.slice(length);
    }
    return whole;
  });
}

/** CLIP's basic_clean + whitespace_clean + lower(). */
export function cleanPrompt(text: string): string {
  const unescaped = pyStrip(htmlUnescape(htmlUnescape(text)));
  return pyStrip(unescaped.replace(WHITESPACE_RUN, ' ')).toLowerCase();
}

// ---------------------------------------------------------------- BPE

const PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/giu;
const UTF8 = new TextEncoder();

export class ClipTokenizer {
  private readonly cache = new Map<string, readonly number[]>();

  constructor(readonly vocabulary: ClipVocabulary) {}

  /** One pre-token (already byte-encoded) → its ids. */
  private bpe(token: string): readonly number[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const { encoder, ranks } = this.vocabulary;
    let word: string[];
    if (token === START_TEXT || token === END_TEXT) {
      word = [token];
    } else {
      word = [...token];
      word[word.length - 1] += '</w>';
      for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i < word.length - 1; i++) {
          const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
          if (rank !== undefined && rank < bestRank) {
            bestRank = rank;
            best = i;
          }
        }
        if (best < 0) break;
        const first = word[best]!;
        const second = word[best + 1]!;
        const merged: string[] = [];
        for (let i = 0; i < word.length; i++) {
          if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
            merged.push(first + second);
            i++;
          } else {
            merged.push(word[i]!);
          }
        }
        word = merged;
        if (word.length === 1) break;
      }
    }
    const ids = word.flatMap((symbol) => {
      const id = encoder.get(symbol);
      return id === undefined ? [] : [id];
    });
    if (this.cache.size < 10_000) this.cache.set(token, ids);
    return ids;
  }

  /** Token ids of `text`, without start and end tokens (CLIPTokenizer's input_ids[1:-1]). */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const match of cleanPrompt(text).matchAll(PATTERN)) {
      let encoded = '';
      for (const byte of UTF8.encode(match[0])) encoded += BYTE_ENCODER[byte]!;
      ids.push(...this.bpe(encoded));
    }
    return ids;
  }

  /**
   * ComfyUI's SDTokenizer.tokenize_with_weights: the prompt's weighted parts tokenized and laid
   * out in 77-token chunks (at least one).
   */
  tokenizeWithWeights(text: string): TokenChunk[] {
    const groups: { id: number; weight: number }[][] = [];
    for (const [segment, weight] of tokenWeights(escapeImportant(text), 1)) {
      const parts = unescapeImportant(segment).split(/ embedding:|\nembedding:/);
      const words = [parts[0]!, ...parts.slice(1).map((p) => `embedding:${p}`)].filter((w) => w !== '');
      for (const word of words) groups.push(this.encode(word).map((id) => ({ id, weight })));
    }
    return layOutChunks(groups);
  }
}

function layOutChunks(groups: readonly { id: number; weight: number }[][]): TokenChunk[] {
  const chunks: { ids: number[]; weights: number[] }[] = [];
  let ids: number[] = [CLIP_START_TOKEN];
  let weights: number[] = [1];
  const pad = (amount: number): void => {
    for (let i = 0; i < amount; i++) {
      ids.push(CLIP_END_TOKEN);
      weights.push(1);
    }
  };
  const close = (): void => {
    chunks.push({ ids, weights });
    ids = [CLIP_START_TOKEN];
    weights = [1];
  };
  for (const group of groups) {
    const isLarge = group.length >= MAX_WORD_LENGTH;
    let rest = group;
    while (rest.length > 0) {
      if (rest.length + ids.length > CLIP_CONTEXT_LENGTH - 1) {
        const remaining = CLIP_CONTEXT_LENGTH - ids.length - 1;
        if (isLarge) {
          for (const t of rest.slice(0, remaining)) {
            ids.push(t.id);
            weights.push(t.weight);
          }
          pad(1);
          rest = rest.slice(remaining);
        } else {
          pad(1 + remaining);
        }
        close();
      } else {
        for (const t of rest) {
          ids.push(t.id);
          weights.push(t.weight);
        }
        rest = [];
      }
    }
  }
  pad(1);
  if (ids.length < CLIP_CONTEXT_LENGTH) pad(CLIP_CONTEXT_LENGTH - ids.length);
  close();
  return chunks;
}

// ---------------------------------------------------------------- ComfyUI's weighting syntax

function escapeImportant(text: string): string {
  return text.replaceAll('\\)', '\0\x01').replaceAll('\\(', '\0\x02');
}

function unescapeImportant(text: string): string {
  return text.replaceAll('\0\x01', ')').replaceAll('\0\x02', '(');
}

/** comfy/sd1_clip.py parse_parentheses: top-level `( … )` groups and the text between them. */
function parseParentheses(text: string): string[] {
  const result: string[] = [];
  let current = '';
  let depth = 0;
  for (const char of text) {
    if (char === '(') {
      if (depth === 0) {
        if (current) result.push(current);
        current = '(';
      } else {
        current += char;
      }
      depth++;
    } else if (char === ')') {
      depth--;
      if (depth === 0) {
        result.push(current + ')');
        current = '';
      } else {
        current += char;
      }
    } else {
      current += char;
    }
  }
  if (current) result.push(current);
  return result;
}

const PY_FLOAT =
  /^[+-]?(?:(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?|inf(?:inity)?|nan)$/i;

/** Python's float(str), or undefined where it raises. */
function pyFloat(text: string): number | undefined {
  const s = pyStrip(text);
  if (!PY_FLOAT.test(s)) return undefined;
  const lower = s.toLowerCase().replace(/_/g, '');
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
  if (lower.endsWith('nan')) return NaN;
  return Number(lower);
}

/** comfy/sd1_clip.py token_weights: `(text)` multiplies by 1.1, `(text:w)` sets w, nested. */
function tokenWeights(text: string, currentWeight: number): [string, number][] {
  const out: [string, number][] = [];
  for (let part of parseParentheses(text)) {
    let weight = currentWeight;
    if (part.length >= 2 && part.endsWith(')') && part.startsWith('(')) {
      part = part.slice(1, -1);
      const colon = part.lastIndexOf(':');
      weight *= 1.1;
      if (colon > 0) {
        const value = pyFloat(part.slice(colon + 1));
        if (value !== undefined) {
          weight = value;
          part = part.slice(0, colon);
        }
      }
      out.push(...tokenWeights(part, weight));
    } else {
      out.push([part, currentWeight]);
    }
  }
  return out;
}
