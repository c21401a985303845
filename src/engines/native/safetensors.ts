import { open, stat, writeFile } from 'node:fs/promises';
import { BeatloomError, usageError } from '../../shared/errors.js';

/**
 * The .safetensors container (https://github.com/huggingface/safetensors#format): an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}}
 * (offsets relative to the end of the header), then the tensor bytes.
 */
export type SafetensorsDtype = 'F16' | 'BF16' | 'F32' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F16: 2,
  BF16: 2,
  F32: 4,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
}

/** Headers above this are not a model file (real ones are well under 1 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function badFile(path: string, what: string): BeatloomError {
  return usageError(
    'E_NATIVE_MODEL_FILE',
    `${path} is not a valid .safetensors file: ${what}`,
    'point at the .safetensors file itself (a complete download; .ckpt/.pt pickles are not read)',
  );
}

/** Reads and checks the header of a .safetensors file; tensor bytes stay on disk. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let sizeBytes: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw badFile(path, 'it is not a file');
    sizeBytes = info.size;
  } catch (error) {
    if (error instanceof BeatloomError) throw error;
    throw usageError('E_NATIVE_MODEL_MISSING', `model file ${path} does not exist`, 'check the path', error);
  }
  if (sizeBytes < 8) throw badFile(path, `it is ${sizeBytes} bytes long (truncated?)`);
  const handle = await open(path, 'r');
  try {
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > MAX_HEADER_BYTES) throw badFile(path, `its header length ${headerLength} is implausible`);
    if (8 + headerLength > sizeBytes) {
      throw badFile(path, `its header needs ${headerLength} bytes but the file has ${sizeBytes - 8} (truncated)`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch (error) {
      throw usageError(
        'E_NATIVE_MODEL_FILE',
        `${path} is not a valid .safetensors file: its header is not JSON`,
        undefined,
        error,
      );
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw badFile(path, 'its header is not a JSON object');
    }
    const dataStart = 8 + headerLength;
    const tensors = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw === 'object' && raw !== null) metadata = raw as Record<string, string>;
        continue;
      }
      const value = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = value?.dtype;
      if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
        throw badFile(path, `tensor ${name} has an unknown dtype ${JSON.stringify(dtype)}`);
      }
      const shape = value.shape;
      const offsets = value.data_offsets;
      if (
        !Array.isArray(shape) ||
        !shape.every((dim) => Number.isInteger(dim) && dim >= 0) ||
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((offset) => Number.isInteger(offset) && offset >= 0)
      ) {
        throw badFile(path, `tensor ${name} has a malformed shape or data_offsets`);
      }
      const [begin, end] = offsets as [number, number];
      const byteLength = end - begin;
      const expected = elementCount(shape as number[]) * DTYPE_BYTES[dtype as SafetensorsDtype];
      if (byteLength !== expected) {
        throw badFile(path, `tensor ${name} has ${byteLength} bytes for shape [${shape.join(', ')}] ${dtype}`);
      }
      if (dataStart + end > sizeBytes) {
        throw badFile(path, `tensor ${name} ends at byte ${dataStart + end} but the file has ${sizeBytes} (truncated)`);
      }
      tensors.set(name, {
        name,
        dtype: dtype as SafetensorsDtype,
        shape: shape as number[],
        fileOffset: dataStart + begin,
        byteLength,
      });
    }
    return { path, sizeBytes, metadata, tensors };
  } finally {
    await handle.close();
  }
}

const F16_TO_F32 = (() => {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[bits] = mantissa ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
})();

/** Converts raw little-endian tensor bytes of a float dtype to float32. */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, name: string): Float32Array {
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  // F32: a copy (the source may be unaligned); little-endian, like every platform onnxruntime-node ships for
  if (dtype === 'F32')
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = F16_TO_F32[view.getUint16(i * 2, true)]!;
      return out;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    default:
      throw new BeatloomError('E_NATIVE_MODEL_DTYPE', `tensor ${name} has dtype ${dtype}, not a float type`);
  }
}

/** Reads one tensor's values as float32. */
export async function readTensorFloat32(file: SafetensorsFile, name: string): Promise<Float32Array> {
  const entry = file.tensors.get(name);
  if (!entry) throw usageError('E_NATIVE_MODEL_TENSOR', `${file.path} has no tensor ${name}`);
  const handle = await open(file.path, 'r');
  try {
    const bytes = Buffer.alloc(entry.byteLength);
    const { bytesRead } = await handle.read(bytes, 0, entry.byteLength, entry.fileOffset);
    if (bytesRead !== entry.byteLength) {
      throw usageError('E_NATIVE_MODEL_FILE', `${file.path} is truncated inside tensor ${name}`);
    }
    return toFloat32(bytes, entry.dtype, name);
  } finally {
    await handle.close();
  }
}

export interface SafetensorsInput {
  readonly name: string;
  readonly dtype: 'F32' | 'F16';
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Round-to-nearest float16 bits of a float32 value (ties to even, overflow to infinity). */
function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent >= 31) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    const half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (half + (rest > halfway || (rest === halfway && half & 1) ? 1 : 0));
  }
  const rounded = (exponent << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  return sign | (rounded + (rest > 0x1000 || (rest === 0x1000 && rounded & 1) ? 1 : 0));
}

/** Writes a .safetensors file (used for scaled-down test models and fixtures). */
export async function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsInput[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    const bytes = elementCount(tensor.shape) * DTYPE_BYTES[tensor.dtype];
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of tensors) {
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new Error(`tensor ${tensor.name}: ${tensor.data.length} values for shape [${tensor.shape.join(', ')}]`);
    }
    if (tensor.dtype === 'F32') {
      // little-endian platforms only (every platform onnxruntime-node ships for)
      out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), position);
      position += tensor.data.byteLength;
    } else {
      const halves = new Uint16Array(tensor.data.length);
      for (let i = 0; i < halves.length; i++) halves[i] = float32ToFloat16Bits(tensor.data[i]!);
      out.set(new Uint8Array(halves.buffer), position);
      position += halves.byteLength;
    }
  }
  await writeFile(path, out);
}
