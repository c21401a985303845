/**
 * What a user may write to configure the comfyui engine (the `comfyui:` section of the config
 * file, a batch file's engineOptions, the --comfy-* flags): the engine owns these schemas;
 * src/engines/engine-config.ts merges the sources. The engine resolves its defaults once
 * (settings.ts).
 */
import { z } from 'zod';

/** `"<node id>.<input name>"`: one input of one node of an API-format workflow. */
const workflowTargetSchema = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*\.[A-Za-z0-9_ ]+$/, 'must look like "<node id>.<input name>", e.g. "3.seed"');
const workflowTargetsSchema = z.union([workflowTargetSchema, z.array(workflowTargetSchema).min(1)]);

/**
 * Which node inputs of a bring-your-own workflow beatloom fills in per segment. `output` is the
 * node whose images are the segment's frames (a SaveImage).
 */
export const workflowMapSchema = z
  .object({
    output: z.string().min(1),
    prompt: workflowTargetsSchema,
    negative: workflowTargetsSchema.optional(),
    seed: workflowTargetsSchema,
    frameCount: workflowTargetsSchema,
    denoise: workflowTargetsSchema.optional(),
    /** A FLOAT input gets the segment's motion scale; ADE_ValueScheduling.values gets one value per frame. */
    motionScale: workflowTargetsSchema.optional(),
    /** A LoadImage.image input: gets the uploaded init image (chain / anchor continuity). */
    initImage: workflowTargetsSchema.optional(),
    width: workflowTargetsSchema.optional(),
    height: workflowTargetsSchema.optional(),
    cfg: workflowTargetsSchema.optional(),
    steps: workflowTargetsSchema.optional(),
    /**
     * A LoRA the mapping drives (by its name in the mapping's targets.loras) → the inputs that get
     * its strength per segment, e.g. `{ add_detail: [20.strength_model, 20.strength_clip] }`.
     */
    loras: z.record(z.string().min(1), workflowTargetsSchema).optional(),
  })
  .strict();
export type WorkflowMap = z.infer<typeof workflowMapSchema>;

export const comfyLoraSchema = z
  .object({
    name: z.string().min(1),
    strengthModel: z.number().min(-100).max(100).default(1),
    strengthClip: z.number().min(-100).max(100).default(1),
  })
  .strict();
export type ComfyLora = z.infer<typeof comfyLoraSchema>;

/** The `comfyui:` section of the config file, and what flags and the environment may set. */
export const comfyuiConfigSchema = z
  .object({
    /** One server or several (a list, or a comma-separated string). */
    url: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    checkpoint: z.string().min(1).optional(),
    motionModel: z.string().min(1).optional(),
    betaSchedule: z.string().min(1).optional(),
    steps: z.number().int().min(1).max(100).optional(),
    sampler: z.string().min(1).optional(),
    scheduler: z.string().min(1).optional(),
    loras: z.array(comfyLoraSchema).optional(),
    /** An API-format workflow JSON to use instead of the built-in graph (needs workflowMap). */
    workflow: z.string().min(1).optional(),
    /** The map for `workflow`: inline, or the path of a YAML/JSON file. */
    workflowMap: z.union([z.string().min(1), workflowMapSchema]).optional(),
    /** Segments each server holds at once: one running, the rest queued so its GPU never waits for beatloom. */
    queueDepth: z.number().int().min(1).max(8).optional(),
    requestTimeoutMs: z.number().int().min(100).optional(),
    segmentTimeoutMs: z.number().int().min(1000).optional(),
  })
  .strict();
export type ComfyuiConfig = z.infer<typeof comfyuiConfigSchema>;
