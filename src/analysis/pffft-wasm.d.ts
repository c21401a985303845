/** The part of @echogarden/pffft-wasm's Emscripten module that beatloom uses (it ships no types). */
interface PffftModule {
  readonly HEAPF32: Float32Array;
  _pffft_new_setup(size: number, transform: number): number;
  _pffft_aligned_malloc(bytes: number): number;
  _pffft_transform_ordered(setup: number, input: number, output: number, work: number, direction: number): void;
}

declare module '@echogarden/pffft-wasm/simd' {
  const factory: () => Promise<PffftModule>;
  export default factory;
}
