/**
 * Scores estimates against a beats-public style set the way its `score.py` does: one row per
 * item, category means over the core songs (each song weighs the same), decoder variants and
 * robustness files reported apart, and the same summary line.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ACC1_FACTORS,
  ACC2_FACTORS,
  asTimes,
  BEAT_WINDOW_SEC,
  beatOffsetMs,
  continuity,
  fMeasure,
  ONSET_WINDOW_SEC,
  tempoAccuracy,
  trimBeats,
} from './mir-metrics.js';

const manifestSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      audio: z.string(),
      gt: z.string(),
      category: z.string(),
      duration: z.number(),
      kind: z.enum(['song', 'variant', 'robustness']),
      variant_of: z.string().optional(),
    }),
  ),
});

const groundTruthSchema = z.object({
  beats: z.array(z.number()),
  downbeats: z.array(z.number()),
  onsets: z.array(z.number()),
  bpm: z.number().nullable().optional(),
  tempo_accept: z
    .array(z.tuple([z.number(), z.number()]))
    .nullable()
    .optional(),
  sections: z.array(z.object({ start: z.number(), label: z.string() })).optional(),
});

export type ManifestItem = z.infer<typeof manifestSchema>['items'][number];
export type GroundTruth = z.infer<typeof groundTruthSchema>;

export interface Estimate {
  readonly beats?: unknown;
  readonly downbeats?: unknown;
  readonly onsets?: unknown;
  readonly bpm?: unknown;
}

export const METRIC_KEYS = ['beatF', 'cmlt', 'amlt', 'downbeatF', 'onsetF', 'acc1', 'acc2'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

export interface ItemScore extends Record<MetricKey, number> {
  readonly offsetMs: number;
  readonly beatCount: number;
  readonly downbeatCount: number;
  readonly onsetCount: number;
}

export async function readManifest(setDir: string): Promise<ManifestItem[]> {
  return manifestSchema.parse(JSON.parse(await readFile(join(setDir, 'manifest.json'), 'utf8'))).items;
}

export async function readGroundTruth(setDir: string, item: ManifestItem): Promise<GroundTruth> {
  return groundTruthSchema.parse(JSON.parse(await readFile(join(setDir, item.gt), 'utf8')));
}

/** score.py's `score()`: NaN everywhere when the item has no annotated beats (robustness files). */
export function scoreItem(gt: GroundTruth, est: Estimate, skipSec = 5): ItemScore {
  const counts = {
    beatCount: asTimes(est.beats).length,
    downbeatCount: asTimes(est.downbeats).length,
    onsetCount: asTimes(est.onsets).length,
  };
  const refBeats = trimBeats(gt.beats, skipSec);
  if (refBeats.length === 0) {
    return {
      beatF: NaN,
      cmlt: NaN,
      amlt: NaN,
      downbeatF: NaN,
      onsetF: NaN,
      acc1: NaN,
      acc2: NaN,
      offsetMs: NaN,
      ...counts,
    };
  }
  const estBeats = trimBeats(asTimes(est.beats), skipSec);
  const cont = continuity(refBeats, estBeats);
  const refOnsets = gt.onsets.slice().sort((a, b) => a - b);
  const estOnsets = asTimes(est.onsets);
  const accept = gt.tempo_accept ?? (gt.bpm ? [[gt.bpm, gt.bpm] as [number, number]] : undefined);
  return {
    beatF: fMeasure(refBeats, estBeats, BEAT_WINDOW_SEC),
    cmlt: cont.cmlt,
    amlt: cont.amlt,
    downbeatF: fMeasure(trimBeats(gt.downbeats, skipSec), trimBeats(asTimes(est.downbeats), skipSec), BEAT_WINDOW_SEC),
    onsetF: estOnsets.length && refOnsets.length ? fMeasure(refOnsets, estOnsets, ONSET_WINDOW_SEC) : 0,
    acc1: accept ? tempoAccuracy(est.bpm, accept, ACC1_FACTORS) : NaN,
    acc2: accept ? tempoAccuracy(est.bpm, accept, ACC2_FACTORS) : NaN,
    offsetMs: beatOffsetMs(refBeats, estBeats),
    ...counts,
  };
}

export function nanMean(values: readonly number[]): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
}

export interface ScoredItem {
  readonly item: ManifestItem;
  readonly score: ItemScore;
  readonly bpm: number | null;
  readonly refBpm: number | null;
  /** Seconds of audio per second of analysis (decode included). */
  readonly speed: number;
}

function fmt(x: number, width = 6, digits = 3): string {
  return Number.isNaN(x) ? '-'.padStart(width) : x.toFixed(digits).padStart(width);
}

const COLUMNS: ReadonlyArray<[MetricKey, string]> = [
  ['beatF', 'beatF'],
  ['cmlt', 'CMLt'],
  ['amlt', 'AMLt'],
  ['downbeatF', 'dbF'],
  ['onsetF', 'onsetF'],
  ['acc1', 'Acc1'],
  ['acc2', 'Acc2'],
];

export function overallOf(songs: readonly ScoredItem[]): Record<MetricKey, number> {
  return Object.fromEntries(METRIC_KEYS.map((k) => [k, nanMean(songs.map((s) => s.score[k]))])) as Record<
    MetricKey,
    number
  >;
}

export function summaryLine(overall: Record<MetricKey, number>): string {
  const o = overall;
  return `beatF=${o.beatF.toFixed(3)} cmlt=${o.cmlt.toFixed(3)} amlt=${o.amlt.toFixed(3)} downbeatF=${o.downbeatF.toFixed(3)} onsetF=${o.onsetF.toFixed(3)} acc1=${o.acc1.toFixed(3)} acc2=${o.acc2.toFixed(3)}`;
}

/** The report: category table, per-song table, variants, robustness, summary line last. */
export function formatReport(results: readonly ScoredItem[]): string[] {
  const out: string[] = [];
  const songs = results.filter((r) => r.item.kind === 'song');
  const categories = [...new Set(songs.map((s) => s.item.category))];
  const head = `${'category'.padEnd(15)} ${'n'.padStart(3)} ${COLUMNS.map(([, c]) => c.padStart(6)).join(' ')} ${'off_ms'.padStart(7)} ${'×rt'.padStart(6)}`;
  out.push(head, '-'.repeat(head.length));
  const row = (name: string, rows: readonly ScoredItem[]): string =>
    `${name.slice(0, 15).padEnd(15)} ${String(rows.length).padStart(3)} ${COLUMNS.map(([k]) => fmt(nanMean(rows.map((r) => r.score[k])))).join(' ')} ` +
    `${fmt(nanMean(rows.map((r) => r.score.offsetMs)), 7, 1)} ${fmt(nanMean(rows.map((r) => r.speed)), 6, 0)}`;
  for (const c of categories)
    out.push(
      row(
        c,
        songs.filter((s) => s.item.category === c),
      ),
    );
  out.push(row('OVERALL', songs));

  out.push(
    '',
    `${'song'.padEnd(22)} ${'beatF'.padStart(6)} ${'CMLt'.padStart(6)} ${'AMLt'.padStart(6)} ${'dbF'.padStart(6)} ${'onsetF'.padStart(6)} ${'bpm'.padStart(8)} ${'ref'.padStart(8)} ${'off_ms'.padStart(7)}`,
  );
  for (const r of songs) {
    const s = r.score;
    out.push(
      `${r.item.id.padEnd(22)} ${fmt(s.beatF)} ${fmt(s.cmlt)} ${fmt(s.amlt)} ${fmt(s.downbeatF)} ${fmt(s.onsetF)} ${fmt(r.bpm ?? NaN, 8, 2)} ${fmt(r.refBpm ?? NaN, 8, 2)} ${fmt(s.offsetMs, 7, 1)}`,
    );
  }
  const variants = results.filter((r) => r.item.kind === 'variant');
  if (variants.length) {
    out.push('', 'decoder variants (delta = variant − source song)');
    for (const r of variants) {
      const source = songs.find((s) => s.item.id === r.item.variant_of);
      const delta = (k: MetricKey): number => (source ? r.score[k] - source.score[k] : NaN);
      out.push(
        `  ${r.item.id.padEnd(26)} beatF=${fmt(r.score.beatF, 5)} dbF=${fmt(r.score.downbeatF, 5)} onsetF=${fmt(r.score.onsetF, 5)} ` +
          `off_ms=${fmt(r.score.offsetMs, 5, 1)} | dBeatF=${fmt(delta('beatF'), 6)} dOnsetF=${fmt(delta('onsetF'), 6)}`,
      );
    }
  }
  const robust = results.filter((r) => r.item.kind === 'robustness');
  if (robust.length) {
    out.push('', 'robustness (ideally no beats, no onsets, bpm null)');
    for (const r of robust) {
      out.push(
        `  ${r.item.id.padEnd(18)} beats=${r.score.beatCount} downbeats=${r.score.downbeatCount} onsets=${r.score.onsetCount} bpm=${r.bpm === null ? 'null' : r.bpm.toFixed(2)}`,
      );
    }
  }
  return out;
}
