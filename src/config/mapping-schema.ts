/**
 * The mapping: how the music drives the picture. Version 2 (see mappings/README.md).
 *
 * The zod schema is the source of truth: types are inferred from it, defaults are resolved here
 * once, the JSON Schema editors use is generated from it (schemas/mapping.schema.json), and the
 * rules that involve several fields (a signal a target names must exist, a denoise curve must stay
 * within 0..1, …) are checked here so that a mapping that validates cannot go silently wrong.
 */
import { z } from 'zod';
import { continuitySchema } from '../shared/continuity.js';
import { sectionLabelSchema } from '../analysis/analysis-schema.js';
import { durationSchema, timePositionSchema, type MusicalDuration } from './units.js';

export const MAPPING_VERSION = 2;

/** Where each signal source comes from, which decides the options that apply to it. */
export const SIGNAL_SOURCE_KINDS = {
  rms: 'level',
  loudness: 'level',
  low: 'level',
  mid: 'level',
  high: 'level',
  brightness: 'level',
  onsetStrength: 'level',
  onsets: 'events',
  beat: 'events',
  downbeat: 'events',
  beatPhase: 'phase',
  barPhase: 'phase',
  sectionPhase: 'phase',
  section: 'section',
} as const;

export type SignalSource = keyof typeof SIGNAL_SOURCE_KINDS;
export type SignalSourceKind = (typeof SIGNAL_SOURCE_KINDS)[SignalSource];

export const signalSourceSchema = z.enum(Object.keys(SIGNAL_SOURCE_KINDS) as [SignalSource, ...SignalSource[]]).meta({
  description:
    'What the signal follows. Levels (0..1 after normalising): rms, loudness, low / mid / high band energy, brightness (spectral centroid), ' +
    'onsetStrength. Events (a pulse of height 1, or the onset strength, at each event): onsets, beat, downbeat. ' +
    'Phases (0 → 1 ramps): beatPhase, barPhase, sectionPhase. section: a value per section label (see values).',
});

export const EASINGS = [
  'linear',
  'easeInSine',
  'easeOutSine',
  'easeInOutSine',
  'easeInQuad',
  'easeOutQuad',
  'easeInOutQuad',
  'easeInCubic',
  'easeOutCubic',
  'easeInOutCubic',
  'easeInQuart',
  'easeOutQuart',
  'easeInOutQuart',
  'easeInExpo',
  'easeOutExpo',
  'easeInOutExpo',
  'smoothstep',
  'smootherstep',
] as const;
export type Easing = (typeof EASINGS)[number];

const SECTION_VALUE_KEYS = [...sectionLabelSchema.options, 'other'] as const;

const rangeSchema = z.tuple([z.number(), z.number()]);

const signalObjectSchema = z
  .object({
    from: signalSourceSchema,
    values: z.partialRecord(z.enum(SECTION_VALUE_KEYS), z.number()).optional().meta({
      description:
        "from: section only — the value in each kind of section, e.g. { drop: 1, break: 0.2, other: 0.5 }; 'other' (default 0) covers the rest.",
    }),
    normalize: z.enum(['percentile', 'none']).optional().meta({
      description:
        "Levels only. percentile (default): the song's `percentiles` map to 0..1, robust to a few loud spikes; none: raw values.",
    }),
    percentiles: z
      .tuple([z.number().min(0).max(100), z.number().min(0).max(100)])
      .optional()
      .meta({ description: 'Levels only: which percentiles of the song become 0 and 1 (default [5, 95]).' }),
    wave: z.enum(['saw', 'sine', 'triangle', 'square']).optional().meta({
      description:
        'Phases only: saw (default) rises 0 → 1 through each beat/bar/section; sine and triangle rise and fall (0 on the beat, 1 halfway); square is 1 in the first half.',
    }),
    smooth: durationSchema
      .prefault(0)
      .meta({ description: 'Centred moving average over this length (no delay), before normalising (0 = off).' }),
    threshold: z
      .number()
      .min(0)
      .max(0.99)
      .optional()
      .meta({ description: 'Values at or below become 0; above, they are rescaled to 0..1 (a soft gate).' }),
    gate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .meta({ description: 'Values at or above become 1, below 0 (a hard gate: use it to trigger envelopes).' }),
    attack: durationSchema
      .prefault(0)
      .meta({ description: 'Rise time: a new peak is reached after this long (linear).' }),
    hold: durationSchema.prefault(0).meta({ description: 'How long a peak is held before it is released.' }),
    release: durationSchema.prefault(0).meta({
      description: 'Fall time: from a peak back to 0 takes this long (linear), unless the input stays higher.',
    }),
    mode: z.enum(['pulse', 'accumulate']).default('pulse').meta({
      description:
        'pulse: the signal returns to 0 when the music does. accumulate: it integrates over time, rising from 0 to 1 across the song (or each reset).',
    }),
    reset: z
      .enum(['never', 'section', 'bar'])
      .optional()
      .meta({ description: 'accumulate only: start again from 0 at every section or bar (default never).' }),
    curve: z
      .enum(EASINGS)
      .default('linear')
      .meta({ description: 'An easing curve applied to the 0..1 value (easings.net names).' }),
    range: rangeSchema
      .default([0, 1])
      .meta({ description: 'Output range: 0 maps to the first value, 1 to the second ([1, 0] inverts).' }),
    lead: durationSchema.prefault(0).meta({
      description:
        'Anticipation: the whole signal moves this much earlier, so a change lands on the beat instead of after it.',
    }),
    onlyIn: z
      .array(sectionLabelSchema)
      .min(1)
      .optional()
      .meta({ description: 'The signal is off (its range start) outside these kinds of section.' }),
  })
  .strict();

function checkSignalOptions(signal: z.output<typeof signalObjectSchema>, ctx: z.core.$RefinementCtx): void {
  const kind = SIGNAL_SOURCE_KINDS[signal.from];
  const only = (key: keyof typeof signal, allowed: SignalSourceKind, what: string): void => {
    if (signal[key] !== undefined && kind !== allowed) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `'${key}' applies only to ${what}, not to from: ${signal.from}`,
        params: { rule: true },
      });
    }
  };
  only('normalize', 'level', 'levels (rms, loudness, low, mid, high, brightness, onsetStrength)');
  only('percentiles', 'level', 'levels (rms, loudness, low, mid, high, brightness, onsetStrength)');
  only('wave', 'phase', 'phases (beatPhase, barPhase, sectionPhase)');
  only('values', 'section', 'from: section');
  if (kind === 'section' && signal.values === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['values'],
      message: 'from: section needs values, e.g. values: { drop: 1, break: 0.2, other: 0.5 }',
      params: { missing: true },
    });
  }
  if (signal.percentiles && signal.percentiles[0] >= signal.percentiles[1]) {
    ctx.addIssue({
      code: 'custom',
      path: ['percentiles'],
      message: `percentiles [${signal.percentiles.join(', ')}] must rise: give [low, high], e.g. [5, 95]`,
      params: { rule: true },
    });
  }
  if (signal.threshold !== undefined && signal.gate !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['gate'],
      message: 'use threshold (soft) or gate (hard), not both',
      params: { rule: true },
    });
  }
  if (signal.reset !== undefined && signal.mode !== 'accumulate') {
    ctx.addIssue({
      code: 'custom',
      path: ['reset'],
      message: "'reset' applies only to mode: accumulate",
      params: { rule: true },
    });
  }
}

export const signalSchema = signalObjectSchema.superRefine(checkSignalOptions).transform((signal) => {
  const kind = SIGNAL_SOURCE_KINDS[signal.from];
  return {
    ...signal,
    kind,
    normalize: signal.normalize ?? (kind === 'level' ? ('percentile' as const) : ('none' as const)),
    percentiles: signal.percentiles ?? ([5, 95] as [number, number]),
    wave: signal.wave ?? ('saw' as const),
    reset: signal.reset ?? ('never' as const),
    threshold: signal.threshold ?? 0,
  };
});

export const REDUCERS = ['mean', 'max', 'min', 'start', 'onset'] as const;
export const reduceSchema = z.enum(REDUCERS).meta({
  description:
    'How the per-frame curve becomes one value per 16-frame segment: mean, max or min over its frames, start (at the frame where the segment takes over), ' +
    'onset (at the strongest onset inside the segment; at its start when it has none).',
});

const SIGNAL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const signalNameSchema = z
  .string()
  .regex(SIGNAL_NAME, { error: 'signal names are letters, digits and _ (not starting with a digit)' });

export const targetSchema = z
  .object({
    base: z.number().meta({ description: 'The value when every signal is 0.' }),
    add: z.record(z.string(), z.number()).default({}).meta({
      description: 'Signal name → amount: each adds amount × signal to the base, e.g. { kick: 0.3, level: 0.4 }.',
    }),
    range: rangeSchema.optional().meta({ description: '[low, high]: the curve is clamped to this range.' }),
    reduce: reduceSchema.default('mean'),
  })
  .strict();

export const segmentsSchema = z
  .object({
    frames: z
      .number()
      .int()
      .min(2)
      .max(64)
      .default(16)
      .meta({ description: "Frames per segment: AnimateDiff's context length (16)." }),
    overlap: z
      .number()
      .int()
      .min(0)
      .max(32)
      .default(4)
      .meta({ description: 'Frames shared by neighbouring segments when nothing else decides.' }),
    minOverlap: z.number().int().min(0).max(32).default(2),
    maxOverlap: z.number().int().min(0).max(32).default(8),
    crossfade: z
      .number()
      .int()
      .min(0)
      .max(32)
      .default(2)
      .meta({ description: 'Frames over which one segment fades into the next (0 = hard cut); at most minOverlap.' }),
    align: z
      .enum(['none', 'beats', 'downbeats'])
      .default('downbeats')
      .meta({ description: 'Put transitions on beats or bar starts where the stride allows.' }),
    continuity: continuitySchema.default('continue').meta({
      description:
        "continue (default): each segment holds the previous one's last frames and carries on from them; take: a section (or chunk of takeFrames) in one sampling with context windows and prompt travel; " +
        "none: each segment from noise; chain: from the previous segment's frame where it starts; anchor: from its section's first frame.",
    }),
    takeFrames: z.number().int().min(16).max(1024).default(192).meta({
      description:
        'take: the longest stretch sampled at once; longer sections are split into chunks that continue each other.',
    }),
  })
  .strict();

export const seedSchema = z
  .object({
    sections: z.boolean().default(true).meta({ description: 'A new seed (new imagery) at every section.' }),
    every: durationSchema
      .optional()
      .meta({ description: "Also a new seed this often, e.g. '8 bars' (counted from bar 1)." }),
    onsets: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .meta({ description: 'Also a new seed at every onset at least this strong (0..1).' }),
    recall: z.boolean().default(false).meta({
      description: 'A section that returns (the second drop) brings back the seeds of the first one with its label.',
    }),
  })
  .strict();

/**
 * How the incoming segment's weight rises across a crossfade. The curves are easings of the one
 * table signals use too (keyframes/easing.ts): `ease-in` and `ease-out` are easeInQuad and easeOutQuad.
 */
export const CROSSFADE_CURVE_EASINGS = {
  linear: 'linear',
  smoothstep: 'smoothstep',
  smootherstep: 'smootherstep',
  'ease-in': 'easeInQuad',
  'ease-out': 'easeOutQuad',
} as const satisfies Record<string, Easing>;
export const crossfadeCurveSchema = z.enum(['linear', 'smoothstep', 'smootherstep', 'ease-in', 'ease-out']);

/** How segments meet in the stitched video. The crossfade length is segments.crossfade. */
export const transitionsSchema = z
  .object({
    curve: crossfadeCurveSchema
      .default('linear')
      .meta({ description: "How the incoming segment's weight rises across a crossfade." }),
    /** Transitions whose lead frame is on a downbeat (or any beat) become hard cuts on that frame. */
    cutOn: z.enum(['none', 'beats', 'downbeats']).default('none').meta({
      description: 'Transitions whose lead frame is on a downbeat (or any beat) become hard cuts on that frame.',
    }),
  })
  .strict();

/** Planning is linear in entries, but a schedule past this is a mistake, not a plan (issue 11). */
export const MAX_SCHEDULE_ENTRIES = 100_000;

export const promptEntrySchema = z
  .object({
    prompt: z.string().min(1).meta({ description: 'The prompt; {prompt} stands for the --prompt text.' }),
    negative: z
      .string()
      .optional()
      .meta({ description: 'The negative prompt while this entry holds (default: prompts.negative).' }),
    time: timePositionSchema.optional(),
    bar: z
      .number()
      .min(1)
      .optional()
      .meta({ description: 'Bar number, 1-based (bar 1 starts at the first downbeat).' }),
    beat: z.number().min(1).optional().meta({ description: "Beat number, 1-based (beat 1 is the song's first beat)." }),
    section: sectionLabelSchema.optional().meta({ description: 'Every section with this label.' }),
    blend: durationSchema.optional().meta({
      description:
        'Blend from the previous prompt over this length, ending where this entry starts (default: prompts.blend).',
    }),
  })
  .strict();

export const promptsSchema = z
  .object({
    negative: z
      .string()
      .default('{negative}')
      .meta({ description: 'The negative prompt; {negative} stands for the --negative text.' }),
    blend: durationSchema.prefault(0).meta({ description: 'Default blend length between prompts (0 = a cut).' }),
    schedule: z
      .array(promptEntrySchema)
      .min(1)
      .max(MAX_SCHEDULE_ENTRIES)
      .default([{ prompt: '{prompt}' }])
      .meta({
        description:
          'Prompts and when they start: at a time, bar, beat or section; an entry with none of those holds from the start; an entry for a section holds for that section only.',
      }),
  })
  .strict();

export const targetsSchema = z
  .object({
    motionScale: targetSchema.meta({
      description: 'AnimateDiff motion scale, per frame (and per segment for engines without per-frame support).',
    }),
    denoise: targetSchema.meta({
      description: 'Denoise per segment (0..1): how far a segment departs from its start image.',
    }),
    cfg: targetSchema
      .prefault({ base: 1 })
      .meta({ description: 'Classifier-free guidance per segment (AnimateDiff-Lightning works at 1–2). Default: 1.' }),
    loras: z
      .record(z.string().min(1), targetSchema)
      .default({})
      .meta({ description: 'LoRA name → strength per segment.' }),
    motionEffect: targetSchema.optional().meta({
      description:
        "AnimateDiff's motion effect per frame (0..1: how much the motion module acts; ADE effect_multival). Unset: full effect.",
    }),
    motionLoras: z.record(z.string().min(1), targetSchema).default({}).meta({
      description:
        'Motion LoRA name → strength per segment (ADE_AnimateDiffLoRALoader, 0..10), e.g. a camera move on drops.',
    }),
  })
  .strict();

/** Hard limits on what a target may reach: engines reject anything outside. */
const TARGET_LIMITS: Readonly<Record<string, readonly [number, number]>> = {
  motionScale: [0, Infinity],
  motionEffect: [0, 1],
  motionLoras: [0, 10],
  denoise: [0, 1],
  cfg: [Number.MIN_VALUE, Infinity],
};

/** The lowest and highest value a signal can output. */
function signalBounds(signal: z.output<typeof signalSchema>): [number, number] {
  const [a, b] = signal.range;
  return [Math.min(a, b), Math.max(a, b)];
}

function checkMapping(mapping: z.output<typeof mappingObjectSchema>, ctx: z.core.$RefinementCtx): void {
  const known = Object.keys(mapping.signals);
  type Checked = [path: string[], target: z.output<typeof targetSchema>, limits: readonly [number, number]];
  const family = (
    name: string,
    targets: Record<string, z.output<typeof targetSchema>>,
    limits: readonly [number, number],
  ) => Object.entries(targets).map(([key, t]): Checked => [[name, key], t, limits]);
  const { motionEffect } = mapping.targets;
  const targets: Checked[] = [
    [['motionScale'], mapping.targets.motionScale, TARGET_LIMITS.motionScale!],
    [['denoise'], mapping.targets.denoise, TARGET_LIMITS.denoise!],
    [['cfg'], mapping.targets.cfg, TARGET_LIMITS.cfg!],
    ...family('loras', mapping.targets.loras, [-Infinity, Infinity]),
    ...(motionEffect ? [[['motionEffect'], motionEffect, TARGET_LIMITS.motionEffect!] as Checked] : []),
    ...family('motionLoras', mapping.targets.motionLoras, TARGET_LIMITS.motionLoras!),
  ];
  for (const [path, target, limits] of targets) {
    const where = ['targets', ...path];
    let lo = target.base;
    let hi = target.base;
    const parts: string[] = [];
    for (const [name, amount] of Object.entries(target.add)) {
      const signal = mapping.signals[name];
      if (!signal) {
        ctx.addIssue({
          code: 'custom',
          path: [...where, 'add', name],
          message: `unknown signal '${name}'; defined signals: ${known.length ? known.join(', ') : '(none: define them under signals)'}`,
          params: { reference: true },
        });
        continue;
      }
      const [sLo, sHi] = signalBounds(signal);
      lo += Math.min(amount * sLo, amount * sHi);
      hi += Math.max(amount * sLo, amount * sHi);
      parts.push(`${name} ${amount}`);
    }
    const [min, max] = limits;
    if (target.range) {
      const [a, b] = target.range;
      if (a > b)
        ctx.addIssue({
          code: 'custom',
          path: [...where, 'range'],
          message: `range [${a}, ${b}] is reversed: give [low, high]`,
          params: { rule: true },
        });
      else if (a < min || b > max) {
        ctx.addIssue({
          code: 'custom',
          path: [...where, 'range'],
          message: `range [${a}, ${b}] must lie ${describeLimits(min, max)}`,
          params: { rule: true },
        });
      }
    } else if (lo < min || hi > max) {
      const reach = lo < min ? lo : hi;
      ctx.addIssue({
        code: 'custom',
        path: where,
        message: `can reach ${round4(reach)} (base ${target.base}${parts.length ? ` + ${parts.join(' + ')}` : ''}) but must stay ${describeLimits(min, max)}: add a range or change the amounts`,
        params: { rule: true },
      });
    }
  }

  if (mapping.seed.every && mapping.seed.every.value === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['seed', 'every'],
      message: "every must be longer than 0, e.g. '8 bars' (leave it out for no regular changes)",
      params: { rule: true },
    });
  }
  const seg = mapping.segments;
  if (seg.minOverlap > seg.overlap || seg.overlap > seg.maxOverlap) {
    ctx.addIssue({
      code: 'custom',
      path: ['segments', 'overlap'],
      message: `need minOverlap ≤ overlap ≤ maxOverlap, got ${seg.minOverlap} ≤ ${seg.overlap} ≤ ${seg.maxOverlap}`,
      params: { rule: true },
    });
  }
  if (seg.maxOverlap * 2 > seg.frames) {
    ctx.addIssue({
      code: 'custom',
      path: ['segments', 'maxOverlap'],
      message: `maxOverlap ${seg.maxOverlap} must be at most half of frames (${seg.frames})`,
      params: { rule: true },
    });
  }
  if (seg.crossfade > seg.minOverlap) {
    ctx.addIssue({
      code: 'custom',
      path: ['segments', 'crossfade'],
      message: `crossfade ${seg.crossfade} is longer than minOverlap ${seg.minOverlap}: a transition could not fit`,
      params: { rule: true },
    });
  }

  const placeholders = (text: string, allowed: string, path: Array<string | number>): void => {
    for (const match of text.matchAll(/\{([^{}]*)\}/g)) {
      if (match[1] !== allowed) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown placeholder '{${match[1]}}' in ${JSON.stringify(text)}: the only one here is {${allowed}}`,
          params: { rule: true },
        });
      }
    }
  };
  placeholders(mapping.prompts.negative, 'negative', ['prompts', 'negative']);
  let openings = 0;
  mapping.prompts.schedule.forEach((entry, i) => {
    placeholders(entry.prompt, 'prompt', ['prompts', 'schedule', i, 'prompt']);
    if (entry.negative !== undefined) placeholders(entry.negative, 'negative', ['prompts', 'schedule', i, 'negative']);
    const at = (['time', 'bar', 'beat', 'section'] as const).filter((key) => entry[key] !== undefined);
    if (at.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['prompts', 'schedule', i, at[1]!],
        message: `give one of time, bar, beat or section, not ${at.join(' and ')}`,
        params: { rule: true },
      });
    }
    if (at.length === 0 && ++openings > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['prompts', 'schedule', i],
        message: 'only one entry may hold from the start: give this one a time, bar, beat or section',
        params: { rule: true },
      });
    }
  });
}

function describeLimits(min: number, max: number): string {
  if (max === Infinity) return min === Number.MIN_VALUE ? 'above 0' : `at or above ${min}`;
  return `within [${min}, ${max}]`;
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

const mappingObjectSchema = z
  .object({
    version: z.literal(MAPPING_VERSION).meta({ description: 'The mapping format version: 2.' }),
    description: z.string().optional().meta({ description: 'What this mapping does, in a sentence.' }),
    segments: segmentsSchema.prefault({}),
    signals: z
      .record(signalNameSchema, signalSchema)
      .default({})
      .meta({ description: 'Named signals shaped from the analysis; targets add them up.' }),
    targets: targetsSchema,
    seed: seedSchema.prefault({}),
    prompts: promptsSchema.prefault({}),
    transitions: transitionsSchema.prefault({}).meta({
      description: 'How segments meet in the video: the crossfade curve, and hard cuts on beats or bar starts.',
    }),
  })
  .strict();

export const mappingSchema = mappingObjectSchema.superRefine(checkMapping).meta({
  title: 'beatloom mapping',
  description:
    'How the music drives the picture: signals from the analysis, targets they drive, segments, seeds and prompts. See mappings/README.md.',
});

export type Mapping = z.output<typeof mappingSchema>;
export type MappingInput = z.input<typeof mappingSchema>;
export type SignalDef = z.output<typeof signalSchema>;
export type TargetDef = z.output<typeof targetSchema>;
export type Reducer = z.output<typeof reduceSchema>;
export type SegmentSettings = z.output<typeof segmentsSchema>;
export type SeedSettings = z.output<typeof seedSchema>;
export type PromptEntry = z.output<typeof promptEntrySchema>;
export type PromptSettings = z.output<typeof promptsSchema>;
export type { MusicalDuration };
export type CrossfadeCurve = z.output<typeof crossfadeCurveSchema>;
export type TransitionSettings = z.output<typeof transitionsSchema>;
