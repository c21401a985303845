import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CLIP_END_TOKEN,
  CLIP_START_TOKEN,
  ClipTokenizer,
  SHIPPED_MERGES_PATH,
  cleanPrompt,
  htmlUnescape,
  loadClipVocabulary,
} from '../src/engines/native/clip-tokenizer.js';
import { BeatloomError } from '../src/shared/errors.js';

interface TokenizerCase {
  prompt: string;
  ids: number[][];
  weights: number[][];
  plain: number[];
}
// Made by scripts/native/reference-runtime.py with ComfyUI's own SD1Tokenizer.
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/native/native-tokenizer-comfyui.json', import.meta.url), 'utf8'),
) as { cases: TokenizerCase[] };

const tokenizer = new ClipTokenizer(loadClipVocabulary());
const scratch = mkdtempSync(join(tmpdir(), 'beatloom-tokenizer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('CLIP tokenizer against ComfyUI', () => {
  it.each(fixture.cases.map((c) => [JSON.stringify(c.prompt).slice(0, 60), c] as const))(
    'tokenizes %s as ComfyUI does',
    (_name, c) => {
      const chunks = tokenizer.tokenizeWithWeights(c.prompt);
      expect(chunks.map((chunk) => chunk.ids)).toEqual(c.ids);
      expect(chunks.map((chunk) => chunk.weights)).toEqual(c.weights);
      expect([CLIP_START_TOKEN, ...tokenizer.encode(c.prompt), CLIP_END_TOKEN]).toEqual(c.plain);
    },
  );

  it('covers multi-chunk prompts and weights in the table', () => {
    expect(fixture.cases.some((c) => c.ids.length >= 3)).toBe(true);
    expect(fixture.cases.some((c) => c.weights.flat().some((w) => w !== 1))).toBe(true);
    for (const c of fixture.cases) for (const chunk of c.ids) expect(chunk).toHaveLength(77);
  });
});

describe('CLIP vocabulary files', () => {
  it('derives the 49408-symbol vocabulary from the shipped merges', () => {
    const vocab = loadClipVocabulary();
    expect(vocab.encoder.size).toBe(49408);
    expect(vocab.encoder.get('a</w>')).toBe(320);
    expect(vocab.encoder.get('<|endoftext|>')).toBe(CLIP_END_TOKEN);
  });

  it('reads a ComfyUI-style folder (vocab.json + merges.txt) to the same tokens', () => {
    const merges = gunzipSync(readFileSync(SHIPPED_MERGES_PATH)).toString('utf8');
    const folder = join(scratch, 'sd1_tokenizer');
    const derived = loadClipVocabulary();
    writeFileSync(join(scratch, 'merges.txt'), merges);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    writeFileSync(join(folder, 'merges.txt'), merges);
    writeFileSync(join(folder, 'vocab.json'), JSON.stringify(Object.fromEntries(derived.encoder)));
    const fromFolder = new ClipTokenizer(loadClipVocabulary(folder));
    const fromTxt = new ClipTokenizer(loadClipVocabulary(join(scratch, 'merges.txt')));
    const prompt = 'a neon city at night, (rain:1.2)';
    expect(fromFolder.tokenizeWithWeights(prompt)).toEqual(tokenizer.tokenizeWithWeights(prompt));
    expect(fromTxt.tokenizeWithWeights(prompt)).toEqual(tokenizer.tokenizeWithWeights(prompt));
  });

  it.each([
    ['a missing path', () => join(scratch, 'nope'), /does not exist/],
    [
      'a folder without the files',
      () => {
        const dir = join(scratch, 'empty');
        mkdirSync(dir, { recursive: true });
        return dir;
      },
      /has no vocab\.json and merges\.txt/,
    ],
    [
      'a file that is not merges',
      () => {
        const file = join(scratch, 'bad.txt');
        writeFileSync(file, '#version: 0.2\nthree symbols here\n');
        return file;
      },
      /is not two symbols/,
    ],
    [
      'merges of another vocabulary',
      () => {
        const file = join(scratch, 'short.txt');
        writeFileSync(file, '#version: 0.2\ni n\nt h\n');
        return file;
      },
      /is not SD 1\.5's CLIP vocabulary/,
    ],
  ])('rejects %s with a usage error naming it', (_name, make, message) => {
    const path = make();
    let error: unknown;
    try {
      loadClipVocabulary(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).kind).toBe('usage');
    expect((error as BeatloomError).code).toBe('E_NATIVE_VOCAB');
    expect((error as BeatloomError).message).toContain(path);
    expect((error as BeatloomError).message).toMatch(message);
  });
});

describe('prompt cleaning', () => {
  it.each([
    ['&amp;lt;b&amp;gt;', '<b>'],
    ['&copy &notit; &#128;&#x41;&#0;', '© ¬it; €A\ufffd'],
    ['&unknown; &', '&unknown; &'],
  ])('unescapes %s twice as html.unescape would', (text, expected) => {
    expect(htmlUnescape(htmlUnescape(text))).toBe(expected);
  });

  it('folds Unicode whitespace and strips what Python strips', () => {
    expect(cleanPrompt('\u001c  A\u3000B\u0085C  \t')).toBe('a b c');
  });
});
