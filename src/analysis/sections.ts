/**
 * Song sections from bar-level features: boundaries where a checkerboard kernel over the bars'
 * self-similarity peaks (Foote 2000), labelled by loudness against the rest of the song.
 */
import type { FrameFeatures } from './features.js';
import { toDb } from './signal-utils.js';

export type SectionLabel = 'intro' | 'verse' | 'build' | 'drop' | 'break' | 'outro';

export interface Section {
  readonly startSec: number;
  readonly endSec: number;
  readonly label: SectionLabel;
  /** Mean level in dBFS. */
  readonly levelDb: number;
}

interface Unit {
  readonly startSec: number;
  readonly endSec: number;
  readonly vector: number[];
  readonly levelDb: number;
}

function unitsFrom(boundariesSec: readonly number[], features: FrameFeatures): Unit[] {
  const frameRate = features.sampleRateHz / features.hopSamples;
  const units: Unit[] = [];
  for (let u = 0; u + 1 < boundariesSec.length; u++) {
    const startSec = boundariesSec[u]!;
    const endSec = boundariesSec[u + 1]!;
    const lo = Math.max(0, Math.floor(startSec * frameRate));
    const hi = Math.min(features.frameCount, Math.max(lo + 1, Math.floor(endSec * frameRate)));
    let power = 0;
    let low = 0;
    let high = 0;
    const chroma = new Array<number>(12).fill(0);
    for (let f = lo; f < hi; f++) {
      power += features.rms[f]! ** 2;
      low += features.low[f]!;
      high += features.high[f]!;
      for (let c = 0; c < 12; c++) chroma[c]! += features.chroma[f * 12 + c]!;
    }
    const count = hi - lo;
    const levelDb = toDb(Math.sqrt(power / count));
    const vector = [levelDb / 10, toDb(low / count) / 10, toDb(high / count) / 10, ...chroma.map((c) => (3 * c) / count)];
    units.push({ startSec, endSec, vector, levelDb });
  }
  return units;
}

function distance(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

/**
 * `barStartsSec` are downbeat times (or fixed windows when there is no beat); the result covers
 * [0, durationSec] without gaps.
 */
export function findSections(barStartsSec: readonly number[], durationSec: number, features: FrameFeatures, minBars = 4): Section[] {
  const edges = [0, ...barStartsSec.filter((t) => t > 0.5 && t < durationSec - 0.5), durationSec];
  const units = unitsFrom(edges, features);
  if (units.length === 0) return [];
  const kernel = Math.max(1, Math.min(minBars, Math.floor(units.length / 4)));
  const novelty = units.map((_, i) => {
    if (i < 1 || i >= units.length) return 0;
    let cross = 0;
    let count = 0;
    for (let a = Math.max(0, i - kernel); a < i; a++) {
      for (let b = i; b < Math.min(units.length, i + kernel); b++) {
        cross += distance(units[a]!.vector, units[b]!.vector);
        count++;
      }
    }
    return count ? cross / count : 0;
  });
  const sortedNovelty = novelty.slice().sort((x, y) => x - y);
  const threshold = (sortedNovelty[Math.floor(sortedNovelty.length * 0.75)] ?? 0) * 1.1;

  const cuts: number[] = [0];
  for (let i = 1; i < units.length; i++) {
    const isPeak = novelty[i]! >= (novelty[i - 1] ?? 0) && novelty[i]! >= (novelty[i + 1] ?? 0);
    if (isPeak && novelty[i]! > threshold && i - cuts[cuts.length - 1]! >= minBars && units.length - i >= Math.min(minBars, 2)) cuts.push(i);
  }
  cuts.push(units.length);

  const raw = cuts.slice(0, -1).map((startUnit, s) => {
    const endUnit = cuts[s + 1]!;
    let power = 0;
    let weight = 0;
    for (let u = startUnit; u < endUnit; u++) {
      const len = units[u]!.endSec - units[u]!.startSec;
      power += 10 ** (units[u]!.levelDb / 10) * len;
      weight += len;
    }
    return { startSec: units[startUnit]!.startSec, endSec: units[endUnit - 1]!.endSec, levelDb: 10 * Math.log10(power / weight || 1e-10) };
  });
  return labelSections(raw);
}

/** Names sections by where they sit and how loud they are against the loudest. */
export function labelSections(raw: ReadonlyArray<{ startSec: number; endSec: number; levelDb: number }>): Section[] {
  const loudest = Math.max(...raw.map((s) => s.levelDb));
  return raw.map((s, i) => {
    const below = loudest - s.levelDb;
    const next = raw[i + 1];
    let label: SectionLabel;
    if (below <= 2) label = 'drop';
    else if (i === 0 && raw.length > 1) label = 'intro';
    else if (i === raw.length - 1 && raw.length > 1) label = 'outro';
    else if (next && next.levelDb - s.levelDb > 3 && below <= 6) label = 'build';
    else if (below > 6) label = 'break';
    else label = 'verse';
    return { startSec: s.startSec, endSec: s.endSec, label, levelDb: s.levelDb };
  });
}
