/**
 * A hand-made analysis: exact beats, bars and sections, smooth envelopes. Lets keyframe and plan
 * tests run without decoding audio.
 */
import { ANALYSIS_VERSION, type Analysis, type SectionLabel } from '../../src/analysis/analysis-schema.js';

export interface SyntheticAnalysisOptions {
  readonly durationSec: number;
  readonly bpm: number;
  readonly beatsPerBar?: number;
  /** Section labels and start times, ascending; the first starts at 0. */
  readonly sections: ReadonlyArray<readonly [SectionLabel, number]>;
}

export const SYNTHETIC_RATE_HZ = 22050;
const HOP = 512;

export function syntheticAnalysis(options: SyntheticAnalysisOptions): Analysis {
  const { durationSec, bpm } = options;
  const beatsPerBar = options.beatsPerBar ?? 4;
  const sampleCount = Math.round(durationSec * SYNTHETIC_RATE_HZ);
  const beats: number[] = [];
  for (let t = 0; t < durationSec; t += 60 / bpm) beats.push(Math.round(t * 10000) / 10000);
  const frames = Math.ceil(sampleCount / HOP);
  const wave = (k: number): number[] =>
    Array.from({ length: frames }, (_, i) => Math.round((0.5 + 0.4 * Math.sin((i * k) / 50)) * 10000) / 10000);
  return {
    version: ANALYSIS_VERSION,
    generator: 'test',
    source: {
      path: 'synthetic.wav',
      sampleRateHz: SYNTHETIC_RATE_HZ,
      sampleCount,
      durationSec,
      channels: 1,
      sourceSampleRateHz: SYNTHETIC_RATE_HZ,
      codec: 'pcm_s16le',
    },
    bpm,
    bpmConfidence: 0.9,
    beatsPerBar,
    meter: { beatsPerBar, subdivision: 2, timeSignature: `${beatsPerBar}/4`, confidence: 0.9 },
    beats,
    beatPositions: beats.map((_, i) => (i % beatsPerBar) + 1),
    downbeats: beats.filter((_, i) => i % beatsPerBar === 0),
    tempoMap: [{ timeSec: 0, bpm }],
    onsets: beats,
    onsetStrengths: beats.map(() => 1),
    sections: options.sections.map(([label, startSec], i) => ({
      label,
      startSec,
      endSec: options.sections[i + 1]?.[1] ?? durationSec,
      levelDb: -12,
    })),
    envelopes: {
      sampleRateHz: SYNTHETIC_RATE_HZ,
      hopSamples: HOP,
      rms: wave(1),
      loudness: wave(1),
      low: wave(2),
      mid: wave(3),
      high: wave(5),
      onset: wave(7),
      centroidHz: wave(1),
      waveMin: wave(1).map((v) => -v),
      waveMax: wave(1),
    },
  };
}
