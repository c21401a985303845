/**
 * keyframes.json in forms other tools read:
 *
 * - `deforum`: a Deforum settings fragment (load it with "Load all settings", or paste single
 *   schedules into the UI): `strength_schedule` (Deforum's strength is 1 − denoise),
 *   `cfg_scale_schedule`, `seed_schedule` with `seed_behavior: "schedule"`, and `prompts` keyed by
 *   frame in Deforum's form `positive --neg negative`, blends as composable prompts
 *   `(A):0.75 AND (B):0.25` and LoRA strengths as `<lora:name:0.6>`. Schedules are the strings
 *   Deforum parses, `0: (0.6), 12: (0.55)`, linearly interpolated between keyframes; only the
 *   keyframes needed to reproduce every frame are written, and a step (a new seed) is two.
 *   Motion scale and the signals, which Deforum has no field for, come as `beatloom_*_schedule`
 *   strings to paste where you want them (a zoom, a translation…).
 * - `parseq`: a Parseq document with its rendered frames: Deforum's Parseq field accepts it as a
 *   manifest (`rendered_frames` with `seed`, `scale`, `strength`, `deforum_prompt`), and Parseq's
 *   "Merge keyframes" reads its `keyframes` (seed, scale, strength; section starts labelled).
 * - `csv`: one row per frame with time, beat and bar positions, section, segment, seed, every
 *   target, every signal and the strongest prompt.
 */
import type { Analysis } from '../analysis/analysis-schema.js';
import { round } from '../shared/math.js';
import { VERSION } from '../shared/version.js';
import type { Keyframes } from './keyframes-schema.js';
import { beatGridOf, FALLBACK_BPM } from './signals.js';
import { frameAtSec, frameStartSec, parseFps, type Rational } from '../shared/media-time.js';
import { barPositionAt, beatPositionAt } from './beat-grid.js';

export const EXPORT_FORMATS = ['parseq', 'deforum', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * The frames to keep so that linear interpolation between them reproduces every value within
 * `tolerance`: the first, the last, and wherever a straight line from the last kept one stops fitting.
 */
export function linearKeyframeIndices(values: ArrayLike<number>, tolerance = 5e-5): number[] {
  const n = values.length;
  if (n === 0) return [];
  const keep = [0];
  // The slopes of lines from the anchor that pass within tolerance of every point after it so
  // far: a line to the next point fits all of them exactly when its slope lies in [lo, hi].
  let anchor = 0;
  let lo = -Infinity;
  let hi = Infinity;
  for (let end = 1; end < n; end++) {
    const a = values[anchor]!;
    const slope = (values[end]! - a) / (end - anchor);
    if (slope < lo || slope > hi) {
      keep.push(end - 1);
      anchor = end - 1;
      lo = -Infinity;
      hi = Infinity;
    }
    const b = values[anchor]!;
    const span = end - anchor;
    lo = Math.max(lo, (values[end]! - tolerance - b) / span);
    hi = Math.min(hi, (values[end]! + tolerance - b) / span);
  }
  if (n > 1) keep.push(n - 1);
  return keep;
}

/** A Deforum schedule string from per-frame values: `0: (0.6), 12: (0.55)`. */
export function deforumSchedule(values: ArrayLike<number>, digits = 4): string {
  const fmt = (v: number): string => String(round(v, digits));
  return linearKeyframeIndices(values)
    .map((f) => `${f}: (${fmt(values[f]!)})`)
    .join(', ');
}

/** A schedule that steps (for seeds): a change at frame f is written as f−1 (old) and f (new). */
export function deforumStepSchedule(values: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let f = 0; f < values.length; f++) {
    const v = values[f]!;
    if (f === 0) parts.push(`0: (${v})`);
    else if (v !== values[f - 1]) {
      if (f - 1 > 0 && !parts[parts.length - 1]!.startsWith(`${f - 1}:`)) parts.push(`${f - 1}: (${values[f - 1]})`);
      parts.push(`${f}: (${v})`);
    }
  }
  return parts.join(', ');
}

/** The segment leading at each frame (the last whose lead frame is at or before it). */
export function leadingSegmentAtFrames(keyframes: Keyframes): Int32Array {
  const out = new Int32Array(keyframes.frameCount);
  let k = 0;
  const segs = keyframes.segments;
  for (let f = 0; f < keyframes.frameCount; f++) {
    while (k + 1 < segs.length && segs[k + 1]!.leadFrame <= f) k++;
    out[f] = k;
  }
  return out;
}

function weightText(w: number): string {
  return String(round(w, 3));
}

/** A frame's prompt in Deforum's form, with its LoRA strengths at that frame. */
function deforumPromptAt(keyframes: Keyframes, frame: number): string {
  const present = keyframes.prompts.filter((p) => (p.weights[frame] ?? 0) > 0);
  const loras = Object.entries(keyframes.curves.loras)
    .map(([name, curve]) => ` <lora:${name}:${round(curve[frame] ?? 0, 2)}>`)
    .join('');
  if (present.length <= 1) {
    const p = present[0] ?? keyframes.prompts[0];
    if (!p) return '';
    return `${p.prompt}${loras}${p.negativePrompt ? ` --neg ${p.negativePrompt}` : ''}`;
  }
  const positive = present.map((p) => `(${p.prompt}):${weightText(p.weights[frame]!)}`).join(' AND ');
  const negatives = new Set(present.map((p) => p.negativePrompt));
  const negative =
    negatives.size === 1
      ? [...negatives][0]!
      : present.map((p) => `(${p.negativePrompt}):${weightText(p.weights[frame]!)}`).join(' AND ');
  return `${positive}${loras}${negative ? ` --neg ${negative}` : ''}`;
}

function fpsNumber(keyframes: Keyframes): number {
  const fps: Rational = parseFps(keyframes.fps);
  return fps.num / fps.den;
}

function perFrame<T>(keyframes: Keyframes, at: (frame: number) => T): T[] {
  return Array.from({ length: keyframes.frameCount }, (_, f) => at(f));
}

export function exportDeforum(keyframes: Keyframes): Record<string, unknown> {
  const leading = leadingSegmentAtFrames(keyframes);
  const seeds = perFrame(keyframes, (f) => keyframes.segments[leading[f]!]?.seed ?? 0);
  const prompts: Record<string, string> = {};
  let last = '';
  for (let f = 0; f < keyframes.frameCount; f++) {
    const text = deforumPromptAt(keyframes, f);
    if (f === 0 || text !== last) prompts[String(f)] = text;
    last = text;
  }
  const out: Record<string, unknown> = {
    max_frames: keyframes.frameCount,
    fps: fpsNumber(keyframes),
    prompts,
    positive_prompts: '',
    negative_prompts: '',
    strength_schedule: deforumSchedule(keyframes.curves.denoise.map((d) => round(1 - d, 4))),
    cfg_scale_schedule: deforumSchedule(keyframes.curves.cfg),
    seed_behavior: 'schedule',
    seed_schedule: deforumStepSchedule(seeds),
    beatloom_motion_scale_schedule: deforumSchedule(keyframes.curves.motionScale),
  };
  for (const [name, values] of Object.entries(keyframes.signals))
    out[`beatloom_${name}_schedule`] = deforumSchedule(values);
  return out;
}

const PARSEQ_FIELDS = ['seed', 'scale', 'strength'] as const;

export function exportParseq(keyframes: Keyframes, analysis: Analysis): Record<string, unknown> {
  const fps = fpsNumber(keyframes);
  const last = Math.max(0, keyframes.frameCount - 1);
  const leading = leadingSegmentAtFrames(keyframes);
  const fields: Record<(typeof PARSEQ_FIELDS)[number], number[]> = {
    seed: perFrame(keyframes, (f) => keyframes.segments[leading[f]!]?.seed ?? 0),
    scale: keyframes.curves.cfg,
    strength: keyframes.curves.denoise.map((d) => round(1 - d, 4)),
  };

  // Keyframes: the frames each field needs for Parseq's linear (seed: step) interpolation.
  const byFrame = new Map<number, Record<string, string | number>>();
  const at = (frame: number): Record<string, string | number> => {
    let kf = byFrame.get(frame);
    if (!kf) byFrame.set(frame, (kf = { frame }));
    return kf;
  };
  for (const f of linearKeyframeIndices(fields.scale)) at(f).scale = fields.scale[f]!;
  for (const f of linearKeyframeIndices(fields.strength)) at(f).strength = fields.strength[f]!;
  fields.seed.forEach((s, f) => {
    if (f === 0 || f === last || s !== fields.seed[f - 1]) at(f).seed = s;
  });
  at(0).seed_i = 'S';
  for (const section of analysis.sections) {
    const f = frameAtSec(section.startSec, parseFps(keyframes.fps));
    if (f <= last) at(f).info = section.label;
  }
  if (last > 0) at(last);

  const renderedFrames = perFrame(keyframes, (f) => {
    const frame: Record<string, string | number> = {
      frame: f,
      seed: fields.seed[f]!,
      scale: fields.scale[f]!,
      strength: fields.strength[f]!,
      deforum_prompt: deforumPromptAt(keyframes, f),
      motion_scale: keyframes.curves.motionScale[f]!,
    };
    for (const [name, values] of Object.entries(keyframes.signals)) frame[`beatloom_${name}`] = values[f]!;
    return frame;
  });
  const meta: Record<string, { min: number; max: number; isFlat: boolean }> = {};
  for (const field of PARSEQ_FIELDS) {
    const values = fields[field];
    // Parseq's meta: the smallest value and the largest magnitude (loops: spreading an hour of frames overflows the stack).
    let min = Infinity;
    let max = 0;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, Math.abs(v));
    }
    meta[field] = { min, max, isFlat: values.every((v) => v === values[0]) };
  }

  const overlap = (inFrames: number, outFrames: number): Record<string, unknown> => ({
    inFrames,
    outFrames,
    type: inFrames > 0 || outFrames > 0 ? 'linear' : 'none',
    custom: 'prompt_weight_1',
  });
  const changes = keyframes.promptChanges;
  const promptList = changes.map((change, j) => {
    const next = changes[j + 1];
    const p = keyframes.prompts[change.prompt]!;
    const inFrames = j === 0 ? 0 : change.frame - change.blendFromFrame;
    const outFrames = next ? next.frame - next.blendFromFrame : 0;
    return {
      name: `Prompt ${j + 1}`,
      positive: p.prompt,
      negative: p.negativePrompt,
      allFrames: changes.length === 1,
      from: j === 0 ? 0 : change.blendFromFrame,
      to: next ? (outFrames > 0 ? next.frame : next.frame - 1) : last,
      overlap: overlap(inFrames, outFrames),
    };
  });

  return {
    meta: { generated_by: `beatloom ${VERSION}`, version: VERSION, docName: 'beatloom keyframes' },
    options: { input_fps: fps, output_fps: fps, bpm: keyframes.bpm ?? FALLBACK_BPM, cadence: 1 },
    managedFields: [...PARSEQ_FIELDS],
    displayedFields: [...PARSEQ_FIELDS],
    keyframes: [...byFrame.values()].sort((a, b) => Number(a.frame) - Number(b.frame)),
    prompts: {
      format: 'v2',
      enabled: true,
      commonPrompt: {
        name: 'Common',
        positive: '',
        negative: '',
        allFrames: true,
        from: 0,
        to: last,
        overlap: overlap(0, 0),
      },
      commonPromptPos: 'append',
      promptList,
    },
    timeSeries: [],
    keyframeLock: 'frames',
    reverseRender: false,
    rendered_frames: renderedFrames,
    rendered_frames_meta: meta,
  };
}

/** RFC 4180: quote a field that holds a comma, quote or line break. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function exportCsv(keyframes: Keyframes, analysis: Analysis): string {
  const fps = parseFps(keyframes.fps);
  const { grid } = beatGridOf(analysis);
  const leading = leadingSegmentAtFrames(keyframes);
  const sectionStarts = analysis.sections.map((s) => frameAtSec(s.startSec, fps));
  const loraNames = Object.keys(keyframes.curves.loras);
  const signalNames = Object.keys(keyframes.signals);
  const header = [
    'frame',
    'time_sec',
    'beat',
    'bar',
    'section',
    'segment',
    'seed',
    'motion_scale',
    'denoise',
    'cfg',
    ...loraNames.map((n) => `lora:${n}`),
    ...signalNames,
    'prompt',
    'prompt_weight',
  ];
  const rows = [header.map(csvField).join(',')];
  let section = 0;
  for (let f = 0; f < keyframes.frameCount; f++) {
    const t = frameStartSec(f, fps);
    while (section + 1 < sectionStarts.length && sectionStarts[section + 1]! <= f) section++;
    const strongest = keyframes.prompts.reduce(
      (best, p) => ((p.weights[f] ?? 0) > (best.weights[f] ?? 0) ? p : best),
      keyframes.prompts[0]!,
    );
    const k = keyframes.curves;
    rows.push(
      [
        f,
        round(t, 6),
        round(beatPositionAt(grid.beats, t) + 1, 3),
        round(barPositionAt(grid, t) + 1, 3),
        analysis.sections[section]?.label ?? '',
        leading[f]!,
        keyframes.segments[leading[f]!]?.seed ?? '',
        k.motionScale[f]!,
        k.denoise[f]!,
        k.cfg[f]!,
        ...loraNames.map((n) => k.loras[n]![f]!),
        ...signalNames.map((n) => keyframes.signals[n]![f]!),
        strongest?.prompt ?? '',
        strongest?.weights[f] ?? '',
      ]
        .map(csvField)
        .join(','),
    );
  }
  return `${rows.join('\n')}\n`;
}

/** The export as text, ready to print. */
export function exportKeyframes(format: ExportFormat, keyframes: Keyframes, analysis: Analysis): string {
  switch (format) {
    case 'parseq':
      return `${JSON.stringify(exportParseq(keyframes, analysis), null, 2)}\n`;
    case 'deforum':
      return `${JSON.stringify(exportDeforum(keyframes), null, 2)}\n`;
    case 'csv':
      return exportCsv(keyframes, analysis);
  }
}
