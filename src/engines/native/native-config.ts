/**
 * The native engine's settings: the `native:` section of beatloom.config.yaml, batch engineOptions
 * for `engine: native`, and the --native-* flags (merged in engines/engine-config.ts).
 */
import { z } from 'zod';

/** The `native:` section of the config file (and batch engineOptions for `engine: native`). */
export const nativeConfigSchema = z
  .object({
    /** An SD 1.5 checkpoint (.safetensors, original LDM layout), as ComfyUI's models/checkpoints hold. */
    checkpoint: z.string().min(1).optional(),
    /** An AnimateDiff-Lightning motion module (animatediff_lightning_4step_comfyui.safetensors). */
    motionModel: z.string().min(1).optional(),
    /** CLIP tokenizer files: ComfyUI's comfy/sd1_tokenizer folder or a merges.txt (default: beatloom's own). */
    vocab: z.string().min(1).optional(),
    /** Where the built ONNX graphs are cached (default: ~/.cache/beatloom/native). */
    cacheDir: z.string().min(1).optional(),
    /** Sampler steps (default: the steps in the motion module's file name, else 4). */
    steps: z.number().int().min(1).max(100).optional(),
    provider: z.enum(['cpu', 'cuda', 'auto']).optional(),
    threads: z.number().int().min(1).max(256).optional(),
    /** LoRA files merged into the weights at fixed strengths when the graphs are built. */
    loras: z
      .array(
        z
          .object({
            path: z.string().min(1),
            strengthModel: z.number().min(-100).max(100).default(1),
            strengthClip: z.number().min(-100).max(100).default(1),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();
export type NativeConfig = z.infer<typeof nativeConfigSchema>;
