import { open, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AttrValue, Dim, ElemType, GraphBuilder, Initializer, OnnxNode, ValueInfo } from './graph-builder.js';
import { ProtoWriter } from './protobuf.js';

/**
 * Serialises a GraphBuilder as an ONNX ModelProto (onnx/onnx.proto, IR version 8, opset 17) with every
 * weight stored as external data in one file next to the .onnx: protobuf messages cannot exceed 2 GB and
 * an SD 1.5 UNet in float32 is 3.4 GB.
 */
export const ONNX_OPSET = 17;
const IR_VERSION = 8;
/** Tensor data offsets are page-aligned so onnxruntime can memory-map them. */
const EXTERNAL_ALIGNMENT = 4096;
/** Initializers below this stay inline in the .onnx. */
const INLINE_LIMIT_BYTES = 1024;

const ELEM_TYPE: Record<ElemType, number> = { float: 1, int64: 7 };

function attribute(name: string, value: AttrValue): ProtoWriter {
  const out = new ProtoWriter().string(1, name);
  if ('f' in value) return out.float(2, value.f).int(20, 1);
  if ('i' in value) return out.int(3, value.i).int(20, 2);
  if ('s' in value) return out.string(4, value.s).int(20, 3);
  if ('floats' in value) return out.packedFloats(7, value.floats).int(20, 6);
  return out.packedInts(8, value.ints).int(20, 7);
}

function nodeProto(node: OnnxNode): ProtoWriter {
  const out = new ProtoWriter();
  for (const input of node.inputs) out.string(1, input);
  for (const output of node.outputs) out.string(2, output);
  out.string(3, node.name).string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes)) out.message(5, attribute(name, value));
  return out;
}

function dimProto(dim: Dim): ProtoWriter {
  return typeof dim === 'number' ? new ProtoWriter().int(1, dim) : new ProtoWriter().string(2, dim);
}

function valueInfo(info: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of info.dims) shape.message(1, dimProto(dim));
  const tensorType = new ProtoWriter().int(1, ELEM_TYPE[info.elemType]).message(2, shape);
  return new ProtoWriter().string(1, info.name).message(2, new ProtoWriter().message(1, tensorType));
}

function tensorHeader(name: string, elemType: ElemType, dims: readonly number[]): ProtoWriter {
  const out = new ProtoWriter();
  for (const dim of dims) out.int(1, dim);
  return out.int(2, ELEM_TYPE[elemType]).string(8, name);
}

function inlineBytes(data: Float32Array | BigInt64Array): Uint8Array {
  // raw_data is little-endian; so is every platform onnxruntime-node ships for.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1);
}

export interface WriteOnnxOptions {
  /** Called after each external tensor is written (bytes written so far, total bytes). */
  readonly onTensor?: (writtenBytes: number, totalBytes: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * Writes `graph` to `onnxPath` and its weights to `onnxPath + '.data'` (referenced by file name, so the
 * pair can be moved together).
 */
export async function writeOnnxModel(
  graph: GraphBuilder,
  onnxPath: string,
  options: WriteOnnxOptions = {},
): Promise<void> {
  const dataPath = `${onnxPath}.data`;
  const dataName = basename(dataPath);
  const tensors: ProtoWriter[] = [];
  const external = graph.initializers.filter(
    (init): init is Extract<Initializer, { kind: 'external' }> => init.kind === 'external',
  );
  const totalBytes = external.reduce((sum, init) => sum + elementCount(init.dims) * 4, 0);
  const handle = await open(dataPath, 'w');
  try {
    let offset = 0;
    let written = 0;
    for (const init of graph.initializers) {
      if (init.kind === 'inline') {
        tensors.push(tensorHeader(init.name, init.elemType, init.dims).bytes(9, inlineBytes(init.data)));
        continue;
      }
      options.signal?.throwIfAborted();
      const data = await init.load();
      if (data.length !== elementCount(init.dims)) {
        throw new Error(`weight ${init.name}: ${data.length} values for dims [${init.dims.join(', ')}]`);
      }
      const bytes = inlineBytes(data);
      if (bytes.byteLength < INLINE_LIMIT_BYTES) {
        tensors.push(tensorHeader(init.name, 'float', init.dims).bytes(9, bytes));
      } else {
        offset = Math.ceil(offset / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
        await handle.write(bytes, 0, bytes.byteLength, offset);
        const entry = (key: string, value: string): ProtoWriter => new ProtoWriter().string(1, key).string(2, value);
        tensors.push(
          tensorHeader(init.name, 'float', init.dims)
            .message(13, entry('location', dataName))
            .message(13, entry('offset', String(offset)))
            .message(13, entry('length', String(bytes.byteLength)))
            .int(14, 1),
        );
        offset += bytes.byteLength;
      }
      written += bytes.byteLength;
      options.onTensor?.(written, totalBytes);
    }
  } finally {
    await handle.close();
  }
  const graphProto = new ProtoWriter();
  for (const node of graph.nodes) graphProto.message(1, nodeProto(node));
  graphProto.string(2, graph.name);
  for (const tensor of tensors) graphProto.message(5, tensor);
  for (const input of graph.inputs) graphProto.message(11, valueInfo(input));
  for (const output of graph.outputs) graphProto.message(12, valueInfo(output));
  const model = new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, 'beatloom')
    .message(7, graphProto)
    .message(8, new ProtoWriter().string(1, '').int(2, ONNX_OPSET));
  await writeFile(onnxPath, model.finish());
}
