/**
 * The analysis stage: audio file → `Analysis` (beats with a tempo map, downbeats and meter,
 * onsets, bpm with a confidence, envelopes, sections).
 *
 * Method, in order (each step's module says why it works the way it does):
 *
 * 1. Decode and features, streamed: ffmpeg decodes to mono 22050 Hz chunks that go straight into
 *    the feature extractor (feature-extractor.ts), so memory does not grow with the PCM.
 * 2. Envelopes (onsets.ts): SuperFlux in four regions → an onset envelope (regions summed) and a
 *    beat envelope (regions equalised, so kick and snare count as much as hats).
 * 3. Tempo path (tempo.ts): windowed autocorrelation; the metrical level is chosen by a
 *    Klapuri-style model with a tempo prior and a prior on how the beat subdivides; a Viterbi
 *    pass follows ramps and tempo changes. Music without drums: the plain onset envelope (the
 *    chords and melody as they rise) is tracked too and used where it is clearly the more
 *    periodic (`pulseEnvelope`). Windows read at exactly twice or half the song's tempo go back on
 *    the song's level, and the path's level is checked against the level twice as slow by the
 *    bar (do bass and chords repeat at a bar of 2–6 beats?) and the backbeat (tempo-level.ts).
 *    The path is then refined on 5 s windows on the same level (local-tempo.ts), so ritardandi
 *    and accelerandi are followed.
 * 4. Beats (beats.ts): Ellis' dynamic programming with the local period from the refined path.
 *    Phase (beat-phase.ts): in a swung beat, the long eighth starts the beat (the tracker can
 *    lock onto the accented short one, two thirds of a beat late); then the tracked beats against
 *    the offbeats between them, judged by the accents (each register a vote), the kick/bass band
 *    and an alternating snare (the backbeat); where the offbeats win (syncopated funk, a reggae
 *    one drop) the beats move there.
 * 5. Where there is no beat: silence (nothing above -60 dBFS) and songs where less than a third
 *    of the tempo windows hear a beat-level periodicity (noise, free time) get no beats, bpm null
 *    and confidence 0; inside a song, long silences and pulseless passages lose their beats
 *    (beatless.ts).
 * 6. Meter and downbeats (downbeats.ts): bar length (2 to 7 beats, or 2 to 4 dotted beats) from
 *    the repetition of the rhythm pattern under a meter prior; downbeats by a Viterbi over
 *    (meter, bar position) with bass, harmonic change (over a beat, half a bar and a bar) and
 *    (negatively) snare cues, where a bar of another meter may follow at a cost (meter changes).
 * 7. Onsets (onsets.ts): SuperFlux peak picking on the summed envelope, and on its own above
 *    3.8 kHz for hats and cymbals that louder drums mask there.
 * 8. Onset times (onset-timing.ts): the envelopes peak where a 46 ms window sees the largest
 *    rise, late by half the attack for sounds that swell in; each beat and onset moves to the
 *    steepest rise of a 2.9 ms transient envelope near it (no constant offset: measured on
 *    synthetic hits, test/analysis-synth.test.ts and test/onset-timing.test.ts check it).
 * 9. Sections (sections.ts): bars described by level, spectral shape, drum activity and chroma;
 *    boundaries from a multi-scale checkerboard novelty, aligned to four-bar phrases; labels from
 *    repetition, intensity against the neighbours and the song, and position.
 */
import { decodeAudioChunks, type DecodedAudioInfo } from '../ffmpeg/decode-audio.js';
import { throwIfAborted, usageError } from '../shared/errors.js';
import type { TaskOptions } from '../shared/progress.js';
import { VERSION } from '../shared/version.js';
import { ANALYSIS_VERSION, type Analysis } from './analysis-schema.js';
import { onSwungOffbeats, phaseEvidence, shiftToOffbeats, snareActivation } from './beat-phase.js';
import { keepBeatsWithPulse } from './beatless.js';
import { trackBeats } from './beats.js';
import { estimateDownbeats } from './downbeats.js';
import { ENVELOPE_STRIDE, FeatureExtractor, type FrameFeatures } from './feature-extractor.js';
import { beatEnvelope, findOnsets, onsetEnvelope } from './onsets.js';
import { refineOnsetSec } from './onset-timing.js';
import { followLocalTempo } from './local-tempo.js';
import { findSections } from './sections.js';
import { median, movingAverage, quantile, round, roundAll } from '../shared/math.js';
import { periodAtFrames, trackTempo, type TempoPath } from './tempo.js';
import { chooseTempoLevel } from './tempo-level.js';

/** The rate everything is analysed at: enough bandwidth for hats, half the work of 44.1 kHz. */
export const ANALYSIS_SAMPLE_RATE_HZ = 22050;

/** Below this beat-level periodicity (normalised autocorrelation) a passage has no beat. */
const MIN_BEAT_SALIENCE = 0.2;
/** The least share of the song's tempo windows that must hear a beat for the song to have one. */
const MIN_PULSE_SHARE = 1 / 3;
/** Local accent level (mean beat envelope over ± this, s) below a tenth of the song's typical: no beat there. */
const ACTIVITY_SEC = 2;
const MIN_ACTIVITY_RATIO = 0.1;
/** Below this level (dBFS, loud part of the song) the audio is treated as silence. */
const SILENCE_DB = -60;

export interface SourceInfo {
  readonly path: string;
  readonly channels: number;
  readonly sourceSampleRateHz: number;
  readonly codec: string;
}

export async function analyzeFile(path: string, options: TaskOptions = {}): Promise<Analysis> {
  const extractor = await FeatureExtractor.create(ANALYSIS_SAMPLE_RATE_HZ);
  let info: DecodedAudioInfo | undefined;
  options.onProgress?.({
    stage: 'analyze',
    done: 0,
    total: 2,
    unit: 'steps',
    detail: 'decoding and computing features',
  });
  for await (const chunk of decodeAudioChunks(
    path,
    { sampleRateHz: ANALYSIS_SAMPLE_RATE_HZ, signal: options.signal },
    (i) => (info = i),
  )) {
    throwIfAborted(options.signal);
    extractor.push(chunk);
  }
  const features = extractor.finish();
  if (info === undefined || features.sampleCount === 0) {
    throw usageError(
      'E_AUDIO_EMPTY',
      `no audio samples could be decoded from ${path}`,
      'check that the file plays; re-export it if it is damaged',
    );
  }
  options.onProgress?.({
    stage: 'analyze',
    done: 1,
    total: 2,
    unit: 'steps',
    detail: 'tempo, beats, downbeats, sections',
  });
  const analysis = await analyzeFeatures(features, {
    path,
    channels: info.channels,
    sourceSampleRateHz: info.sourceSampleRateHz,
    codec: info.codec,
  });
  options.onProgress?.({ stage: 'analyze', done: 2, total: 2, unit: 'steps' });
  return analysis;
}

/** Analyses PCM already in memory (mono, at `sampleRateHz`). */
export async function analyzeSamples(
  samples: Float32Array,
  sampleRateHz: number,
  source: SourceInfo,
): Promise<Analysis> {
  const extractor = await FeatureExtractor.create(sampleRateHz);
  extractor.push(samples);
  return analyzeFeatures(extractor.finish(), source);
}

/**
 * Where along the song a beat can be heard: the tempo path's periodicity at the frame's window is
 * a beat's, and the accents there are not a faint flutter. Periodicity is scale-free (a sustained
 * chord's partials beating against each other can be as periodic as a drum kit), so the local
 * accent level (mean beat envelope over ±ACTIVITY_SEC) must reach a tenth of the song's typical.
 */
function beatPresence(path: TempoPath, envelope: Float32Array, frameRate: number): (frame: number) => boolean {
  const activity = movingAverage(envelope, Math.round(ACTIVITY_SEC * frameRate));
  const typical = median(activity);
  const centres = path.windowCentres;
  return (frame) => {
    let nearest = 0;
    for (let w = 1; w < centres.length; w++)
      if (Math.abs(centres[w]! - frame) < Math.abs(centres[nearest]! - frame)) nearest = w;
    const f = Math.max(0, Math.min(envelope.length - 1, Math.round(frame)));
    return (path.salience[nearest] ?? 0) >= MIN_BEAT_SALIENCE && activity[f]! >= MIN_ACTIVITY_RATIO * typical;
  };
}

/**
 * Whether the song has a beat: a beat-level periodicity of at least MIN_BEAT_SALIENCE in at least
 * MIN_PULSE_SHARE of the tempo windows. Music whose pulse comes and goes (a fanfare between
 * sustained chords, a piece with free-time passages) keeps its beats where they are heard, and
 * loses them where they are not (beatless.ts); noise and silence have none anywhere.
 */
function hasPulse(path: TempoPath): boolean {
  if (path.salience.length === 0) return false;
  let pulsed = 0;
  for (const s of path.salience) if (s >= MIN_BEAT_SALIENCE) pulsed++;
  return pulsed >= MIN_PULSE_SHARE * path.salience.length;
}

/** How much more periodic the pitched envelope must be than the percussive one to be used instead. */
const PITCHED_SALIENCE_RATIO = 1.5;

/**
 * The envelope the beat is tracked on, and its tempo path. The beat envelope (regions equalised,
 * onsets.ts) is made for drums: kick and snare count as much as the many hat bands. In music
 * without drums that equalisation blows up the sparse regions (a bass note once a bar, the few
 * bright partials above 3.8 kHz) until the bar, not the beat, is what recurs, and bowed or blown
 * notes that swell in leave the beat level with little periodicity (measured: a synthetic string
 * piece at 72 BPM has a beat-level periodicity of 0.13 on the beat envelope, 0.68 on the plain
 * onset envelope; test/analysis-synth.test.ts). The plain onset envelope (every region as it
 * rises, so the chords and melody in the middle registers carry the pulse) is therefore tracked
 * as well, and used where it is clearly the more periodic of the two; on music with drums the two
 * agree or the beat envelope wins (both sets: at most 1.33 times, trap's 16th hats).
 */
async function pulseEnvelope(
  features: FrameFeatures,
  frameRate: number,
): Promise<{ envelope: Float32Array; path: TempoPath }> {
  const salience = (p: TempoPath): number => (p.salience.length > 0 ? median(p.salience) : 0);
  const percussive = beatEnvelope(features);
  const percussivePath = await trackTempo(percussive, frameRate);
  // Periodicity is at most 1: past 1 / PITCHED_SALIENCE_RATIO the pitched envelope cannot win.
  if (PITCHED_SALIENCE_RATIO * salience(percussivePath) >= 1) return { envelope: percussive, path: percussivePath };
  const pitched = onsetEnvelope(features);
  const pitchedPath = await trackTempo(pitched, frameRate);
  return salience(pitchedPath) >= MIN_BEAT_SALIENCE &&
    salience(pitchedPath) > PITCHED_SALIENCE_RATIO * salience(percussivePath)
    ? { envelope: pitched, path: pitchedPath }
    : { envelope: percussive, path: percussivePath };
}

export async function analyzeFeatures(features: FrameFeatures, source: SourceInfo): Promise<Analysis> {
  const { sampleRateHz, hopSamples } = features;
  const frameRate = sampleRateHz / hopSamples;
  const durationSec = features.sampleCount / sampleRateHz;
  const toSec = (frame: number): number =>
    round(Math.min(durationSec, Math.max(0, refineOnsetSec(frame / frameRate, features))), 4);
  const loudRms = quantile(features.rms, 0.9);
  const silent = 20 * Math.log10(loudRms || 1e-12) < SILENCE_DB;
  const pulse = silent ? undefined : await pulseEnvelope(features, frameRate);
  const beatEnv = pulse?.envelope ?? beatEnvelope(features);
  const snare = snareActivation(features);
  const path = pulse ? chooseTempoLevel(pulse.path, features, snare) : undefined;
  const confidence = path && path.salience.length > 0 ? Math.max(0, Math.min(1, median(path.salience))) : 0;
  const hasBeat = path !== undefined && hasPulse(path);
  const local = hasBeat ? await followLocalTempo(beatEnv, path) : undefined;
  const compound = hasBeat && 2 * path.ternary.reduce((a, b) => a + b, 0) > path.ternary.length;
  const followed = local ? trackBeats(beatEnv, periodAtFrames(local, features.frameCount)) : [];
  // A swung beat: first the long and short eighths, then on or off the beat (beat-phase.ts).
  const tracked = compound && onSwungOffbeats(followed, beatEnv) ? shiftToOffbeats(followed, beatEnv, 1 / 3) : followed;
  const onOffbeats = tracked.length > 0 && phaseEvidence(tracked, features, snare).total < 0;
  const beatFrames = hasBeat
    ? keepBeatsWithPulse(onOffbeats ? shiftToOffbeats(tracked, beatEnv) : tracked, {
        envelope: beatEnv,
        frameRate,
        rms: features.rms,
        envelopeStride: ENVELOPE_STRIDE,
        loudRms,
        present: beatPresence(local!, beatEnv, frameRate),
      })
    : [];
  const { meter, positions } = estimateDownbeats(beatFrames, features, compound ? 3 : 2, snare);
  const beats = beatFrames.map(toSec);
  // Tempo from the tracked beats, not the refined ones: refinement snaps each beat to a 2.9 ms
  // block, which would make the median interval (and so the bpm) step in 0.3 % increments.
  const beatTimes = beatFrames.map((f) => f / frameRate);
  const downbeats = beats.filter((_, i) => positions[i] === 1);
  const onsets = silent ? [] : findOnsets(features, frameRate);
  const strongest = Math.max(
    1e-9,
    quantile(
      onsets.map((o) => o.strength),
      0.95,
    ),
  );

  const sections = silent
    ? [{ startSec: 0, endSec: durationSec, label: 'intro' as const, levelDb: -100 }]
    : findSections(downbeats, durationSec, features);

  const onsetCurve = envelopeOfBeats(beatEnv, features.envelopeCount);
  const digits = (values: Float32Array, d = 4): number[] => roundAll(values, d);
  return {
    version: ANALYSIS_VERSION,
    generator: `beatloom ${VERSION}`,
    source: {
      path: source.path,
      sampleRateHz,
      sampleCount: features.sampleCount,
      durationSec: round(durationSec, 6),
      channels: source.channels,
      sourceSampleRateHz: source.sourceSampleRateHz,
      codec: source.codec,
    },
    bpm: beats.length >= 2 ? round(bpmFromBeats(beatTimes), 2) : null,
    bpmConfidence: beats.length >= 2 ? round(confidence, 3) : 0,
    beatsPerBar: meter.beatsPerBar,
    meter: { ...meter, confidence: round(meter.confidence, 3) },
    beats,
    beatPositions: positions,
    downbeats,
    tempoMap: tempoMapFromBeats(beatTimes, beats),
    onsets: onsets.map((o) => toSec(o.frame)),
    onsetStrengths: onsets.map((o) => round(Math.min(1, o.strength / strongest), 3)),
    sections: sections.map((s) => ({
      ...s,
      startSec: round(s.startSec, 4),
      endSec: round(s.endSec, 4),
      levelDb: round(s.levelDb, 2),
    })),
    envelopes: {
      sampleRateHz,
      hopSamples: features.envelopeHopSamples,
      rms: digits(features.rms),
      loudness: digits(features.loudness, 3),
      low: digits(features.low),
      mid: digits(features.mid),
      high: digits(features.high),
      onset: digits(onsetCurve),
      centroidHz: digits(features.centroidHz, 1),
      waveMin: digits(features.waveMin, 3),
      waveMax: digits(features.waveMax, 3),
    },
  };
}

/** The beat envelope on the envelope grid (the larger of each pair of frames), 99th percentile = 1. */
function envelopeOfBeats(beatEnv: Float32Array, envelopeCount: number): Float32Array {
  const out = new Float32Array(envelopeCount);
  for (let e = 0; e < envelopeCount; e++) {
    let peak = 0;
    for (let s = 0; s < ENVELOPE_STRIDE; s++) peak = Math.max(peak, beatEnv[e * ENVELOPE_STRIDE + s] ?? 0);
    out[e] = peak;
  }
  const scale = quantile(out, 0.99);
  if (scale > 0) for (let e = 0; e < envelopeCount; e++) out[e] = Math.min(1, out[e]! / scale);
  return out;
}

/** The song's tempo: 60 / median inter-beat interval. */
function bpmFromBeats(beats: readonly number[]): number {
  const ibis = beats.slice(1).map((b, i) => b - beats[i]!);
  return 60 / median(ibis);
}

/**
 * A tempo-map entry wherever the local tempo (median of 4 intervals) moves by more than 1.5 %.
 * Tempo comes from `beats`; an entry's time is the same beat's in `times` (the beats as output).
 */
export function tempoMapFromBeats(
  beats: readonly number[],
  times: readonly number[] = beats,
): Array<{ timeSec: number; bpm: number }> {
  if (beats.length < 3) return [];
  const ibis = beats.slice(1).map((b, i) => b - beats[i]!);
  const map: Array<{ timeSec: number; bpm: number }> = [];
  for (let i = 0; i < ibis.length; i++) {
    const window = ibis.slice(Math.max(0, i - 2), Math.min(ibis.length, i + 2));
    const bpm = 60 / median(window);
    const last = map[map.length - 1];
    if (!last || Math.abs(bpm - last.bpm) / last.bpm > 0.015) map.push({ timeSec: times[i]!, bpm: round(bpm, 2) });
  }
  return map;
}
