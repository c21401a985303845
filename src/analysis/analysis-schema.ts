import { z } from 'zod';

/** 2: meter, beat positions and envelopes at 43 frames per second (hop 512 at 22050 Hz). */
export const ANALYSIS_VERSION = 2;

export const sectionLabelSchema = z.enum(['intro', 'verse', 'build', 'drop', 'break', 'outro']);

export const analysisSchema = z
  .object({
    version: z.literal(ANALYSIS_VERSION),
    generator: z.string(),
    source: z.object({
      path: z.string(),
      /** SHA-256 of the audio file, when known: the analysis cache key. */
      sha256: z.string().optional(),
      sampleRateHz: z.number().int().positive(),
      sampleCount: z.number().int().nonnegative(),
      durationSec: z.number().nonnegative(),
      channels: z.number().int().positive(),
      sourceSampleRateHz: z.number().int().positive(),
      codec: z.string(),
    }),
    /** Null when the audio has no beat (silence, noise, free time). */
    bpm: z.number().positive().nullable(),
    bpmConfidence: z.number().min(0).max(1),
    beatsPerBar: z.number().int().min(1).max(16),
    meter: z
      .object({
        beatsPerBar: z.number().int().min(1).max(16),
        /** How the beat divides: 2 in simple meters (4/4, 3/4), 3 in compound ones (6/8, 12/8). */
        subdivision: z.union([z.literal(2), z.literal(3)]),
        timeSignature: z.string(),
        confidence: z.number().min(0).max(1),
      })
      .strict(),
    beats: z.array(z.number().nonnegative()),
    /**
     * Position of each beat in its bar: 1 on downbeats, up to the bar's length, which is
     * `beatsPerBar` except in bars of another meter (a meter change: up to 7).
     */
    beatPositions: z.array(z.number().int().min(1).max(16)),
    downbeats: z.array(z.number().nonnegative()),
    /** Tempo in effect from each time on; a new entry wherever it moves by more than 1.5 %. */
    tempoMap: z.array(z.object({ timeSec: z.number().nonnegative(), bpm: z.number().positive() })),
    onsets: z.array(z.number().nonnegative()),
    onsetStrengths: z.array(z.number().min(0).max(1)),
    sections: z.array(
      z.object({
        startSec: z.number().nonnegative(),
        endSec: z.number().nonnegative(),
        label: sectionLabelSchema,
        levelDb: z.number(),
      }),
    ),
    /** Per-frame curves, frame i at i · hopSamples / sampleRateHz seconds. */
    envelopes: z.object({
      sampleRateHz: z.number().int().positive(),
      hopSamples: z.number().int().positive(),
      rms: z.array(z.number()),
      loudness: z.array(z.number()),
      low: z.array(z.number()),
      mid: z.array(z.number()),
      high: z.array(z.number()),
      onset: z.array(z.number()),
      centroidHz: z.array(z.number()),
      /** The waveform's smallest and largest sample around each frame (for plots). */
      waveMin: z.array(z.number()),
      waveMax: z.array(z.number()),
    }),
  })
  .strict();

export type Analysis = z.infer<typeof analysisSchema>;
export type SectionLabel = z.infer<typeof sectionLabelSchema>;
export type EnvelopeName = Exclude<keyof Analysis['envelopes'], 'sampleRateHz' | 'hopSamples'>;
