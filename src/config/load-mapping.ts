import { readFile } from 'node:fs/promises';
import { usageError } from '../shared/errors.js';
import { mappingSchema, type Mapping } from './mapping-schema.js';
import { parseYamlWithSchema } from './yaml-file.js';

/** Parses and validates mapping YAML; every problem names the file, line, column and key path. */
export function parseMapping(text: string, fileName: string): Mapping {
  return parseYamlWithSchema(text, fileName, mappingSchema, {
    syntax: 'E_MAPPING_YAML',
    invalid: 'E_MAPPING',
    hint: 'see mappings/default.yaml for a complete example',
  });
}

export async function loadMapping(path: string): Promise<Mapping> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw usageError('E_MAPPING_MISSING', `mapping not found: ${path}`, 'give --mapping the path of a YAML mapping, e.g. mappings/default.yaml');
  }
  return parseMapping(text, path);
}
