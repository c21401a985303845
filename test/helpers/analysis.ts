/** Synthetic analyses with exactly known beats, sections and envelopes, for keyframe tests. */
import type { Analysis, SectionLabel } from '../../src/analysis/analysis-schema.js';

export interface AnalysisSpec {
  readonly durationSec: number;
  readonly beats?: readonly number[];
  readonly downbeats?: readonly number[];
  readonly beatsPerBar?: number;
  readonly bpm?: number | null;
  readonly sections?: ReadonlyArray<{ readonly startSec: number; readonly label: SectionLabel }>;
  readonly onsets?: readonly number[];
  readonly onsetStrengths?: readonly number[];
  /** Envelope values as functions of time (default 0); the grid is 100 Hz. */
  readonly envelopes?: Partial<
    Record<'rms' | 'loudness' | 'low' | 'mid' | 'high' | 'onset' | 'centroidHz', (sec: number) => number>
  >;
  /** Grid rate (envelope samples per second). */
  readonly gridHz?: number;
}

/** Beat times at `bpm` from `startSec` until `endSec` (exclusive). */
export function steadyBeats(bpm: number, startSec: number, endSec: number): number[] {
  const out: number[] = [];
  for (let k = 0; startSec + (k * 60) / bpm < endSec - 1e-9; k++) out.push(startSec + (k * 60) / bpm);
  return out;
}

export function makeAnalysis(spec: AnalysisSpec): Analysis {
  const gridHz = spec.gridHz ?? 100;
  const length = Math.ceil(spec.durationSec * gridHz);
  const env = (name: keyof NonNullable<AnalysisSpec['envelopes']>): number[] =>
    Array.from({ length }, (_, i) => spec.envelopes?.[name]?.(i / gridHz) ?? 0);
  const beats = [...(spec.beats ?? [])];
  const beatsPerBar = spec.beatsPerBar ?? 4;
  const downbeats = [...(spec.downbeats ?? beats.filter((_, i) => i % beatsPerBar === 0))];
  const sectionSpecs = spec.sections ?? [{ startSec: 0, label: 'verse' as const }];
  const sections = sectionSpecs.map((s, i) => ({
    startSec: s.startSec,
    endSec: sectionSpecs[i + 1]?.startSec ?? spec.durationSec,
    label: s.label,
    levelDb: -20,
  }));
  const sampleRateHz = 22050;
  return {
    version: 2,
    generator: 'test',
    source: {
      path: 'synthetic.wav',
      sampleRateHz,
      sampleCount: Math.round(spec.durationSec * sampleRateHz),
      durationSec: spec.durationSec,
      channels: 1,
      sourceSampleRateHz: sampleRateHz,
      codec: 'pcm_s16le',
    },
    bpm: spec.bpm !== undefined ? spec.bpm : beats.length >= 2 ? 60 / (beats[1]! - beats[0]!) : null,
    bpmConfidence: beats.length ? 0.9 : 0,
    beatsPerBar,
    meter: { beatsPerBar, subdivision: 2, timeSignature: `${beatsPerBar}/4`, confidence: beats.length ? 0.9 : 0 },
    beats,
    beatPositions: beatPositionsOf(beats, downbeats, beatsPerBar),
    downbeats,
    tempoMap: [],
    onsets: [...(spec.onsets ?? [])],
    onsetStrengths: [...(spec.onsetStrengths ?? (spec.onsets ?? []).map(() => 1))],
    sections,
    envelopes: {
      sampleRateHz: gridHz,
      hopSamples: 1,
      rms: env('rms'),
      loudness: env('loudness'),
      low: env('low'),
      mid: env('mid'),
      high: env('high'),
      onset: env('onset'),
      centroidHz: env('centroidHz'),
      waveMin: Array.from({ length }, (_, i) => -(spec.envelopes?.rms?.(i / gridHz) ?? 0)),
      waveMax: Array.from({ length }, (_, i) => spec.envelopes?.rms?.(i / gridHz) ?? 0),
    },
  };
}

/** Each beat's place in its bar (1 on downbeats), counting on from the last downbeat before it. */
function beatPositionsOf(beats: readonly number[], downbeats: readonly number[], beatsPerBar: number): number[] {
  let position = beatsPerBar;
  return beats.map((t) => {
    position = downbeats.some((d) => Math.abs(d - t) < 1e-9) ? 1 : Math.min(16, position + 1);
    return position;
  });
}
