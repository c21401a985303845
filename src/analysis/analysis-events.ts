import { z } from 'zod';
import type { Analysis } from './analysis-schema.js';

/**
 * The compact form other tools read (`beatloom analyze --events`, the benchmark's estimates):
 * the format of beats-public's `score.py`. Seconds; `bpm` null where there is no beat.
 */
export const analysisEventsSchema = z
  .object({
    beats: z.array(z.number().nonnegative()),
    downbeats: z.array(z.number().nonnegative()),
    onsets: z.array(z.number().nonnegative()),
    bpm: z.number().positive().nullable(),
  })
  .strict();

export type AnalysisEvents = z.infer<typeof analysisEventsSchema>;

export function analysisEvents(analysis: Analysis): AnalysisEvents {
  return { beats: analysis.beats, downbeats: analysis.downbeats, onsets: analysis.onsets, bpm: analysis.bpm };
}
