/**
 * Section boundaries against a set's annotated sections, as MIREX scores structure: boundary
 * hit rate within ±0.5 s and ±3 s. The song's start and the annotation's `end` marker (where the
 * music stops) are not boundaries; counts are pooled over the songs, so every boundary weighs
 * the same. Labels are printed side by side, not scored: annotators name sections by genre
 * (hook, main, groove) while beatloom uses one vocabulary.
 */
import { matchEvents } from './mir-metrics.js';

export interface AnnotatedSection {
  readonly start: number;
  readonly label: string;
}

export interface SectionsOfSong {
  readonly id: string;
  readonly truth: readonly AnnotatedSection[];
  readonly ours: ReadonlyArray<{ readonly startSec: number; readonly label: string }>;
}

/** Interior boundaries of an annotation: section starts after the first, without `end`. */
export function annotatedBoundaries(truth: readonly AnnotatedSection[]): number[] {
  return truth
    .filter((s, i) => i > 0 && s.label !== 'end')
    .map((s) => s.start)
    .sort((a, b) => a - b);
}

export interface BoundaryCounts {
  readonly hits: number;
  readonly reference: number;
  readonly estimated: number;
}

export function boundaryCounts(songs: readonly SectionsOfSong[], windowSec: number): BoundaryCounts {
  let hits = 0;
  let reference = 0;
  let estimated = 0;
  for (const song of songs) {
    const ref = annotatedBoundaries(song.truth);
    const est = song.ours.slice(1).map((s) => s.startSec);
    hits += matchEvents(ref, est, windowSec);
    reference += ref.length;
    estimated += est.length;
  }
  return { hits, reference, estimated };
}

export function boundaryF({ hits, reference, estimated }: BoundaryCounts): {
  precision: number;
  recall: number;
  f: number;
} {
  const precision = estimated ? hits / estimated : 0;
  const recall = reference ? hits / reference : 0;
  return { precision, recall, f: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

export function formatSections(songs: readonly SectionsOfSong[]): string[] {
  const annotated = songs.filter((s) => s.truth.length > 0);
  if (annotated.length === 0) return [];
  const out = ['', `sections (boundaries pooled over ${annotated.length} annotated songs; labels side by side)`];
  for (const windowSec of [0.5, 3]) {
    const counts = boundaryCounts(annotated, windowSec);
    const { precision, recall, f } = boundaryF(counts);
    out.push(
      `  ±${windowSec} s: P=${precision.toFixed(3)} R=${recall.toFixed(3)} F=${f.toFixed(3)} (${counts.hits} of ${counts.reference} annotated, ${counts.estimated} found)`,
    );
  }
  for (const song of annotated) {
    const truth = song.truth.filter((s) => s.label !== 'end').map((s) => `${s.label}@${s.start.toFixed(1)}`);
    out.push(`  ${song.id.padEnd(22)} truth ${truth.join(' ')}`);
    out.push(`  ${''.padEnd(22)} ours  ${song.ours.map((s) => `${s.label}@${s.startSec.toFixed(1)}`).join(' ')}`);
  }
  return out;
}
