/**
 * A batch file (`beatloom batch jobs.yaml`): many songs, each with its own prompt, mapping and
 * overrides, and defaults shared by all. Paths are relative to the batch file's folder, so a
 * batch runs the same from anywhere. Version 1.
 *
 * ```yaml
 * version: 1
 * runsDir: runs              # run directories go to runs/<job name> unless a job says otherwise
 * defaults: { mapping: mappings/default.yaml, fps: 8, size: 512x512, engine: preview }
 * jobs:
 *   - audio: songs/first.mp3
 *     prompt: neon city, rain
 *   - name: second-take
 *     audio: songs/second.flac
 *     prompt: ocean at dawn
 *     fps: 24000/1001
 *     seed: 7
 *     out: videos/second.mp4
 * ```
 */
import { basename, extname, resolve } from 'node:path';
import { z } from 'zod';
import { comfyuiConfigSchema } from '../engines/comfyui/comfy-config.js';
import { nativeConfigSchema } from '../engines/native/native-config.js';
import { parseSeed, parseSize } from '../config/render-values.js';
import { ENGINE_IDS, isEngineId, type EngineId } from '../engines/registry.js';
import { parseFps } from '../shared/media-time.js';
import { BeatloomError, formatErrorLine } from '../shared/errors.js';

export const BATCH_VERSION = 1;

/** Wraps one of the shared value parsers so its message becomes the zod issue's. */
function parsedBy<T>(parse: (text: string) => T) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      return parse(String(value));
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: error instanceof BeatloomError ? formatErrorLine(error) : String(error),
      });
      return z.NEVER;
    }
  });
}

/**
 * Options each engine takes in a batch, by engine id. The preview engine takes none; an engine
 * with options (a ComfyUI server's URL, its checkpoint…) adds its schema here.
 */
export const ENGINE_OPTION_SCHEMAS: Readonly<Record<EngineId, z.ZodType<Record<string, unknown>>>> = {
  preview: z.object({}).strict(),
  // The same keys as the config file's `comfyui:` section (url, checkpoint, motionModel, loras…).
  comfyui: comfyuiConfigSchema,
  // The same keys as the config file's `native:` section (checkpoint, motionModel, vocab, cacheDir…).
  native: nativeConfigSchema,
};

const engineIdSchema = z.string().superRefine((id, ctx) => {
  if (!isEngineId(id))
    ctx.addIssue({ code: 'custom', message: `unknown engine '${id}'; use one of: ${ENGINE_IDS.join(', ')}` });
});

/** What a job may set and the defaults may set for every job. */
const overridableFields = {
  prompt: z.string().refine((text) => text.trim() !== '', 'the prompt is empty'),
  negative: z.string(),
  mapping: z.string().min(1),
  engine: engineIdSchema,
  engineOptions: z.record(z.string(), z.unknown()),
  fps: parsedBy(parseFps),
  size: parsedBy(parseSize),
  seed: parsedBy(parseSeed),
};

const defaultsSchema = z.object(overridableFields).partial().strict();

const jobSchema = z
  .object({
    /** Names the job in the summary and its run directory; default: the audio file's name. */
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
        'a job name is letters, digits, ., _ and -, starting with a letter or digit',
      )
      .optional(),
    audio: z.string().min(1),
    out: z.string().min(1).optional(),
    runDir: z.string().min(1).optional(),
    ...overridableFields,
  })
  .partial({
    prompt: true,
    negative: true,
    mapping: true,
    engine: true,
    engineOptions: true,
    fps: true,
    size: true,
    seed: true,
  })
  .strict();

export type BatchFileJob = z.output<typeof jobSchema>;
export type BatchFileDefaults = z.output<typeof defaultsSchema>;

export function jobNameOf(job: Pick<BatchFileJob, 'name' | 'audio'>): string {
  return job.name ?? basename(job.audio, extname(job.audio));
}

/** The run directory and output a job resolves to (relative paths from the batch file's folder). */
export function jobPaths(job: BatchFileJob, runsDir: string, baseDir: string): { runDir: string; outPath: string } {
  const runDir = resolve(baseDir, job.runDir ?? resolve(baseDir, runsDir, jobNameOf(job)));
  return { runDir, outPath: job.out === undefined ? resolve(runDir, 'out.mp4') : resolve(baseDir, job.out) };
}

/** Checks engine options against their engine's schema, each issue at its place in the file. */
function checkEngineOptions(
  ctx: z.core.$RefinementCtx,
  engine: string,
  options: Record<string, unknown> | undefined,
  where: Array<string | number>,
): void {
  // An unknown engine id has its own issue already.
  if (options === undefined || !isEngineId(engine)) return;
  const parsed = ENGINE_OPTION_SCHEMAS[engine].safeParse(options);
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  const what =
    issue.code === 'unrecognized_keys'
      ? `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`
      : issue.message;
  ctx.addIssue({ code: 'custom', path: [...where, ...issue.path], message: `${what} for the ${engine} engine` });
}

/**
 * The batch file's schema. Cross-job rules need the resolved paths, hence the folder: two jobs
 * may not share a name, a run directory or an output. Whether a job needs a prompt depends on its
 * mapping ({prompt}); that is checked when the job runs, and a job without one fails on its own.
 * `baseEngine` is the engine a job gets when neither it nor the defaults name one (from --engine
 * or the config file): engine options are checked against the engine they will go to.
 */
export function batchFileSchema(baseDir: string, baseEngine: string = 'preview') {
  return z
    .object({
      version: z.literal(BATCH_VERSION),
      runsDir: z.string().min(1).default('runs'),
      defaults: defaultsSchema.default({}),
      jobs: z.array(jobSchema).min(1, 'a batch needs at least one job'),
    })
    .strict()
    .superRefine((file, ctx) => {
      const seen = {
        name: new Map<string, number>(),
        runDir: new Map<string, number>(),
        out: new Map<string, number>(),
      };
      checkEngineOptions(ctx, file.defaults.engine ?? baseEngine, file.defaults.engineOptions, [
        'defaults',
        'engineOptions',
      ]);
      file.jobs.forEach((job, i) => {
        checkEngineOptions(ctx, job.engine ?? file.defaults.engine ?? baseEngine, job.engineOptions, [
          'jobs',
          i,
          'engineOptions',
        ]);
        const paths = jobPaths(job, file.runsDir, baseDir);
        const checks: Array<[keyof typeof seen, string, Array<string | number>, string]> = [
          [
            'name',
            jobNameOf(job),
            ['jobs', i, job.name === undefined ? 'audio' : 'name'],
            `job name '${jobNameOf(job)}'${job.name === undefined ? ' (from the audio file name)' : ''}`,
          ],
          [
            'runDir',
            paths.runDir,
            ['jobs', i, job.runDir === undefined ? (job.name === undefined ? 'audio' : 'name') : 'runDir'],
            `run directory ${paths.runDir}`,
          ],
          ['out', paths.outPath, ['jobs', i, job.out === undefined ? 'audio' : 'out'], `output ${paths.outPath}`],
        ];
        for (const [kind, value, path, what] of checks) {
          const earlier = seen[kind].get(value);
          if (earlier !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path,
              message: `${what} is already used by jobs[${earlier}]: give each job its own ${kind}`,
            });
            // A shared name makes a shared run directory, which makes a shared output: one issue says it.
            break;
          }
          seen[kind].set(value, i);
        }
      });
    });
}

export type BatchFile = z.output<ReturnType<typeof batchFileSchema>>;
