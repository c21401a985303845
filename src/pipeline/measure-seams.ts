/**
 * Seams measured, not assumed (DESIGN.md §3, issue 13): for every segment boundary of a run
 * directory, how much the two segments disagree on the frames they share in time and how big the
 * step at the lead frame is, against how much the picture moves between neighbouring frames inside
 * the segments, and how much the second segment's opening repeats the first one's opening (a
 * restart: the same noise and prompt drawing the same clip again).
 *
 * All differences are the mean absolute difference of two frames over every RGB byte, 0–255.
 * Per boundary k → k+1 (segments a and b, timeline spans [start, start + frameCount)):
 * - `across`: the mean, over the timeline frames f in both spans, of |a[f − start_a] − b[f − start_b]|;
 *   null when the spans do not overlap. One take through the boundary: 0.
 * - `jump`: a[lead − 1 − start_a] against b[lead − start_b], the step at the lead frame as a hard cut
 *   shows it; null when a frame is outside its segment. One take: an ordinary step of its motion.
 * - `within`: the median of both segments' consecutive-frame differences (the typical step of the
 *   motion), `maxStep` the largest (motion driven by the music is uneven: kicks push it); 0 for two
 *   one-frame segments. A segment that holds frames leaves out the step from them into its first
 *   drawn frame: that step is its boundary's.
 * - `ratio` = across / max(within, WITHIN_FLOOR): how many steps of motion the overlap's
 *   disagreement is worth (≈ 0 for one take; null without an overlap). `jumpRatio` = jump /
 *   max(maxStep, WITHIN_FLOOR): the lead's step against the largest step inside the segments (≤ 1
 *   for one take). The jump matters where b holds a's frames (continue: the overlap agrees by
 *   construction and a seam, if any, sits at the first frame b draws itself, the lead).
 * - `opening`: the mean of |b[i] − a[i]| over the first m = min(OPENING_FRAMES, …) frames b draws
 *   itself (i from the plan's `heldFrames`, 0 when it has none), and `openingAcross` the mean of
 *   |b[i] − a[i + start_b − start_a]| over the same frames (a's frame at the same moment, or a's last
 *   frame once a has ended). `restartScore` = 1 − opening / openingAcross, clamped to [0, 1]: 1 when
 *   b opens exactly as a opened (a restart), 0 when b's opening is at least as far from a's opening
 *   as from a at that moment (a continuation, or unrelated new imagery); 0 when openingAcross is 0
 *   (b agrees with a, nothing visible restarts). Without held frames openingAcross is `across` over
 *   b's first frames, the measure issue 13 reported (2.2 against 72.7 on ComfyUI). With a stride
 *   under m frames b's opening overlaps a's in time, so a continuation scores high there too; plans
 *   stride at least half a segment (8 of 16).
 *
 * The plan marks a boundary as a `transition` where it asks for new imagery: a new seed or a new
 * section between k and k+1. Elsewhere it is a `continuation` and should not be visible. Verdicts:
 * `restart` where restartScore ≥ RESTART_SCORE (never intended, planned or not), else `transition`
 * where planned, else `seam` where ratio ≥ SEAM_RATIO or jumpRatio ≥ JUMP_RATIO, else `continuous`.
 *
 * Memory: two segments at most (the boundary's), and of each only the frames its two boundaries
 * read (its first and last few, whatever its length), decoded with the project's PNG codec.
 */
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { frameFileName } from '../engines/engine.js';
import { decodePngAsync } from '../raster/png.js';
import { runDirAt, segmentDirName } from '../run/run-dir.js';
import { BeatloomError, throwIfAborted } from '../shared/errors.js';
import { median } from '../shared/math.js';

/** An overlap that disagrees by this many typical steps of motion is a seam (one take: ≈ 0). */
export const SEAM_RATIO = 2;
/** A step at the lead this much larger than any step inside the two segments is a seam (one take: ≤ 1). */
export const JUMP_RATIO = 1.5;
/** A restart score from here up is a restart: b's opening is at most half as far from a's opening as from a. */
export const RESTART_SCORE = 0.5;
/** Frames of each opening compared for the restart score (a quarter of a 16-frame segment). */
export const OPENING_FRAMES = 4;
/**
 * The least `within` a ratio divides by, half a level: a still picture (within 0) whose overlap
 * disagrees gets a large finite ratio, and an agreeing one 0.
 */
export const WITHIN_FLOOR = 0.5;

/**
 * What seams need of plan.json: the jobs' spans, transitions and imagery choices. Loose, so a plan
 * with more fields (another continuity mode, other job values) is measured just the same.
 */
export const seamPlanSchema = z.looseObject({
  jobs: z
    .array(
      z.looseObject({
        index: z.number().int().nonnegative(),
        startFrame: z.number().int().nonnegative(),
        frameCount: z.number().int().positive(),
        leadFrame: z.number().int().nonnegative(),
        crossfadeFrames: z.number().int().nonnegative(),
        seed: z.number().int(),
        section: z.string(),
        /** Continuation: the job's first frames are the previous job's (absent in plans without it). */
        heldFrames: z.number().int().nonnegative().default(0),
      }),
    )
    .min(1),
});
export type SeamPlan = z.infer<typeof seamPlanSchema>;
export type SeamSegment = SeamPlan['jobs'][number];

const nullableNumber = z.number().nullable();

export const seamBoundarySchema = z
  .object({
    /** Segment indices: the boundary from segment `from` to segment `to`. */
    from: z.number().int().nonnegative(),
    to: z.number().int().nonnegative(),
    /** Timeline frames in both spans. */
    sharedFrames: z.number().int().nonnegative(),
    leadFrame: z.number().int().nonnegative(),
    crossfadeFrames: z.number().int().nonnegative(),
    /** What the plan means here: new imagery (a transition) or the same take going on. */
    planned: z.enum(['continuation', 'transition']),
    /** Why the plan calls it a transition (empty for a continuation). */
    reasons: z.array(z.enum(['seed', 'section'])),
    heldFrames: z.number().int().nonnegative(),
    across: nullableNumber,
    jump: nullableNumber,
    within: z.number(),
    maxStep: z.number(),
    ratio: nullableNumber,
    jumpRatio: nullableNumber,
    opening: nullableNumber,
    openingAcross: nullableNumber,
    restartScore: nullableNumber,
    verdict: z.enum(['continuous', 'seam', 'restart', 'transition']),
  })
  .strict();
export type SeamBoundary = z.infer<typeof seamBoundarySchema>;

const statsSchema = z.object({ median: z.number(), max: z.number() }).strict().nullable();

export const seamSummarySchema = z
  .object({
    boundaries: z.number().int().nonnegative(),
    continuations: z.number().int().nonnegative(),
    transitions: z.number().int().nonnegative(),
    /** Boundaries whose verdict is `restart` (planned or not). */
    restarts: z.number().int().nonnegative(),
    /** Continuations whose verdict is `seam`. */
    seams: z.number().int().nonnegative(),
    /** Over continuations: across / within, jump / maxStep, and across and within themselves. */
    ratio: statsSchema,
    jumpRatio: statsSchema,
    across: statsSchema,
    within: statsSchema,
    /** Over every boundary. */
    restartScore: statsSchema,
  })
  .strict();
export type SeamSummary = z.infer<typeof seamSummarySchema>;

export const seamReportSchema = z
  .object({
    runDir: z.string(),
    segments: z.number().int().positive(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    thresholds: z
      .object({
        seamRatio: z.number(),
        jumpRatio: z.number(),
        restartScore: z.number(),
        openingFrames: z.number().int(),
        withinFloor: z.number(),
      })
      .strict(),
    boundaries: z.array(seamBoundarySchema),
    summary: seamSummarySchema,
  })
  .strict();
export type SeamReport = z.infer<typeof seamReportSchema>;

/**
 * A segment's decoded frames that its boundaries read (by local index; see framesKept) and the
 * differences of all its consecutive frames.
 */
export interface DecodedSegment {
  readonly segment: SeamSegment;
  readonly frames: ReadonlyMap<number, Uint8Array>;
  /** Differences of consecutive frames, but for the step from held frames into drawn ones. */
  readonly steps: readonly number[];
}

/** Mean absolute difference of two RGB frames of equal size, 0–255. */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`frames of ${a.length} and ${b.length} bytes`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return a.length === 0 ? 0 : sum / a.length;
}

/**
 * Builds a segment frame by frame, keeping only the frames `keep` asks for: a take of a thousand
 * frames costs its steps, not its pictures.
 */
export class SegmentDecoder {
  private readonly frames = new Map<number, Uint8Array>();
  private readonly steps: number[] = [];
  private previous: Uint8Array | undefined;
  private next = 0;

  constructor(
    private readonly segment: SeamSegment,
    private readonly keep: (localFrame: number) => boolean = () => true,
  ) {}

  add(frame: Uint8Array): void {
    // The step from held frames into the first frame the segment draws is its boundary's (the
    // jump), not its own motion.
    if (this.previous !== undefined && this.next !== this.segment.heldFrames)
      this.steps.push(meanAbsDiff(this.previous, frame));
    if (this.keep(this.next)) this.frames.set(this.next, frame);
    this.previous = frame;
    this.next++;
  }

  finish(): DecodedSegment {
    if (this.next !== this.segment.frameCount)
      throw new RangeError(`segment ${this.segment.index}: ${this.next} of ${this.segment.frameCount} frames`);
    return { segment: this.segment, frames: this.frames, steps: this.steps };
  }
}

/** A segment from all its frames (for callers that have them in memory). */
export function decodedSegment(segment: SeamSegment, frames: readonly Uint8Array[]): DecodedSegment {
  const decoder = new SegmentDecoder(segment);
  for (const frame of frames) decoder.add(frame);
  return decoder.finish();
}

/**
 * Which local frames of `segment` measureBoundary reads, with `previous` and `next` its
 * neighbours: as the incoming segment its first frames (the overlap, the lead, its opening); as
 * the outgoing one its frames at the next one's opening offsets, and from the next one's start
 * (or the frame before its lead) to the end.
 */
export function framesKept(
  segment: SeamSegment,
  previous: SeamSegment | undefined,
  next: SeamSegment | undefined,
): (localFrame: number) => boolean {
  const end = segment.startFrame + segment.frameCount;
  const head = Math.max(
    previous === undefined ? 0 : previous.startFrame + previous.frameCount - segment.startFrame,
    segment.leadFrame - segment.startFrame + 1,
    segment.heldFrames + OPENING_FRAMES,
    next === undefined ? 0 : next.heldFrames + OPENING_FRAMES,
  );
  const tail =
    next === undefined
      ? segment.frameCount
      : Math.min(next.startFrame, next.leadFrame - 1, end - 1) - segment.startFrame;
  return (local) => local < head || local >= tail;
}

/** Frame `local` of a decoded segment; a frame framesKept did not keep is a bug here, not bad input. */
function kept(s: DecodedSegment, local: number): Uint8Array {
  const frame = s.frames.get(local);
  if (frame === undefined) throw new RangeError(`segment ${s.segment.index}: frame ${local} was not kept`);
  return frame;
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/** Local frame of segment `s` at timeline frame `f`, or undefined outside its span. */
function frameAt(s: DecodedSegment, f: number): Uint8Array | undefined {
  const local = f - s.segment.startFrame;
  return local >= 0 && local < s.segment.frameCount ? kept(s, local) : undefined;
}

/** The boundary between two neighbouring decoded segments (see the top of the file). */
export function measureBoundary(a: DecodedSegment, b: DecodedSegment): SeamBoundary {
  const sa = a.segment;
  const sb = b.segment;
  const sharedStart = Math.max(sa.startFrame, sb.startFrame);
  const sharedEnd = Math.min(sa.startFrame + sa.frameCount, sb.startFrame + sb.frameCount);
  const sharedFrames = Math.max(0, sharedEnd - sharedStart);
  let across: number | null = null;
  if (sharedFrames > 0) {
    let sum = 0;
    for (let f = sharedStart; f < sharedEnd; f++) sum += meanAbsDiff(frameAt(a, f)!, frameAt(b, f)!);
    across = sum / sharedFrames;
  }
  const beforeLead = frameAt(a, sb.leadFrame - 1);
  const atLead = frameAt(b, sb.leadFrame);
  const jump = beforeLead && atLead ? meanAbsDiff(beforeLead, atLead) : null;
  const steps = [...a.steps, ...b.steps];
  const within = steps.length === 0 ? 0 : median(steps);
  const maxStep = steps.length === 0 ? 0 : Math.max(...steps);
  const ratio = across === null ? null : across / Math.max(within, WITHIN_FLOOR);
  const jumpRatio = jump === null ? null : jump / Math.max(maxStep, WITHIN_FLOOR);
  const held = Math.min(sb.heldFrames, sb.frameCount);
  const m = Math.min(OPENING_FRAMES, sb.frameCount - held, sa.frameCount - held);
  let opening: number | null = null;
  let openingAcross: number | null = null;
  if (m > 0) {
    const stride = sb.startFrame - sa.startFrame;
    let same = 0;
    let moment = 0;
    for (let i = held; i < held + m; i++) {
      same += meanAbsDiff(kept(a, i), kept(b, i));
      moment += meanAbsDiff(kept(a, Math.min(sa.frameCount - 1, Math.max(0, i + stride))), kept(b, i));
    }
    opening = same / m;
    openingAcross = moment / m;
  }
  const restartScore =
    opening === null || openingAcross === null ? null : openingAcross === 0 ? 0 : clamp01(1 - opening / openingAcross);
  const reasons: SeamBoundary['reasons'] = [];
  if (sa.seed !== sb.seed) reasons.push('seed');
  if (sa.section !== sb.section) reasons.push('section');
  const planned = reasons.length > 0 ? 'transition' : 'continuation';
  const verdict: SeamBoundary['verdict'] =
    restartScore !== null && restartScore >= RESTART_SCORE
      ? 'restart'
      : planned === 'transition'
        ? 'transition'
        : (ratio ?? 0) >= SEAM_RATIO || (jumpRatio ?? 0) >= JUMP_RATIO
          ? 'seam'
          : 'continuous';
  return {
    from: sa.index,
    to: sb.index,
    sharedFrames,
    leadFrame: sb.leadFrame,
    crossfadeFrames: sb.crossfadeFrames,
    planned,
    reasons,
    heldFrames: held,
    across,
    jump,
    within,
    maxStep,
    ratio,
    jumpRatio,
    opening,
    openingAcross,
    restartScore,
    verdict,
  };
}

function stats(values: readonly (number | null)[]): { median: number; max: number } | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : { median: median(present), max: Math.max(...present) };
}

export function summarizeSeams(boundaries: readonly SeamBoundary[]): SeamSummary {
  const continuations = boundaries.filter((b) => b.planned === 'continuation');
  return {
    boundaries: boundaries.length,
    continuations: continuations.length,
    transitions: boundaries.length - continuations.length,
    restarts: boundaries.filter((b) => b.verdict === 'restart').length,
    seams: continuations.filter((b) => b.verdict === 'seam').length,
    ratio: stats(continuations.map((b) => b.ratio)),
    jumpRatio: stats(continuations.map((b) => b.jumpRatio)),
    across: stats(continuations.map((b) => b.across)),
    within: stats(continuations.map((b) => b.within)),
    restartScore: stats(boundaries.map((b) => b.restartScore)),
  };
}

async function readPlan(path: string): Promise<SeamPlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new BeatloomError(
      'E_RUN_DIR',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        kind: 'usage',
        hint: 'give the run directory of a finished render (it holds plan.json and segments/)',
        cause: error,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BeatloomError('E_RUN_DIR', `${path} is not JSON: ${(error as Error).message}`, {
      kind: 'usage',
      hint: 'render again to rewrite the plan',
      cause: error,
    });
  }
  const parsed = seamPlanSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BeatloomError('E_RUN_DIR', `${path} is not a render plan: ${issue.path.join('.')}: ${issue.message}`, {
      kind: 'usage',
      hint: 'render again to rewrite the plan',
    });
  }
  return {
    ...parsed.data,
    jobs: [...parsed.data.jobs].sort((x, y) => x.startFrame - y.startFrame || x.index - y.index),
  };
}

interface FrameSize {
  readonly width: number;
  readonly height: number;
  readonly path: string;
}

async function loadSegment(
  root: string,
  segmentsDir: string,
  segment: SeamSegment,
  keep: (localFrame: number) => boolean,
  size: { current: FrameSize | undefined },
): Promise<DecodedSegment> {
  const dir = join(segmentsDir, segmentDirName(segment.index));
  const decoder = new SegmentDecoder(segment, keep);
  for (let i = 0; i < segment.frameCount; i++) {
    const path = join(dir, frameFileName(i));
    let file: Buffer;
    try {
      file = await readFile(path);
    } catch (error) {
      throw new BeatloomError(
        'E_FRAME_MISSING',
        `segment ${segment.index} has no frame ${i} (${relative(root, path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        { hint: 'finish the render first (run the same render command again): seams are measured on every segment' },
      );
    }
    const image = await decodePngAsync(file, path);
    const seen = size.current;
    if (seen === undefined) size.current = { width: image.width, height: image.height, path };
    else if (seen.width !== image.width || seen.height !== image.height) {
      throw new BeatloomError(
        'E_FRAME_SIZE',
        `${relative(root, path)} is ${image.width}x${image.height}, but ${relative(root, seen.path)} is ${seen.width}x${seen.height}`,
        { hint: 'the run directory mixes renders of different sizes: render again with --force' },
      );
    }
    decoder.add(image.data);
  }
  return decoder.finish();
}

/**
 * Measures every boundary of the run directory `root` (its plan.json and segments/NNNN/ frames),
 * holding two segments at a time, and of each only the frames its boundaries read.
 */
export async function measureSeams(root: string, options: { signal?: AbortSignal } = {}): Promise<SeamReport> {
  const run = runDirAt(root);
  const plan = await readPlan(run.planJson);
  const size: { current: FrameSize | undefined } = { current: undefined };
  const boundaries: SeamBoundary[] = [];
  const { jobs } = plan;
  const load = (i: number): Promise<DecodedSegment> =>
    loadSegment(root, run.segmentsDir, jobs[i]!, framesKept(jobs[i]!, jobs[i - 1], jobs[i + 1]), size);
  let previous = await load(0);
  for (let i = 1; i < jobs.length; i++) {
    throwIfAborted(options.signal);
    const next = await load(i);
    boundaries.push(measureBoundary(previous, next));
    previous = next;
  }
  return {
    runDir: root,
    segments: plan.jobs.length,
    width: size.current!.width,
    height: size.current!.height,
    thresholds: {
      seamRatio: SEAM_RATIO,
      jumpRatio: JUMP_RATIO,
      restartScore: RESTART_SCORE,
      openingFrames: OPENING_FRAMES,
      withinFloor: WITHIN_FLOOR,
    },
    boundaries,
    summary: summarizeSeams(boundaries),
  };
}
