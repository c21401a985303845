/**
 * The JSON Schema of the mapping, generated from the zod schema (the source of truth) for
 * editors: with `# yaml-language-server: $schema=…` at the top of a mapping, editors complete keys
 * and flag mistakes as you type. The committed copy is schemas/mapping.schema.json; a test checks it
 * matches, and `npm run schema` regenerates it.
 */
import { z } from 'zod';
import { mappingSchema } from './mapping-schema.js';

export const MAPPING_SCHEMA_PATH = 'schemas/mapping.schema.json';

export function mappingJsonSchema(): Record<string, unknown> {
  // The input side: what a person writes (durations as text, defaults optional).
  const schema = z.toJSONSchema(mappingSchema, { io: 'input', unrepresentable: 'throw', target: 'draft-2020-12' });
  return { ...schema, $id: 'https://beatloom.dev/schemas/mapping.schema.json' };
}

export function mappingJsonSchemaText(): string {
  return `${JSON.stringify(mappingJsonSchema(), null, 2)}\n`;
}
