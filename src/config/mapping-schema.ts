/**
 * The mapping: how audio features drive generation. Version 1.
 * The zod schema is the source of truth; defaults are resolved here, once.
 */
import { z } from 'zod';
import { durationSchema } from './units.js';

export const signalSourceSchema = z.enum(['rms', 'loudness', 'low', 'mid', 'high', 'onset', 'beat', 'downbeat']);

export const signalSchema = z
  .object({
    /** Which analysis feature the signal follows. */
    from: signalSourceSchema,
    /** `percentile`: the song's 5th..95th percentile maps to 0..1 (robust to a few loud spikes). */
    normalize: z.enum(['percentile', 'none']).default('percentile'),
    /** Values below the threshold (after normalising) count as 0; above, rescaled to 0..1. */
    threshold: z.number().min(0).max(0.99).default(0),
    attack: durationSchema.prefault(0),
    release: durationSchema.prefault(0),
    /** Anticipation: the signal is moved earlier by this much so a change lands on the beat. */
    lead: durationSchema.prefault(0),
  })
  .strict();

export const reduceSchema = z.enum(['mean', 'max', 'start']);

export const targetSchema = z
  .object({
    base: z.number(),
    add: z.array(z.object({ signal: z.string(), amount: z.number() }).strict()).default([]),
    range: z.tuple([z.number(), z.number()]),
    /** How the per-frame curve becomes one value per 16-frame segment. */
    reduce: reduceSchema.default('mean'),
  })
  .strict();

export const segmentsSchema = z
  .object({
    /** AnimateDiff's context length. */
    frames: z.number().int().min(2).max(64).default(16),
    /** Overlap between neighbouring segments when nothing else decides it. */
    overlap: z.number().int().min(0).max(32).default(4),
    minOverlap: z.number().int().min(0).max(32).default(2),
    maxOverlap: z.number().int().min(0).max(32).default(8),
    /** Frames over which one segment fades into the next (0 = hard cut); at most the overlap. */
    crossfade: z.number().int().min(0).max(32).default(4),
    /** Put transitions on beats or bar starts where the stride allows. */
    align: z.enum(['none', 'beats', 'downbeats']).default('downbeats'),
    continuity: z.enum(['none', 'chain', 'anchor']).default('none'),
  })
  .strict();

export const seedSchema = z
  .object({
    /** `section`: new imagery at each section; `bars`: every `everyBars` bars; `never`: one seed. */
    change: z.enum(['never', 'section', 'bars']).default('section'),
    everyBars: z.number().int().min(1).default(8),
  })
  .strict();

/** How the incoming segment's weight rises across a crossfade (see stitching/crossfade-curve.ts). */
export const crossfadeCurveSchema = z.enum(['linear', 'smoothstep', 'smootherstep', 'ease-in', 'ease-out']);

/** How segments meet in the stitched video. The crossfade length is segments.crossfade. */
export const transitionsSchema = z
  .object({
    curve: crossfadeCurveSchema.default('linear'),
    /** Transitions whose lead frame is on a downbeat (or any beat) become hard cuts on that frame. */
    cutOn: z.enum(['none', 'beats', 'downbeats']).default('none'),
  })
  .strict();

export const mappingSchema = z
  .object({
    version: z.literal(1),
    description: z.string().optional(),
    segments: segmentsSchema.prefault({}),
    signals: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'signal names are letters, digits and _'), signalSchema).default({}),
    targets: z
      .object({
        motionScale: targetSchema,
        denoise: targetSchema,
      })
      .strict(),
    seed: seedSchema.prefault({}),
    transitions: transitionsSchema.prefault({}),
  })
  .strict()
  .superRefine((mapping, ctx) => {
    for (const [targetName, target] of Object.entries(mapping.targets)) {
      target.add.forEach((term, i) => {
        if (!(term.signal in mapping.signals)) {
          const known = Object.keys(mapping.signals);
          ctx.addIssue({
            code: 'custom',
            path: ['targets', targetName, 'add', i, 'signal'],
            message: `unknown signal '${term.signal}'; defined signals: ${known.length ? known.join(', ') : '(none)'}`,
          });
        }
      });
      if (target.range[0] > target.range[1]) {
        ctx.addIssue({ code: 'custom', path: ['targets', targetName, 'range'], message: `range [${target.range.join(', ')}] is reversed: give [low, high]` });
      }
    }
    const seg = mapping.segments;
    if (seg.minOverlap > seg.overlap || seg.overlap > seg.maxOverlap) {
      ctx.addIssue({ code: 'custom', path: ['segments'], message: `need minOverlap ≤ overlap ≤ maxOverlap, got ${seg.minOverlap} ≤ ${seg.overlap} ≤ ${seg.maxOverlap}` });
    }
    if (seg.maxOverlap * 2 > seg.frames) {
      ctx.addIssue({ code: 'custom', path: ['segments', 'maxOverlap'], message: `maxOverlap ${seg.maxOverlap} must be at most half of frames (${seg.frames})` });
    }
    if (seg.crossfade > seg.minOverlap) {
      ctx.addIssue({ code: 'custom', path: ['segments', 'crossfade'], message: `crossfade ${seg.crossfade} is longer than minOverlap ${seg.minOverlap}: a transition could not fit` });
    }
    const denoise = mapping.targets.denoise.range;
    if (denoise[0] < 0 || denoise[1] > 1) {
      ctx.addIssue({ code: 'custom', path: ['targets', 'denoise', 'range'], message: `denoise range must lie within [0, 1], got [${denoise.join(', ')}]` });
    }
  });

export type Mapping = z.output<typeof mappingSchema>;
export type MappingInput = z.input<typeof mappingSchema>;
export type SignalDef = z.output<typeof signalSchema>;
export type TargetDef = z.output<typeof targetSchema>;
export type SegmentSettings = z.output<typeof segmentsSchema>;
export type CrossfadeCurve = z.output<typeof crossfadeCurveSchema>;
export type TransitionSettings = z.output<typeof transitionsSchema>;
