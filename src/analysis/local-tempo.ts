/**
 * Local tempo: the tempo path (tempo.ts) followed closely enough for ritardandi, accelerandi and
 * rubato.
 *
 * The tempo path decides the metrical level on 11.9 s windows: long enough to hear how the beat
 * subdivides and which level the accents favour, too long for a tempo that moves. In a
 * ritardando from 100 to 70 BPM over six bars, one such window holds intervals from 0.63 to
 * 0.85 s; the onsets a few beats apart no longer line up at any one lag, the periodicity at every
 * tempo falls below the beat threshold (measured: 0.00–0.18 in the last windows of
 * test/analysis-synth.test.ts's ritardando), and the path stays at the old tempo while the beats
 * that follow are pruned as pulseless.
 *
 * So the path is refined on short windows (LOCAL_WINDOW_SEC, every LOCAL_HOP_SEC), on the same
 * metrical level: each short window considers only tempi within ±MAX_DEVIATION_OCTAVES of the
 * path's (a ritardando to half the tempo would otherwise be indistinguishable from a change of
 * level), scores each by its periodicity over two beats (a comb of two multiples: a short
 * window holds few beats), and a Viterbi pass lets the tempo drift smoothly from window to
 * window. Where the short windows hear less pulse than the long ones (a steady groove, whose
 * periodicity the long window measures more reliably), the long window's tempo and periodicity
 * are kept.
 */
import { createAutocorrelation, windowAutocorrelation } from './power-spectrum.js';
import type { TempoPath } from './tempo.js';

const LOCAL_WINDOW_SEC = 5;
const LOCAL_HOP_SEC = 1;
/** Tempo grid of the refinement: 1 % steps, within ±30 % (0.38 octave) of the path's tempo. */
const STEP_OCTAVES = Math.log2(1.01);
const MAX_DEVIATION_OCTAVES = Math.log2(1.3);
/** Drift from one short window to the next (1 s): a Gaussian in log-tempo. */
const DRIFT_SIGMA_OCTAVES = 0.025;
/** A short window's tempo replaces the path's where its periodicity is higher than the path tempo's by this much. */
const MIN_GAIN = 0.1;
/** Weight of the periodicity (0…1) against the log drift probability. */
const SALIENCE_WEIGHT = 8;

function interpolate(centres: Float64Array, values: Float64Array, at: number, log: boolean): number {
  if (centres.length === 0) return 0;
  const f = (v: number): number => (log ? Math.log(v) : v);
  const g = (v: number): number => (log ? Math.exp(v) : v);
  if (at <= centres[0]!) return values[0]!;
  const last = centres.length - 1;
  if (at >= centres[last]!) return values[last]!;
  let j = 0;
  while (j + 1 < centres.length && centres[j + 1]! <= at) j++;
  const a = (at - centres[j]!) / (centres[j + 1]! - centres[j]!);
  return g((1 - a) * f(values[j]!) + a * f(values[j + 1]!));
}

/** The index of the window whose centre is nearest to `at`. */
function nearest(centres: Float64Array, at: number): number {
  let best = 0;
  for (let w = 1; w < centres.length; w++) if (Math.abs(centres[w]! - at) < Math.abs(centres[best]! - at)) best = w;
  return best;
}

/** The path refined on short windows (see the header); the path itself where it has fewer windows than two. */
export async function followLocalTempo(envelope: Float32Array, path: TempoPath): Promise<TempoPath> {
  const frameRate = path.frameRate;
  const n = envelope.length;
  const windowFrames = Math.round(LOCAL_WINDOW_SEC * frameRate);
  const hop = Math.round(LOCAL_HOP_SEC * frameRate);
  if (path.windowCentres.length === 0 || n < 2 * windowFrames) return path;
  const starts: number[] = [];
  for (let s = 0; s + windowFrames <= n; s += hop) starts.push(s);
  if (starts.at(-1)! < n - windowFrames) starts.push(n - windowFrames);

  const steps = Math.floor(MAX_DEVIATION_OCTAVES / STEP_OCTAVES);
  const states = 2 * steps + 1;
  const size = 2 ** Math.ceil(Math.log2(windowFrames));
  const ac = await createAutocorrelation(size);
  const centres = new Float64Array(starts.length);
  const base = new Float64Array(starts.length);
  /** Periodicity over two beats at each state of each window. */
  const salience = starts.map(() => new Float64Array(states));
  starts.forEach((start, w) => {
    const centre = start + windowFrames / 2;
    centres[w] = centre;
    base[w] = interpolate(path.windowCentres, path.bpm, centre, true);
    const value = windowAutocorrelation(ac, envelope, start, windowFrames);
    if (!value) return;
    const acf = (lag: number): number => {
      const i = Math.floor(lag);
      if (i < 0 || i + 1 >= windowFrames) return 0;
      return Math.max(value(i), value(i + 1));
    };
    for (let s = 0; s < states; s++) {
      const bpm = base[w] * 2 ** ((s - steps) * STEP_OCTAVES);
      const period = (60 * frameRate) / bpm;
      salience[w]![s] = Math.max(0, (acf(period) + acf(2 * period)) / 2);
    }
  });

  // Viterbi over (window, offset from the path's tempo); the offset is relative to each window's
  // own path tempo, so the drift is measured in absolute log-tempo via the change of base.
  const radius = Math.ceil((4 * DRIFT_SIGMA_OCTAVES) / STEP_OCTAVES) + 2;
  let score = Float64Array.from(salience[0]!, (v) => SALIENCE_WEIGHT * v);
  const back: Int32Array[] = [];
  for (let w = 1; w < starts.length; w++) {
    const shift = Math.round(Math.log2(base[w]! / base[w - 1]!) / STEP_OCTAVES);
    const next = new Float64Array(states).fill(-Infinity);
    const from = new Int32Array(states);
    for (let s = 0; s < states; s++) {
      // Absolute tempo of state s in window w equals state s + shift in window w − 1.
      const centre = s + shift;
      for (let p = Math.max(0, centre - radius); p <= Math.min(states - 1, centre + radius); p++) {
        const d = ((p - centre) * STEP_OCTAVES) / DRIFT_SIGMA_OCTAVES;
        const v = score[p]! - 0.5 * d * d;
        if (v > next[s]!) {
          next[s] = v;
          from[s] = p;
        }
      }
      if (next[s] === -Infinity) {
        // Unreachable within the drift (the path jumped): restart from the best previous state.
        let best = 0;
        for (let p = 1; p < states; p++) if (score[p]! > score[best]!) best = p;
        next[s] = score[best]! - 8;
        from[s] = best;
      }
      next[s]! += SALIENCE_WEIGHT * salience[w]![s]!;
    }
    back.push(from);
    score = next;
  }
  let state = 0;
  for (let s = 1; s < states; s++) if (score[s]! > score[state]!) state = s;
  const chosen = new Int32Array(starts.length);
  for (let w = starts.length - 1; w >= 0; w--) {
    chosen[w] = state;
    if (w > 0) state = back[w - 1]![state]!;
  }

  const bpm = new Float64Array(starts.length);
  const localSalience = new Float64Array(starts.length);
  const subdivision = new Int32Array(starts.length);
  const ternary = new Uint8Array(starts.length);
  for (let w = 0; w < starts.length; w++) {
    const coarse = nearest(path.windowCentres, centres[w]!);
    const coarseSalience = interpolate(path.windowCentres, path.salience, centres[w]!, false);
    // The short window's own tempo only where it is clearly more periodic than the path's tempo,
    // both in the same short window and in the long one: a syncopated groove is periodic at
    // other lags too (measured: a funk groove at 104 BPM, whose 16ths recur every five 16ths,
    // reads 0.66 at 83 BPM on short windows against 0.59 at 104 on long ones), and a steady beat
    // that the long windows hear must stay where they put it. Where the tempo moves within a
    // long window, the long window hears little at any tempo and the short ones take over.
    const refined = salience[w]![chosen[w]!]! > Math.max(salience[w]![steps]!, coarseSalience) + MIN_GAIN;
    bpm[w] = refined ? base[w]! * 2 ** ((chosen[w]! - steps) * STEP_OCTAVES) : base[w]!;
    localSalience[w] = Math.max(refined ? salience[w]![chosen[w]!]! : salience[w]![steps]!, coarseSalience);
    subdivision[w] = path.subdivision[coarse]!;
    ternary[w] = path.ternary[coarse]!;
  }
  return { frameRate, windowCentres: centres, bpm, salience: localSalience, subdivision, ternary };
}
