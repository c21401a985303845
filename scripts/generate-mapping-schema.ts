/** Regenerates schemas/mapping.schema.json from the zod schema: `npm run schema`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAPPING_SCHEMA_PATH, mappingJsonSchemaText } from '../src/config/mapping-json-schema.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const path = join(root, MAPPING_SCHEMA_PATH);
await mkdir(dirname(path), { recursive: true });
await writeFile(path, mappingJsonSchemaText());
process.stdout.write(`wrote ${MAPPING_SCHEMA_PATH}\n`);
