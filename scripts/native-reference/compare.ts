/**
 * Runs beatloom's native graphs on the inputs of a reference file written by reference.py and prints the
 * maximum absolute and relative error of every output against ComfyUI's.
 *   npx tsx scripts/native-reference/compare.ts CHECKPOINT MOTION_MODULE REFERENCE.safetensors [--cache DIR] [--fp64 REF64.safetensors]
 *     [--lora LORA.safetensors,STRENGTH_MODEL,STRENGTH_CLIP]
 * With --lora the graphs are built with the LoRA merged and compared with the reference's lora.* outputs.
 * With --fp64 (made by reference_fp64.py) the UNet output is also compared with a float64 run of the same
 * ComfyUI modules, next to ComfyUI's own float32 error, which says how much of the difference is float32 itself.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildNativeGraphs } from '../../src/engines/native/build-graphs.js';
import { readSafetensors, readTensorFloat32, type SafetensorsFile } from '../../src/engines/native/safetensors.js';
import { readFile } from 'node:fs/promises';

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const [value] = args.splice(index, 2).slice(1);
  return value;
}
const cacheDir = option('--cache') ?? join(tmpdir(), 'beatloom-native-cache');
const fp64Path = option('--fp64');
const loraOption = option('--lora')?.split(',');
const loras = loraOption
  ? [{ path: loraOption[0]!, strengthModel: Number(loraOption[1]), strengthClip: Number(loraOption[2]) }]
  : [];
const outputName = (name: string): string => (loras.length > 0 && !name.startsWith('vae') ? `lora.${name}` : name);
const [checkpointPath, motionModulePath, referencePath] = args;
if (!checkpointPath || !motionModulePath || !referencePath) {
  console.error(
    'usage: compare.ts CHECKPOINT MOTION_MODULE REFERENCE.safetensors [--cache DIR] [--fp64 REF64.safetensors]',
  );
  process.exit(2);
}

async function tensor(ref: SafetensorsFile, name: string): Promise<ort.Tensor> {
  const entry = ref.tensors.get(name)!;
  if (entry.dtype === 'I64') {
    const bytes = await readFile(ref.path);
    const data = new BigInt64Array(
      bytes.buffer.slice(bytes.byteOffset + entry.fileOffset, bytes.byteOffset + entry.fileOffset + entry.byteLength),
    );
    return new ort.Tensor('int64', data, [...entry.shape]);
  }
  return new ort.Tensor('float32', await readTensorFloat32(ref, name), [...entry.shape]);
}

export function errors(
  actual: Float32Array,
  expected: Float32Array,
): { maxAbs: number; maxRel: number; refMaxAbs: number } {
  let maxAbs = 0;
  let refMaxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i]! - expected[i]!));
    refMaxAbs = Math.max(refMaxAbs, Math.abs(expected[i]!));
  }
  // relative to the reference's largest magnitude (element-wise relative error is meaningless near 0)
  return { maxAbs, maxRel: maxAbs / refMaxAbs, refMaxAbs };
}

const started = Date.now();
const files = await buildNativeGraphs({ checkpointPath, motionModulePath, cacheDir, loras });
console.log(`graphs ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${join(files.unet, '..')}`);
const ref = await readSafetensors(referencePath);
const cases: [string, string, string[], string][] = [
  ['text encoder', files.textEncoder, ['text.input_ids'], 'text.hidden_states'],
  ['unet + motion', files.unet, ['unet.sample', 'unet.timestep', 'unet.context', 'unet.motion_scale'], 'unet.eps'],
  ['vae decoder', files.vaeDecoder, ['vae_decoder.latent'], 'vae_decoder.image'],
  ['vae encoder', files.vaeEncoder, ['vae_encoder.image'], 'vae_encoder.latent'],
];
for (const [label, path, inputs, output] of cases) {
  const loadStart = Date.now();
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  const loadMs = Date.now() - loadStart;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) feeds[input.split('.')[1]!] = await tensor(ref, input);
  const runStart = Date.now();
  const result = await session.run(feeds);
  const runMs = Date.now() - runStart;
  const actual = result[output.split('.')[1]!]!.data as Float32Array;
  const expected = await readTensorFloat32(ref, outputName(output));
  const { maxAbs, maxRel, refMaxAbs } = errors(actual, expected);
  if (fp64Path && output === 'unet.eps' && loras.length === 0) {
    const exact = await readTensorFloat32(await readSafetensors(fp64Path), 'unet.eps');
    const native = errors(actual, exact);
    const comfy = errors(expected, exact);
    console.log(
      `${'vs float64'.padEnd(14)} native max abs ${native.maxAbs.toExponential(2)} (rel ${native.maxRel.toExponential(2)}), ComfyUI float32 max abs ${comfy.maxAbs.toExponential(2)} (rel ${comfy.maxRel.toExponential(2)})`,
    );
  }
  console.log(
    `${label.padEnd(14)} max abs ${maxAbs.toExponential(2)}  max rel ${maxRel.toExponential(2)} (of |ref| max ${refMaxAbs.toFixed(3)})  load ${loadMs} ms, run ${runMs} ms`,
  );
  await session.release();
}
