/**
 * Onset times at 2.9 ms instead of the envelope's frame grid.
 *
 * The onset envelope peaks where a 46 ms window sees the largest rise, which for a sound with an
 * instant attack is its start but for one that swells in over a few milliseconds (a plucked
 * string, a piano's hammer, a sampled drum with a soft front) is later, by about half the attack.
 * Listeners place the onset at the start of the rise. So each beat and onset is moved to the
 * steepest rise of the fine transient energy (features.fineEnergy, in dB, from one 2.9 ms block
 * to the next) within REFINE_BEFORE_SEC before and REFINE_AFTER_SEC after the envelope's peak,
 * where that rise is a clear one (MIN_RISE_DB); otherwise the peak's time stands. From the
 * steepest block the onset walks back through the blocks that were already rising (at least
 * RISING_STEP_DB each): a slow attack over a decaying chord rises for several blocks before its
 * steepest step, which comes only when the new note overtakes the old ones (measured on the
 * public set: the waltz's median beat offset 5.0 → 2.7 ms, the song without drums 4.9 → 4.2 ms,
 * every category within ±3 ms but that one; instant attacks have no rising block before the jump).
 */
import { FINE_BLOCK_SAMPLES, type FrameFeatures } from './feature-extractor.js';

const REFINE_BEFORE_SEC = 0.02;
const REFINE_AFTER_SEC = 0.005;
const MIN_RISE_DB = 3;
/**
 * A block rising by this much (dB) on the previous one is part of the rise: 1 dB in 2.9 ms, a
 * rate no decaying sound and no steady one reaches. The walk back from the steepest block goes
 * at most this many blocks before the search window.
 */
const RISING_STEP_DB = 1;
const WALK_BACK_BLOCKS = 3;
/** The event's peak is looked for up to this many blocks (29 ms) after the search window. */
const PEAK_AFTER_BLOCKS = 10;
/** −30 dB: the level (energy ratio to the event's peak) a rise must reach to be the event's start. */
const MIN_LEVEL_OF_PEAK = 0.001;
/** Energy floor (mean square of the difference signal): −100 dB, so silence does not rise from −∞. */
const FLOOR = 1e-10;

export function refineOnsetSec(timeSec: number, features: FrameFeatures): number {
  const energy = features.fineEnergy;
  const blocksPerSec = features.sampleRateHz / FINE_BLOCK_SAMPLES;
  const from = Math.max(1, Math.floor((timeSec - REFINE_BEFORE_SEC) * blocksPerSec));
  const to = Math.min(energy.length - 1, Math.ceil((timeSec + REFINE_AFTER_SEC) * blocksPerSec));
  // A rise counts only where it reaches within 30 dB of the event's peak: a low hum's energy swings
  // with its waveform from block to block, and such a wiggle is not the event's start.
  let peak = 0;
  for (let k = from, end = Math.min(energy.length - 1, to + PEAK_AFTER_BLOCKS); k <= end; k++)
    peak = Math.max(peak, energy[k]!);
  let best = -1;
  let bestRise = MIN_RISE_DB;
  for (let k = from; k <= to; k++) {
    if (energy[k]! < peak * MIN_LEVEL_OF_PEAK) continue;
    const rise = 10 * Math.log10((energy[k]! + FLOOR) / (energy[k - 1]! + FLOOR));
    if (rise > bestRise) {
      bestRise = rise;
      best = k;
    }
  }
  if (best < 0) return timeSec;
  // A slow attack rises over several blocks before its steepest one (over a decaying chord the
  // steepest dB step comes when the new note overtakes the old ones): the onset is where the
  // rise began, so walk back through the blocks that were already rising.
  const riseAt = (k: number): number => 10 * Math.log10((energy[k]! + FLOOR) / (energy[k - 1]! + FLOOR));
  let start = best;
  while (
    start - 1 >= Math.max(1, from - WALK_BACK_BLOCKS) &&
    energy[start - 1]! >= peak * MIN_LEVEL_OF_PEAK &&
    riseAt(start - 1) >= RISING_STEP_DB
  )
    start--;
  // The block where the energy jumps holds the onset; its centre is within 1.5 ms of it.
  return (start + 0.5) / blocksPerSec;
}
