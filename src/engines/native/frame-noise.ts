/**
 * The starting noise of one video frame, addressed by the song's frame index: the same seed and
 * frame give the same noise in every segment that holds the frame, so two overlapping segments
 * start their shared frames alike (DESIGN.md §3) and a seed is a choice of imagery for a stretch
 * of the song. xoshiro128** seeded by splitmix32 from (seed, frame), Box–Muller to unit normals;
 * only integer maths and V8's own log/cos/sin, so the noise is the same on every machine.
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Unit-variance Gaussian noise for `frameIndex` under `seed`, `size` float32 values. */
export function frameNoise(seed: number, frameIndex: number, size: number): Float32Array {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, not ${seed}`);
  if (!Number.isSafeInteger(frameIndex) || frameIndex < 0) throw new RangeError(`frame index ${frameIndex}`);
  const mix = { s: (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x27d4eb2f) };
  mix.s = (splitmix32(mix) ^ Math.imul(frameIndex, 0x165667b1)) | 0;
  let a = splitmix32(mix);
  let b = splitmix32(mix);
  let c = splitmix32(mix);
  let d = splitmix32(mix);
  if ((a | b | c | d) === 0) a = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const u1 = ((next() >>> 8) + 1) / 16777216; // (0, 1]
    const u2 = (next() >>> 8) / 16777216;
    const radius = Math.sqrt(-2 * Math.log(u1));
    out[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < size) out[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The noise of frames startFrame … startFrame + frameCount − 1, one after the other. */
export function segmentNoise(seed: number, startFrame: number, frameCount: number, frameSize: number): Float32Array {
  const out = new Float32Array(frameCount * frameSize);
  for (let j = 0; j < frameCount; j++) out.set(frameNoise(seed, startFrame + j, frameSize), j * frameSize);
  return out;
}
