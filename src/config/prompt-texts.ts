/**
 * The --prompt and --negative texts against a mapping's prompts: {prompt} and {negative} in the
 * mapping stand for them. Giving a text the mapping never uses, or leaving out one it needs, is an
 * error rather than a surprise in the video.
 */
import { usageError } from '../shared/errors.js';
import type { Mapping } from './mapping-schema.js';

export const DEFAULT_NEGATIVE_PROMPT = 'blurry, low quality, watermark, text';

export interface PromptFlags {
  /** --prompt, when given. */
  readonly prompt?: string | undefined;
  /** --negative, when given. */
  readonly negative?: string | undefined;
}

export interface PromptTexts {
  readonly prompt: string;
  readonly negative: string;
}

export function mappingUsesPrompt(mapping: Mapping): boolean {
  return mapping.prompts.schedule.some((entry) => entry.prompt.includes('{prompt}'));
}

export function mappingUsesNegative(mapping: Mapping): boolean {
  return [
    mapping.prompts.negative,
    ...mapping.prompts.schedule.map((e) => e.negative ?? mapping.prompts.negative),
  ].some((text) => text.includes('{negative}'));
}

/** The texts that replace {prompt} and {negative}; throws when a needed one is missing or a given one unused. */
export function resolvePromptTexts(mapping: Mapping, flags: PromptFlags, mappingPath: string): PromptTexts {
  const prompt = flags.prompt?.trim() === '' ? undefined : flags.prompt;
  if (mappingUsesPrompt(mapping) && prompt === undefined) {
    throw usageError(
      'E_MISSING_OPTION',
      `missing --prompt (the prompts in ${mappingPath} use {prompt})`,
      'add --prompt "neon city, rain"',
    );
  }
  if (!mappingUsesPrompt(mapping) && prompt !== undefined) {
    throw usageError(
      'E_UNUSED_OPTION',
      `--prompt is not used: the prompts in ${mappingPath} do not contain {prompt}`,
      'leave out --prompt, or add {prompt} to a prompt in the mapping',
    );
  }
  if (!mappingUsesNegative(mapping) && flags.negative !== undefined) {
    throw usageError(
      'E_UNUSED_OPTION',
      `--negative is not used: the negative prompts in ${mappingPath} do not contain {negative}`,
      'leave out --negative, or add {negative} to prompts.negative',
    );
  }
  return { prompt: prompt ?? '', negative: flags.negative ?? DEFAULT_NEGATIVE_PROMPT };
}
