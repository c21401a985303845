/** Writes the tests' tiny checkpoint and motion module into a folder: npx tsx scripts/native-reference/write-tiny-models.ts DIR [SEED] */
import { mkdir } from 'node:fs/promises';
import { writeTinyModels } from '../../test/helpers/native-tiny-model.js';

const [dir, seed = '1'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: write-tiny-models.ts DIR [SEED]');
  process.exit(2);
}
await mkdir(dir, { recursive: true });
console.log(await writeTinyModels(dir, Number(seed)));
