/**
 * The analysis as a picture (`beatloom analyze --plot`): the waveform with sections, downbeats
 * and beats; the band envelopes; the onset envelope with the onsets; the tempo map.
 */
import type { Figure, Marker, Rgb, Span } from './figure.js';
import type { Analysis, SectionLabel } from '../analysis/analysis-schema.js';
import { quantile } from '../shared/math.js';

const SECTION_COLORS: Readonly<Record<SectionLabel, Rgb>> = {
  intro: [120, 170, 255],
  verse: [140, 210, 160],
  build: [255, 200, 90],
  drop: [255, 120, 110],
  break: [190, 150, 240],
  outro: [150, 150, 170],
};
const DOWNBEAT: Rgb = [200, 30, 40];
const BEAT: Rgb = [235, 150, 150];
const WAVE: Rgb = [60, 70, 90];
const LOW: Rgb = [215, 60, 40];
const MID: Rgb = [40, 150, 70];
const HIGH: Rgb = [40, 90, 220];
const ONSET: Rgb = [110, 60, 160];

/** Each value over the curve's 99th percentile, so curves of different units share a 0..1 axis. */
function normalised(values: readonly number[]): Float32Array {
  const scale = quantile(values, 0.99) || 1;
  return Float32Array.from(values, (v) => Math.min(1.2, v / scale));
}

/** Markers only while they stay at least `minGapPx` apart at this width: an hour of beats would be a solid block. */
function sparseMarkers(
  times: readonly number[],
  widthPx: number,
  durationSec: number,
  minGapPx: number,
  marker: Omit<Marker, 'timeSec'>,
): Marker[] {
  if (times.length === 0) return [];
  const pxPerSec = widthPx / Math.max(1e-9, durationSec);
  const meanGapSec = durationSec / times.length;
  if (meanGapSec * pxPerSec < minGapPx) return [];
  return times.map((timeSec) => ({ timeSec, ...marker }));
}

export function analysisFigure(analysis: Analysis, options: { widthPx?: number; title?: string } = {}): Figure {
  const widthPx = options.widthPx ?? 1600;
  const durationSec = analysis.source.durationSec;
  const env = analysis.envelopes;
  const time = { startSec: 0, stepSec: env.hopSamples / env.sampleRateHz };
  const sections: Span[] = analysis.sections.map((s) => ({
    startSec: s.startSec,
    endSec: s.endSec,
    color: SECTION_COLORS[s.label],
    opacity: 0.28,
    label: s.label.toUpperCase(),
  }));
  const downbeats = sparseMarkers(analysis.downbeats, widthPx, durationSec, 4, { color: DOWNBEAT, widthPx: 2 });
  const beats = sparseMarkers(analysis.beats, widthPx, durationSec, 4, { color: BEAT, widthPx: 1 });
  const onsets = sparseMarkers(analysis.onsets, widthPx, durationSec, 3, { color: [200, 185, 225], widthPx: 1 });
  let peak = 1e-6;
  for (let i = 0; i < env.waveMax.length; i++)
    peak = Math.max(peak, Math.abs(env.waveMax[i]!), Math.abs(env.waveMin[i]!));
  const bpm = analysis.bpm === null ? 'NO BEAT' : `${analysis.bpm} BPM ${analysis.meter.timeSignature}`;
  const tempoTimes = analysis.beats.slice(1);
  const tempoValues = analysis.beats.slice(1).map((b, i) => 60 / (b - analysis.beats[i]!));
  const tempoLo = tempoValues.length ? quantile(tempoValues, 0.01) : 60;
  const tempoHi = tempoValues.length ? quantile(tempoValues, 0.99) : 180;
  const tempoPad = Math.max(5, (tempoHi - tempoLo) * 0.2);
  return {
    title: options.title ?? `${analysis.source.path.split(/[\\/]/).at(-1)}  ${bpm}  ${durationSec.toFixed(1)}S`,
    widthPx,
    startSec: 0,
    endSec: durationSec,
    panels: [
      {
        title: 'WAVEFORM + SECTIONS + DOWNBEATS + BEATS',
        heightPx: 220,
        yMin: -peak,
        yMax: peak,
        spans: sections,
        areas: [{ color: WAVE, time, lower: env.waveMin, upper: env.waveMax }],
        markers: [...beats, ...downbeats],
      },
      {
        title: 'BANDS',
        heightPx: 150,
        yMin: 0,
        yMax: 1.2,
        spans: sections.map((s) => ({ ...s, label: undefined, opacity: 0.12 })),
        lines: [
          { label: 'LOW', color: LOW, time, values: normalised(env.low) },
          { label: 'MID', color: MID, time, values: normalised(env.mid) },
          { label: 'HIGH', color: HIGH, time, values: normalised(env.high) },
        ],
      },
      {
        title: 'ONSET ENVELOPE + ONSETS',
        heightPx: 110,
        yMin: 0,
        yMax: 1.05,
        markers: onsets,
        lines: [{ label: 'ONSET', color: ONSET, time, values: env.onset, widthPx: 1 }],
      },
      {
        title: 'TEMPO BPM',
        heightPx: 90,
        yMin: tempoLo - tempoPad,
        yMax: tempoHi + tempoPad,
        lines: tempoValues.length
          ? [
              {
                label: `${Math.round(tempoLo)}-${Math.round(tempoHi)}`,
                color: [20, 20, 20],
                time: { timesSec: tempoTimes },
                values: tempoValues,
              },
            ]
          : [],
      },
    ],
  };
}
