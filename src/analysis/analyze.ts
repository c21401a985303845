import { decodeAudio } from '../ffmpeg/decode-audio.js';
import { VERSION } from '../shared/version.js';
import { ANALYSIS_VERSION, type Analysis } from './analysis-schema.js';
import { trackBeats } from './beats.js';
import { estimateDownbeats } from './downbeats.js';
import { computeFrameFeatures, DEFAULT_FEATURE_OPTIONS } from './features.js';
import { onsetStrength, pickOnsets } from './onsets.js';
import { findSections } from './sections.js';
import { median, quantile, round } from './signal-utils.js';
import { estimateTempo } from './tempo.js';

/** The rate everything is analysed at: enough bandwidth for hats, half the work of 44.1 kHz. */
export const ANALYSIS_SAMPLE_RATE_HZ = 22050;

/** Below this tempo confidence the audio is treated as having no beat. */
const MIN_BEAT_CONFIDENCE = 0.08;
/** Below this level (dBFS RMS over the loud part) the audio is treated as silence. */
const SILENCE_RMS = 10 ** (-60 / 20);

export interface SourceInfo {
  readonly path: string;
  readonly channels: number;
  readonly sourceSampleRateHz: number;
  readonly codec: string;
}

export interface AnalyzeOptions {
  readonly signal?: AbortSignal;
}

export async function analyzeFile(path: string, options: AnalyzeOptions = {}): Promise<Analysis> {
  const audio = await decodeAudio(path, { sampleRateHz: ANALYSIS_SAMPLE_RATE_HZ, signal: options.signal });
  return analyzeSamples(audio.samples, audio.sampleRateHz, {
    path,
    channels: audio.channels,
    sourceSampleRateHz: audio.sourceSampleRateHz,
    codec: audio.codec,
  });
}

export function analyzeSamples(samples: Float32Array, sampleRateHz: number, source: SourceInfo): Analysis {
  const features = computeFrameFeatures(samples, sampleRateHz, DEFAULT_FEATURE_OPTIONS);
  const frameRate = sampleRateHz / features.hopSamples;
  const toSec = (frame: number): number => round(frame / frameRate, 4);
  const envelope = onsetStrength(features);

  const loudRms = quantile(features.rms, 0.9);
  const silent = loudRms < SILENCE_RMS;
  const onsets = silent ? [] : pickOnsets(envelope, frameRate, 0.05);

  const tempo = silent ? { bpm: 0, periodFrames: 0, confidence: 0 } : estimateTempo(envelope, frameRate);
  const hasBeat = tempo.confidence >= MIN_BEAT_CONFIDENCE && tempo.bpm > 0;
  const beatFrames = hasBeat ? trackBeats(envelope, tempo.periodFrames) : [];
  const meter = estimateDownbeats(beatFrames, features);
  const beats = beatFrames.map(toSec);
  const downbeats = beats.filter((_, i) => i >= meter.phase && (i - meter.phase) % meter.beatsPerBar === 0);

  const durationSec = samples.length / sampleRateHz;
  const barStarts = downbeats.length >= 2 ? downbeats : fixedWindows(durationSec, 8);
  const sections = silent ? [{ startSec: 0, endSec: round(durationSec, 4), label: 'intro' as const, levelDb: -100 }] : findSections(barStarts, durationSec, features);

  const digits = (values: Float32Array, d = 4): number[] => Array.from(values, (v) => round(v, d));
  return {
    version: ANALYSIS_VERSION,
    generator: `beatloom ${VERSION}`,
    source: {
      path: source.path,
      sampleRateHz,
      sampleCount: samples.length,
      durationSec: round(durationSec, 6),
      channels: source.channels,
      sourceSampleRateHz: source.sourceSampleRateHz,
      codec: source.codec,
    },
    bpm: hasBeat && beats.length >= 2 ? round(bpmFromBeats(beats), 2) : null,
    bpmConfidence: hasBeat ? round(tempo.confidence, 3) : 0,
    beatsPerBar: meter.beatsPerBar,
    beats,
    downbeats,
    tempoMap: tempoMapFromBeats(beats),
    onsets: onsets.map((o) => round(o.timeSec, 4)),
    onsetStrengths: onsets.map((o) => round(o.strength, 3)),
    sections: sections.map((s) => ({ ...s, startSec: round(s.startSec, 4), endSec: round(s.endSec, 4), levelDb: round(s.levelDb, 2) })),
    envelopes: {
      sampleRateHz,
      hopSamples: features.hopSamples,
      rms: digits(features.rms),
      loudness: digits(features.loudness, 3),
      low: digits(features.low),
      mid: digits(features.mid),
      high: digits(features.high),
      onset: digits(envelope),
      centroidHz: digits(features.centroidHz, 1),
    },
  };
}

function fixedWindows(durationSec: number, windowSec: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < durationSec; t += windowSec) out.push(t);
  return out;
}

/** The song's tempo: 60 / median inter-beat interval. */
function bpmFromBeats(beats: readonly number[]): number {
  const ibis = beats.slice(1).map((b, i) => b - beats[i]!);
  return 60 / median(ibis);
}

/** A tempo-map entry wherever the local tempo (median of 4 intervals) moves by more than 1.5 %. */
export function tempoMapFromBeats(beats: readonly number[]): Array<{ timeSec: number; bpm: number }> {
  if (beats.length < 3) return [];
  const ibis = beats.slice(1).map((b, i) => b - beats[i]!);
  const map: Array<{ timeSec: number; bpm: number }> = [];
  for (let i = 0; i < ibis.length; i++) {
    const window = ibis.slice(Math.max(0, i - 2), Math.min(ibis.length, i + 2));
    const bpm = 60 / median(window);
    const last = map[map.length - 1];
    if (!last || Math.abs(bpm - last.bpm) / last.bpm > 0.015) map.push({ timeSec: beats[i]!, bpm: round(bpm, 2) });
  }
  return map;
}
