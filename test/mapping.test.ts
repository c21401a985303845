import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMapping, parseMapping } from '../src/config/load-mapping.js';
import { MAPPING_SCHEMA_PATH, mappingJsonSchemaText } from '../src/config/mapping-json-schema.js';
import { mappingSchema } from '../src/config/mapping-schema.js';
import { resolvePromptTexts } from '../src/config/prompt-texts.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import { keyframesSchema } from '../src/keyframes/keyframes-schema.js';
import { parseFps } from '../src/shared/media-time.js';
import { BeatloomError } from '../src/shared/errors.js';
import { makeAnalysis, steadyBeats } from './helpers/analysis.js';
import { BAD_MAPPINGS, VALID_MAPPING } from './helpers/bad-mappings.js';
import { ROOT } from './helpers/cli.js';
import { tempDir } from './helpers/media.js';

async function fileFor(dir: string, bad: (typeof BAD_MAPPINGS)[number], index: number): Promise<string> {
  const path = join(dir, `m${index}.yaml`);
  if (typeof bad.text === 'string') await writeFile(path, bad.text);
  else if (bad.text.special === 'folder') await mkdir(path);
  else if (bad.text.special === 'binary')
    await writeFile(path, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 0xff, 0xfe]));
  return path;
}

describe('loading a mapping: each kind of mistake has its own code and message', () => {
  it.each(BAD_MAPPINGS.map((b, i) => [b.name, b, i] as const))('%s', async (_name, bad, index) => {
    const dir = await tempDir();
    const path = await fileFor(dir, bad, index);
    const error = await loadMapping(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BeatloomError);
    expect((error as BeatloomError).kind).toBe('usage');
    expect((error as BeatloomError).code).toBe(bad.code);
    expect((error as BeatloomError).message).toBe(bad.message.replaceAll('FILE', path));
    expect((error as BeatloomError).hint).toBeTruthy();
  });

  it('counts the other problems', () => {
    const text = VALID_MAPPING.replace('base: 0.5', 'base: fast').replace('release: 180ms', 'relase: 1s');
    expect(() => parseMapping(text, 'm.yaml')).toThrow(
      /^m\.yaml:5:5: signals\.kick: unknown key 'relase'.* \(and 1 more problem\)$/,
    );
  });
});

describe('a valid mapping', () => {
  it('resolves every default once', () => {
    const mapping = parseMapping(VALID_MAPPING, 'm.yaml');
    expect(mapping.segments).toEqual({
      frames: 16,
      overlap: 4,
      minOverlap: 2,
      maxOverlap: 8,
      crossfade: 2,
      align: 'downbeats',
      continuity: 'continue',
      takeFrames: 192,
    });
    expect(mapping.signals.kick).toEqual({
      from: 'low',
      kind: 'level',
      normalize: 'percentile',
      percentiles: [5, 95],
      wave: 'saw',
      smooth: { value: 0, unit: 'sec' },
      threshold: 0,
      attack: { value: 0, unit: 'sec' },
      hold: { value: 0, unit: 'sec' },
      release: { value: 0.18, unit: 'sec' },
      mode: 'pulse',
      reset: 'never',
      curve: 'linear',
      range: [0, 1],
      lead: { value: 0, unit: 'sec' },
    });
    expect(mapping.targets.cfg).toEqual({ base: 1, add: {}, reduce: 'mean' });
    expect(mapping.targets.loras).toEqual({});
    expect(mapping.seed).toEqual({ sections: true, recall: false });
    expect(mapping.prompts).toEqual({
      negative: '{negative}',
      blend: { value: 0, unit: 'sec' },
      schedule: [{ prompt: '{prompt}' }],
    });
  });

  it('reads anchors and merge keys, so signals can share settings', () => {
    const text = VALID_MAPPING.replace(
      'signals:\n',
      'signals:\n  base: &snappy\n    from: high\n    release: 1 beat\n  hats:\n    <<: *snappy\n    lead: 20ms\n',
    );
    const mapping = parseMapping(text, 'm.yaml');
    expect(mapping.signals.hats).toMatchObject({
      from: 'high',
      release: { value: 1, unit: 'beats' },
      lead: { value: 0.02, unit: 'sec' },
    });
  });

  it('--prompt and --negative must match what the mapping uses', () => {
    const uses = mappingSchema.parse({ version: 2, targets: { motionScale: { base: 1 }, denoise: { base: 0.5 } } });
    const fixed = mappingSchema.parse({
      version: 2,
      targets: { motionScale: { base: 1 }, denoise: { base: 0.5 } },
      prompts: { negative: 'ugly', schedule: [{ prompt: 'a forest' }] },
    });
    expect(resolvePromptTexts(uses, { prompt: 'city' }, 'm.yaml')).toEqual({
      prompt: 'city',
      negative: 'blurry, low quality, watermark, text',
    });
    expect(resolvePromptTexts(uses, { prompt: 'city', negative: 'dark' }, 'm.yaml')).toEqual({
      prompt: 'city',
      negative: 'dark',
    });
    expect(resolvePromptTexts(fixed, {}, 'm.yaml')).toEqual({
      prompt: '',
      negative: 'blurry, low quality, watermark, text',
    });
    expect(() => resolvePromptTexts(uses, {}, 'm.yaml')).toThrow(
      'missing --prompt (the prompts in m.yaml use {prompt})',
    );
    expect(() => resolvePromptTexts(uses, { prompt: '  ' }, 'm.yaml')).toThrow('missing --prompt');
    expect(() => resolvePromptTexts(fixed, { prompt: 'city' }, 'm.yaml')).toThrow(
      '--prompt is not used: the prompts in m.yaml do not contain {prompt}',
    );
    expect(() => resolvePromptTexts(fixed, { negative: 'dark' }, 'm.yaml')).toThrow(
      '--negative is not used: the negative prompts in m.yaml do not contain {negative}',
    );
  });
});

describe('the JSON Schema for editors', () => {
  it(`${MAPPING_SCHEMA_PATH} is what the zod schema generates (run npm run schema after changing it)`, async () => {
    expect(await readFile(join(ROOT, MAPPING_SCHEMA_PATH), 'utf8')).toBe(mappingJsonSchemaText());
  });

  it('describes the keys, closes every block to unknown keys, and carries the patterns of lengths', () => {
    const schema = JSON.parse(mappingJsonSchemaText()) as Record<string, any>;
    expect(schema.required).toEqual(['version', 'targets']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual([
      'version',
      'description',
      'segments',
      'signals',
      'targets',
      'seed',
      'prompts',
      'transitions',
    ]);
    const signal = schema.properties.signals.additionalProperties;
    expect(signal.additionalProperties).toBe(false);
    expect(signal.properties.release.anyOf[1].pattern).toContain('beats?');
    expect(signal.properties.from.enum).toContain('barPhase');
    expect(typeof signal.properties.lead.description).toBe('string');
  });
});

describe('the presets', () => {
  const analysis = makeAnalysis({
    durationSec: 30,
    beats: [...steadyBeats(124, 0.2, 15), ...steadyBeats(132, 15.2, 30)],
    sections: [
      { startSec: 0, label: 'intro' },
      { startSec: 8, label: 'build' },
      { startSec: 12, label: 'drop' },
      { startSec: 20, label: 'break' },
      { startSec: 24, label: 'drop' },
      { startSec: 28, label: 'outro' },
    ],
    onsets: steadyBeats(248, 0.2, 30),
    onsetStrengths: steadyBeats(248, 0.2, 30).map((_, i) => [1, 0.3, 0.6, 0.3][i % 4]!),
    envelopes: {
      rms: (t) => 0.1 + 0.05 * Math.sin(t),
      loudness: (t) => 10 + 5 * Math.sin(t / 3),
      low: (t) => (((t - 0.2) * (124 / 60)) % 1 < 0.15 ? 1 : 0.1),
      mid: (t) => ((t * 2) % 1 < 0.1 ? 0.8 : 0.2),
      high: (t) => 0.3 + 0.2 * Math.cos(t * 7),
      onset: (t) => ((t * 4) % 1 < 0.1 ? (t >= 12 && t < 20 ? 1 : 0.3) : 0),
      centroidHz: (t) => 2000 + 500 * Math.sin(t),
    },
  });

  it('there are a default and at least four presets, each starting with a comment that says what it does', async () => {
    const names = (await readdir(join(ROOT, 'mappings'))).filter((n) => n.endsWith('.yaml'));
    expect(names).toContain('default.yaml');
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const name of names) {
      const text = await readFile(join(ROOT, 'mappings', name), 'utf8');
      expect(text.split('\n')[0]).toMatch(new RegExp(`^# ${name.replace('.yaml', '')} — .{20,}`));
    }
  });

  it.each(['default', 'four-on-the-floor', 'hip-hop-bounce', 'cinematic-swell', 'chill-drift', 'onset-cuts'])(
    '%s validates and plans',
    async (name) => {
      const mapping = await loadMapping(join(ROOT, 'mappings', `${name}.yaml`));
      for (const fps of ['8', '24000/1001']) {
        const keyframes = buildKeyframes(analysis, mapping, {
          fps: parseFps(fps),
          duration: { sampleCount: analysis.source.sampleCount, sampleRateHz: 22050 },
          texts: resolvePromptTexts(mapping, { prompt: 'neon city' }, name),
          seed: 42,
        });
        expect(keyframesSchema.parse(keyframesSchema.encode(keyframes))).toEqual(keyframes);
        expect(keyframes.warnings).toEqual([]);
        const last = keyframes.segments.at(-1)!;
        expect(last.startFrame + last.frameCount).toBe(keyframes.frameCount);
        // Every signal moves: a preset whose signal is flat on a lively song is wired wrong.
        for (const [signal, values] of Object.entries(keyframes.signals))
          expect(Math.max(...values) - Math.min(...values), signal).toBeGreaterThan(0.05);
        expect(Math.max(...keyframes.curves.motionScale)).toBeGreaterThan(Math.min(...keyframes.curves.motionScale));
        for (const s of keyframes.segments) expect(s.prompt).toContain('neon city');
      }
    },
  );
});
