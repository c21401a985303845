/**
 * A small DSL for building ONNX graphs (https://onnx.ai/onnx/operators/): values are named strings,
 * every op call appends one node and returns its output names. Float weights are initializers whose
 * data is produced lazily when the model is written (see write-onnx.ts), so a multi-GB model never
 * sits in memory at once.
 */
export type ElemType = 'float' | 'int64';
export type Dim = number | string;

export type AttrValue =
  | { readonly f: number }
  | { readonly i: number }
  | { readonly s: string }
  | { readonly floats: readonly number[] }
  | { readonly ints: readonly number[] };

export interface OnnxNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly attributes: Readonly<Record<string, AttrValue>>;
}

export interface ValueInfo {
  readonly name: string;
  readonly elemType: ElemType;
  readonly dims: readonly Dim[];
}

/** An initializer: either small inline data, or float32 data loaded when the model is written. */
export type Initializer =
  | {
      readonly kind: 'inline';
      readonly name: string;
      readonly elemType: ElemType;
      readonly dims: readonly number[];
      readonly data: Float32Array | BigInt64Array;
    }
  | {
      readonly kind: 'external';
      readonly name: string;
      readonly dims: readonly number[];
      readonly load: () => Promise<Float32Array>;
    };

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers: Initializer[] = [];
  private readonly initializerNames = new Set<string>();
  private counter = 0;
  private readonly constCache = new Map<string, string>();

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    this.counter += 1;
    return `${hint}_${this.counter}`;
  }

  input(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.inputs.push({ name, elemType, dims });
    return name;
  }

  /** Marks `value` as a graph output named `name` (an Identity node renames it). */
  output(value: string, name: string, elemType: ElemType, dims: readonly Dim[]): void {
    this.node('Identity', [value], {}, [name]);
    this.outputs.push({ name, elemType, dims });
  }

  /** A float weight whose data is loaded when the model is written. */
  weight(name: string, dims: readonly number[], load: () => Promise<Float32Array>): string {
    if (this.initializerNames.has(name)) return name;
    this.initializerNames.add(name);
    this.initializers.push({ kind: 'external', name, dims, load });
    return name;
  }

  /** A small float constant stored in the graph. */
  constFloat(values: readonly number[] | Float32Array, dims: readonly number[]): string {
    const key = `f:${dims.join(',')}:${Array.from(values).join(',')}`;
    const cached = values.length <= 16 ? this.constCache.get(key) : undefined;
    if (cached) return cached;
    const name = this.fresh('const_f');
    this.initializers.push({ kind: 'inline', name, elemType: 'float', dims, data: Float32Array.from(values) });
    if (values.length <= 16) this.constCache.set(key, name);
    return name;
  }

  /** A small int64 constant (shapes, axes). */
  constInt(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i:${dims.join(',')}:${values.join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh('const_i');
    this.initializers.push({
      kind: 'inline',
      name,
      elemType: 'int64',
      dims,
      data: BigInt64Array.from(values.map(BigInt)),
    });
    this.constCache.set(key, name);
    return name;
  }

  scalar(value: number): string {
    return this.constFloat([value], []);
  }

  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttrValue> = {},
    outputs?: readonly string[],
  ): string[] {
    const outs = outputs ?? [this.fresh(opType.toLowerCase())];
    this.nodes.push({ opType, inputs, outputs: outs, name: `${opType}_${this.nodes.length}`, attributes });
    return [...outs];
  }

  op(opType: string, inputs: readonly string[], attributes: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, attributes)[0]!;
  }

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.op('Div', [a, b]);
  }
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  sigmoid(x: string): string {
    return this.op('Sigmoid', [x]);
  }
  silu(x: string): string {
    return this.mul(x, this.sigmoid(x));
  }
  /** Exact GELU, 0.5·x·(1 + erf(x/√2)), as torch.nn.functional.gelu. */
  gelu(x: string): string {
    const erf = this.op('Erf', [this.mul(x, this.scalar(Math.SQRT1_2))]);
    return this.mul(this.mul(x, this.scalar(0.5)), this.add(erf, this.scalar(1)));
  }
  /** CLIP's quick_gelu, x·σ(1.702x). */
  quickGelu(x: string): string {
    return this.mul(x, this.sigmoid(this.mul(x, this.scalar(1.702))));
  }
  reshape(x: string, shape: readonly number[] | string): string {
    return this.op('Reshape', [x, typeof shape === 'string' ? shape : this.constInt(shape)]);
  }
  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }
  concat(values: readonly string[], axis: number): string {
    return this.op('Concat', values, { axis: { i: axis } });
  }
  shape(x: string, start?: number, end?: number): string {
    const attributes: Record<string, AttrValue> = {};
    if (start !== undefined) attributes.start = { i: start };
    if (end !== undefined) attributes.end = { i: end };
    return this.op('Shape', [x], attributes);
  }
  softmax(x: string, axis = -1): string {
    return this.op('Softmax', [x], { axis: { i: axis } });
  }
  conv(
    x: string,
    weight: string,
    bias: string | undefined,
    options: { pads: readonly number[]; strides?: readonly number[] },
  ): string {
    const attributes: Record<string, AttrValue> = { pads: { ints: options.pads } };
    if (options.strides) attributes.strides = { ints: options.strides };
    return this.op('Conv', bias ? [x, weight, bias] : [x, weight], attributes);
  }
  layerNorm(x: string, gamma: string, beta: string, epsilon: number): string {
    return this.op('LayerNormalization', [x, gamma, beta], { axis: { i: -1 }, epsilon: { f: epsilon } });
  }
  /** GroupNorm on [N, C, ...]: InstanceNormalization over [N, groups, rest], then the affine per channel. */
  groupNorm(x: string, groups: number, gamma: string, beta: string, epsilon: number): string {
    const grouped = this.reshape(x, [0, groups, -1]);
    const ones = this.constFloat(new Float32Array(groups).fill(1), [groups]);
    const zeros = this.constFloat(new Float32Array(groups), [groups]);
    const normed = this.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: epsilon } });
    const restored = this.reshape(normed, this.shape(x));
    return this.add(this.mul(restored, gamma), beta);
  }
}
