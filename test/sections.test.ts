/**
 * Song sections: the bar grid, the labels from section traits, and whole songs synthesised with a
 * known structure (test/helpers/grooves.ts `makeSong`) plus the bundled sample with its truth.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeFile, analyzeSamples } from '../src/analysis/analyze.js';
import { barEdges, labelSections, type SectionTraits } from '../src/analysis/sections.js';
import { makeSong, type SongSection } from './helpers/grooves.js';

const SOURCE = { path: 'synth', channels: 1, sourceSampleRateHz: 22050, codec: 'pcm_f32le' };
const ROOT = join(import.meta.dirname, '..');

const PAD = 'x...............';
const GROOVE = {
  kick: 'X...X...X...X...',
  snare: '....X.......X...',
  hat: 'x.x.x.x.x.x.x.x.',
  bass: 'x.....x...x.....',
  pad: PAD,
};
const DROP = { ...GROOVE, openHat: '..x...x...x...x.' };
/** A four-bar build: kick on every beat under a snare that gets denser and louder bar by bar. */
const BUILD: SongSection[] = [
  { label: 'build', bars: 1, patterns: { kick: 'X...X...X...X...', snare: 'x.x.x.x.x.x.x.x.', pad: PAD }, gain: 0.6 },
  { label: 'build', bars: 1, patterns: { kick: 'X...X...X...X...', snare: 'x.x.x.x.x.x.x.x.', pad: PAD }, gain: 0.75 },
  { label: 'build', bars: 1, patterns: { kick: 'X...X...X...X...', snare: 'xxxxxxxxxxxxxxxx', pad: PAD }, gain: 0.9 },
  { label: 'build', bars: 1, patterns: { kick: 'X...X...X...X...', snare: 'xxxxxxxxxxxxxxxx', pad: PAD }, gain: 1.1 },
];

const SONGS: ReadonlyArray<readonly [string, readonly SongSection[]]> = [
  [
    'pads / groove / pads-only break / groove / pads',
    [
      { label: 'intro', bars: 4, patterns: { pad: PAD } },
      { label: 'drop', bars: 8, patterns: GROOVE },
      { label: 'break', bars: 4, patterns: { pad: PAD } },
      { label: 'drop', bars: 8, patterns: GROOVE },
      { label: 'outro', bars: 4, patterns: { pad: PAD } },
    ],
  ],
  [
    'a two-bar break and a two-bar outro (strong changes)',
    [
      { label: 'intro', bars: 4, patterns: { pad: PAD, hat: 'x.x.x.x.x.x.x.x.' } },
      { label: 'drop', bars: 8, patterns: GROOVE },
      { label: 'break', bars: 2, patterns: { pad: PAD } },
      { label: 'drop', bars: 8, patterns: GROOVE },
      { label: 'outro', bars: 2, patterns: { pad: PAD } },
    ],
  ],
  [
    'a quieter verse, a rising build, the drop',
    [
      { label: 'intro', bars: 4, patterns: { pad: PAD } },
      { label: 'verse', bars: 8, patterns: { kick: 'X.......X.......', hat: 'x.x.x.x.x.x.x.x.', pad: PAD }, gain: 0.7 },
      ...BUILD,
      { label: 'drop', bars: 8, patterns: DROP },
      { label: 'outro', bars: 4, patterns: { pad: PAD } },
    ],
  ],
  [
    'a one-bar drum fill ends the verse: no section of its own, the drop starts after it',
    [
      { label: 'intro', bars: 4, patterns: { pad: PAD, hat: 'x.x.x.x.x.x.x.x.' } },
      {
        label: 'verse',
        bars: 7,
        patterns: { kick: 'X.......X.......', snare: '....X.......X...', hat: 'x.x.x.x.x.x.x.x.', pad: PAD },
        gain: 0.6,
      },
      {
        label: 'verse',
        bars: 1,
        patterns: { kick: 'X.......X.......', snare: '....X...xxxxXXXX', pad: PAD },
        gain: 0.8,
      },
      { label: 'drop', bars: 8, patterns: DROP },
      { label: 'outro', bars: 4, patterns: { pad: PAD } },
    ],
  ],
  ['one groove throughout: one section', [{ label: 'drop', bars: 16, patterns: GROOVE }]],
];

/** The song's sections as (label, start) with consecutive parts of one label merged. */
function truthOf(
  sections: readonly SongSection[],
  startsSec: readonly number[],
): Array<{ label: string; startSec: number }> {
  const out: Array<{ label: string; startSec: number }> = [];
  sections.forEach((s, i) => {
    if (out.at(-1)?.label !== s.label) out.push({ label: s.label, startSec: startsSec[i]! });
  });
  return out;
}

describe('sections of synthesised songs with a known structure (120 BPM, 2 s bars)', () => {
  it.each(SONGS)('%s', async (_name, sections) => {
    const song = makeSong({ bpm: 120, sections });
    const analysis = await analyzeSamples(song.samples, song.sampleRateHz, SOURCE);
    const truth = truthOf(sections, song.sectionStartsSec);
    expect(analysis.sections.map((s) => s.label)).toEqual(truth.map((s) => s.label));
    // The first section starts at 0 (the lead-in joins it); every other boundary within a beat.
    expect(analysis.sections[0]!.startSec).toBe(0);
    analysis.sections
      .slice(1)
      .forEach((s, i) => expect(Math.abs(s.startSec - truth[i + 1]!.startSec)).toBeLessThan(0.5));
    analysis.sections.slice(1).forEach((s, i) => expect(s.startSec).toBe(analysis.sections[i]!.endSec));
    expect(analysis.sections.at(-1)!.endSec).toBe(analysis.source.durationSec);
  });
});

describe('the bundled sample (samples/loom-groove.mp3) against its ground truth', () => {
  it('intro / drop / break / drop / outro, each boundary within one beat', async () => {
    const truth = JSON.parse(await readFile(join(ROOT, 'samples/loom-groove.beats.json'), 'utf8')) as {
      bpm: number;
      sections: Array<{ label: string; startSec: number }>;
    };
    const analysis = await analyzeFile(join(ROOT, 'samples/loom-groove.mp3'));
    expect(analysis.sections.map((s) => s.label)).toEqual(['intro', 'drop', 'break', 'drop', 'outro']);
    expect(truth.sections.map((s) => s.label)).toEqual(['intro', 'groove', 'break', 'return', 'outro']);
    const beatSec = 60 / truth.bpm;
    analysis.sections
      .slice(1)
      .forEach((s, i) => expect(Math.abs(s.startSec - truth.sections[i + 1]!.startSec)).toBeLessThan(beatSec));
    // The break is the quiet part between two loud ones.
    const [, drop, breakPart, drop2] = analysis.sections.map((s) => s.levelDb);
    expect(drop! - breakPart!).toBeGreaterThan(4);
    expect(drop2! - breakPart!).toBeGreaterThan(4);
  });
});

describe('the bar grid', () => {
  it.each([
    [
      'downbeats from the start: the lead-in joins the first bar; the tail is carried on in bars',
      [0.5, 2.5, 4.5, 6.5],
      12,
      [0, 2.5, 4.5, 6.5, 8.5, 10.5, 12],
    ],
    [
      'a beatless intro is measured in bars before the first downbeat',
      [5, 7, 9, 11],
      13.2,
      [0, 1, 3, 5, 7, 9, 11, 13.2],
    ],
    [
      'a gap without beats is filled with bars of the local length',
      [1, 3, 5, 11, 13],
      15,
      [0, 1, 3, 5, 7, 9, 11, 13, 15],
    ],
    ['a tail shorter than half a bar joins the last bar', [0, 2, 4, 6], 8.9, [0, 2, 4, 6, 8.9]],
    ['no downbeats: 4 s windows, a short last one joining the one before', [], 9.9, [0, 4, 9.9]],
  ])('%s', (_name, downbeats, durationSec, expected) => {
    expect(barEdges(downbeats, durationSec).map((t) => Math.round(t * 1000) / 1000)).toEqual(expected);
  });
});

describe('labels from section traits', () => {
  const trait = (intensityDb: number, extra: Partial<SectionTraits> = {}): SectionTraits => ({
    startSec: 0,
    endSec: 1,
    bars: 8,
    levelDb: intensityDb,
    intensityDb,
    drums: 1,
    riseDb: 0,
    repeats: -1,
    ...extra,
  });
  /** Traits in order, each repeating itself unless told otherwise. */
  const song = (...traits: SectionTraits[]): SectionTraits[] =>
    traits.map((t, i) => ({ ...t, repeats: t.repeats < 0 ? i : t.repeats }));

  it.each([
    ['one section', song(trait(-12)), ['drop']],
    [
      'quiet edges around a loud middle',
      song(trait(-20, { drums: 0 }), trait(-12), trait(-22, { drums: 0 })),
      ['intro', 'drop', 'outro'],
    ],
    [
      'a song that starts and ends on its main part',
      song(trait(-12), trait(-14.5), trait(-12, { repeats: 0 })),
      ['drop', 'verse', 'drop'],
    ],
    [
      'a dip of 4 dB between louder parts is a break',
      song(trait(-20), trait(-12), trait(-16.5), trait(-12, { repeats: 1 }), trait(-20)),
      ['intro', 'drop', 'break', 'drop', 'outro'],
    ],
    [
      'drums dropping out (kick under a third) is a break even at a similar level',
      song(trait(-20), trait(-12), trait(-13, { drums: 0.2 }), trait(-12, { repeats: 1 }), trait(-20)),
      ['intro', 'drop', 'break', 'drop', 'outro'],
    ],
    [
      'a section rising into the main part is a build',
      song(trait(-20), trait(-16), trait(-15, { riseDb: 3 }), trait(-12), trait(-20)),
      ['intro', 'verse', 'build', 'drop', 'outro'],
    ],
    [
      'a rising section that the next one repeats is not a build',
      song(trait(-20), trait(-12, { riseDb: 3 }), trait(-12, { repeats: 1 }), trait(-20)),
      ['intro', 'drop', 'drop', 'outro'],
    ],
    [
      'a section that repeats a main one is main, though quieter',
      song(trait(-20), trait(-12), trait(-17), trait(-15, { repeats: 1 }), trait(-20)),
      ['intro', 'drop', 'verse', 'drop', 'outro'],
    ],
  ])('%s', (_name, traits, labels) => {
    expect(labelSections(traits).map((s) => s.label)).toEqual(labels);
  });
});
