import { z } from 'zod';

/**
 * How a segment relates to the one before it (DESIGN.md §3):
 * - none: from noise (noise addressed by frame, so shared frames start alike, but they are sampled apart);
 * - chain: from the previous segment's frame at this segment's first frame, re-noised by denoise;
 * - anchor: from its section's first frame, re-noised by denoise;
 * - continue: the previous segment's last frames are held (a per-frame noise mask) and the rest
 *   continues from them, departing from the last held frame by denoise;
 * - take: a whole stretch (a section, or a chunk of one) in one sampling with context windows,
 *   per-frame motion and prompt travel; chunks of one stretch continue as in `continue`.
 */
export const CONTINUITIES = ['none', 'chain', 'anchor', 'continue', 'take'] as const;
export const continuitySchema = z.enum(CONTINUITIES);
export type Continuity = z.infer<typeof continuitySchema>;
