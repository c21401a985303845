/** Parsers for command-line values: each names the bad value and says what to give instead. */
import { usageError } from '../shared/errors.js';

export { parseSeed, parseSize, type Size } from '../config/render-values.js';

export function requireText(value: string | undefined, flag: string, example: string): string {
  if (value === undefined || value.trim() === '')
    throw usageError('E_MISSING_OPTION', `missing ${flag}`, `add ${flag} ${example}`);
  return value;
}
