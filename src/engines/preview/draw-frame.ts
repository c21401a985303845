/**
 * The preview's drawing: a gradient background and a few families of forms moving along slow
 * Lissajous paths. The job drives it the way it drives a diffusion model, visibly:
 * - motion scale → how fast the forms travel and how much they swell (beats show as jumps);
 * - seed → the layout (a new seed is new imagery); a continuation's layout departs from the one
 *   it holds in proportion to denoise (preview-engine.ts);
 * - prompt → palette and kinds of forms.
 */
import type { FormKind, Look, Rgb } from './look.js';

/** A slot of the layout with what the prompt makes of it. */
export interface Form extends Omit<Slot, 'tone'> {
  readonly kind: FormKind;
  readonly color: Rgb;
  /** How strongly it is drawn (its kind's weight in a prompt blend). */
  readonly gain: number;
}

export interface Scene {
  readonly look: Look;
  readonly forms: readonly Form[];
}

/** mulberry32: a small, fast, well-distributed PRNG; deterministic for a given 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNTS: Readonly<Record<FormKind, number>> = { orb: 4, ring: 2, bar: 9, streak: 36, wave: 3, star: 48 };
const KINDS: readonly FormKind[] = ['orb', 'ring', 'bar', 'streak', 'wave', 'star'];

/** One form's place and path, before the prompt says what it is and which colour it takes. */
interface Slot {
  readonly x: number;
  readonly y: number;
  readonly ax: number;
  readonly ay: number;
  readonly fx: number;
  readonly fy: number;
  readonly phase: number;
  readonly size: number;
  /** Where in the prompt's palette its colour is, in [0, 1). */
  readonly tone: number;
}

/** A layout: a slot for every form of every kind, drawn from one key. */
type Slots = Readonly<Record<FormKind, readonly Slot[]>>;

function slotsOf(key: number): Slots {
  const random = prng(key);
  const slots = {} as Record<FormKind, Slot[]>;
  for (const kind of KINDS) {
    slots[kind] = Array.from({ length: COUNTS[kind] }, (_, i) => ({
      tone: random(),
      x: kind === 'bar' ? (i + 0.5) / COUNTS.bar : 0.1 + 0.8 * random(),
      y: 0.15 + 0.7 * random(),
      ax: 0.04 + 0.16 * random(),
      ay: 0.04 + 0.16 * random(),
      fx: 0.5 + random(),
      fy: 0.5 + random(),
      phase: random() * Math.PI * 2,
      size: kind === 'orb' ? 0.08 + 0.1 * random() : kind === 'ring' ? 0.12 + 0.12 * random() : 0.3 + 0.5 * random(),
    }));
  }
  return slots;
}

/**
 * A frame's layout as a blend of layouts: [key, weight] pairs, weights summing to 1. A seed's
 * own layout is one pair; a continuation departs from the layout it holds towards a fresh one,
 * so its layout is the held blend scaled down plus the fresh layout's share.
 */
export type LayoutBlend = readonly (readonly [key: number, weight: number])[];

/** Shares below this are dropped (and the rest renormalised): invisible, and they would pile up over a long section. */
const MIN_LAYOUT_SHARE = 1e-3;

/** `from` moved towards layout `key` by `t` (0: unchanged, 1: only `key`). */
export function departLayout(from: LayoutBlend, key: number, t: number): LayoutBlend {
  const share = Math.min(1, Math.max(0, t));
  const weights = new Map<number, number>();
  for (const [k, w] of from) weights.set(k, (weights.get(k) ?? 0) + w * (1 - share));
  weights.set(key, (weights.get(key) ?? 0) + share);
  const kept = [...weights].filter(([, w]) => w >= MIN_LAYOUT_SHARE);
  const total = kept.reduce((sum, [, w]) => sum + w, 0);
  return kept.map(([k, w]) => [k, w / total] as const);
}

/** A 32-bit layout key from a seed and a salt (integer maths only: the same on every machine). */
export function layoutKey(seed: number, salt: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(salt | 0, 0x297a2d39);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Layouts by key, drawn once per engine (a render uses a handful). */
export class LayoutCache {
  private readonly slots = new Map<number, Slots>();

  get(key: number): Slots {
    let slots = this.slots.get(key);
    if (!slots) {
      slots = slotsOf(key);
      if (this.slots.size > 256) this.slots.clear();
      this.slots.set(key, slots);
    }
    return slots;
  }
}

function mixRgb(parts: readonly (readonly [Rgb, number])[]): Rgb {
  let r = 0;
  let g = 0;
  let b = 0;
  for (const [c, w] of parts) {
    r += c[0] * w;
    g += c[1] * w;
    b += c[2] * w;
  }
  return [Math.round(r), Math.round(g), Math.round(b)];
}

/** The forms of a frame: the look's kinds and colours on the blended layout. */
export function makeScene(look: Look, layout: LayoutBlend, cache: LayoutCache): Scene {
  const layouts = layout.map(([key, weight]) => [cache.get(key), weight] as const);
  const forms: Form[] = [];
  const blend = (pick: (slot: Slot) => number, kind: FormKind, i: number): number =>
    layouts.reduce((sum, [slots, w]) => sum + pick(slots[kind][i]!) * w, 0);
  look.kinds.forEach((kind, k) => {
    const gain = look.kindWeights[k] ?? 1;
    if (gain <= 0) return;
    for (let i = 0; i < COUNTS[kind]; i++) {
      const color = mixRgb(
        layouts.map(([slots, w]) => [look.colors[Math.floor(slots[kind][i]!.tone * look.colors.length)]!, w]),
      );
      forms.push({
        kind,
        x: blend((s) => s.x, kind, i),
        y: blend((s) => s.y, kind, i),
        ax: blend((s) => s.ax, kind, i),
        ay: blend((s) => s.ay, kind, i),
        fx: blend((s) => s.fx, kind, i),
        fy: blend((s) => s.fy, kind, i),
        phase: blend((s) => s.phase, kind, i),
        size: blend((s) => s.size, kind, i),
        color,
        gain,
      });
    }
  });
  return { look, forms };
}

export interface FrameParams {
  readonly width: number;
  readonly height: number;
  /** Accumulated motion, in radians of path travelled. */
  readonly phase: number;
  /** The motion scale at this frame (≈0.5 calm … 1.6 wild). */
  readonly energy: number;
}

function addOrb(
  acc: Float32Array,
  w: number,
  h: number,
  cx: number,
  cy: number,
  radius: number,
  color: Rgb,
  gain: number,
): void {
  const r = Math.max(1, radius);
  const x0 = Math.max(0, Math.floor(cx - r));
  const x1 = Math.min(w - 1, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r));
  const y1 = Math.min(h - 1, Math.ceil(cy + r));
  const inv = 1 / (r * r);
  const cr = (color[0] / 255) * gain;
  const cg = (color[1] / 255) * gain;
  const cb = (color[2] / 255) * gain;
  for (let y = y0; y <= y1; y++) {
    const dy2 = (y - cy) * (y - cy);
    let p = (y * w + x0) * 3;
    for (let x = x0; x <= x1; x++, p += 3) {
      const d2 = ((x - cx) * (x - cx) + dy2) * inv;
      if (d2 >= 1) continue;
      const k = (1 - d2) * (1 - d2);
      acc[p]! += cr * k;
      acc[p + 1]! += cg * k;
      acc[p + 2]! += cb * k;
    }
  }
}

function addRing(
  acc: Float32Array,
  w: number,
  h: number,
  cx: number,
  cy: number,
  radius: number,
  thickness: number,
  color: Rgb,
  gain: number,
): void {
  const outer = radius + thickness;
  const x0 = Math.max(0, Math.floor(cx - outer));
  const x1 = Math.min(w - 1, Math.ceil(cx + outer));
  const y0 = Math.max(0, Math.floor(cy - outer));
  const y1 = Math.min(h - 1, Math.ceil(cy + outer));
  const inv = 1 / thickness;
  for (let y = y0; y <= y1; y++) {
    let p = (y * w + x0) * 3;
    for (let x = x0; x <= x1; x++, p += 3) {
      const u = (Math.hypot(x - cx, y - cy) - radius) * inv;
      if (u <= -1 || u >= 1) continue;
      const k = (1 - u * u) * (1 - u * u) * gain;
      acc[p]! += (color[0] / 255) * k;
      acc[p + 1]! += (color[1] / 255) * k;
      acc[p + 2]! += (color[2] / 255) * k;
    }
  }
}

function addRect(
  acc: Float32Array,
  w: number,
  h: number,
  left: number,
  top: number,
  right: number,
  bottom: number,
  color: Rgb,
  gain: number,
): void {
  const x0 = Math.max(0, Math.floor(left));
  const x1 = Math.min(w - 1, Math.ceil(right));
  const y0 = Math.max(0, Math.floor(top));
  const y1 = Math.min(h - 1, Math.ceil(bottom));
  for (let y = y0; y <= y1; y++) {
    const fade = 0.55 + 0.45 * ((y - top) / Math.max(1, bottom - top));
    let p = (y * w + x0) * 3;
    for (let x = x0; x <= x1; x++, p += 3) {
      const edge = Math.min(1, x - left + 0.5, right - x + 0.5);
      if (edge <= 0) continue;
      const k = edge * fade * gain;
      acc[p]! += (color[0] / 255) * k;
      acc[p + 1]! += (color[1] / 255) * k;
      acc[p + 2]! += (color[2] / 255) * k;
    }
  }
}

function addLine(
  acc: Float32Array,
  w: number,
  h: number,
  xa: number,
  ya: number,
  xb: number,
  yb: number,
  color: Rgb,
  gain: number,
): void {
  const steps = Math.max(1, Math.ceil(Math.hypot(xb - xa, yb - ya)));
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    const x = Math.round(xa + (xb - xa) * t);
    const y = Math.round(ya + (yb - ya) * t);
    if (x < 0 || y < 0 || x >= w || y >= h) continue;
    const p = (y * w + x) * 3;
    const k = gain * (0.3 + 0.7 * t);
    acc[p]! += (color[0] / 255) * k;
    acc[p + 1]! += (color[1] / 255) * k;
    acc[p + 2]! += (color[2] / 255) * k;
  }
}

function addWave(
  acc: Float32Array,
  w: number,
  h: number,
  centerY: number,
  amplitude: number,
  wavelength: number,
  shift: number,
  thickness: number,
  color: Rgb,
  gain: number,
): void {
  for (let x = 0; x < w; x++) {
    const yc = centerY + amplitude * Math.sin((x / wavelength) * Math.PI * 2 + shift);
    const y0 = Math.max(0, Math.floor(yc - thickness));
    const y1 = Math.min(h - 1, Math.ceil(yc + thickness));
    for (let y = y0; y <= y1; y++) {
      const u = (y - yc) / thickness;
      if (u <= -1 || u >= 1) continue;
      const k = (1 - u * u) * gain;
      const p = (y * w + x) * 3;
      acc[p]! += (color[0] / 255) * k;
      acc[p + 1]! += (color[1] / 255) * k;
      acc[p + 2]! += (color[2] / 255) * k;
    }
  }
}

/** Draws one frame as 8-bit RGB. */
export function drawFrame(scene: Scene, params: FrameParams): Uint8Array {
  const { width: w, height: h, phase } = params;
  const energy = Math.max(0, params.energy);
  const swell = 0.65 + 0.45 * energy;
  const unit = Math.min(w, h);
  const acc = new Float32Array(w * h * 3);

  const [top, bottom] = scene.look.background;
  for (let y = 0; y < h; y++) {
    const t = y / Math.max(1, h - 1);
    const band = 1 + 0.12 * Math.sin(t * 5 + phase * 0.35);
    const r = ((top[0] + (bottom[0] - top[0]) * t) / 255) * band;
    const g = ((top[1] + (bottom[1] - top[1]) * t) / 255) * band;
    const b = ((top[2] + (bottom[2] - top[2]) * t) / 255) * band;
    for (let x = 0, p = y * w * 3; x < w; x++, p += 3) {
      acc[p] = r;
      acc[p + 1] = g;
      acc[p + 2] = b;
    }
  }

  for (const form of scene.forms) {
    const px = form.x + form.ax * Math.sin(form.fx * phase + form.phase);
    const py = form.y + form.ay * Math.cos(form.fy * phase + form.phase * 1.3);
    switch (form.kind) {
      case 'orb':
        addOrb(acc, w, h, px * w, py * h, form.size * unit * swell, form.color, 0.85 * form.gain);
        break;
      case 'ring':
        addRing(
          acc,
          w,
          h,
          px * w,
          py * h,
          form.size * unit * swell,
          Math.max(1.5, unit * 0.012 * swell),
          form.color,
          0.9 * form.gain,
        );
        break;
      case 'bar': {
        const heightFrac = form.size * (0.55 + 0.45 * Math.abs(Math.sin(form.fx * phase + form.phase))) * swell;
        const half = (0.32 * w) / COUNTS.bar;
        addRect(
          acc,
          w,
          h,
          form.x * w - half,
          h * (1 - Math.min(0.95, heightFrac)),
          form.x * w + half,
          h - 1,
          form.color,
          0.55 * form.gain,
        );
        break;
      }
      case 'streak': {
        const fall = (((form.y + phase * 0.25 * form.fy) % 1) + 1) % 1;
        const length = unit * (0.03 + 0.05 * form.size) * swell;
        const x = (((form.x + 0.08 * fall) % 1) + 1) % 1;
        addLine(acc, w, h, x * w, fall * h, x * w + length * 0.25, fall * h + length, form.color, 0.75 * form.gain);
        break;
      }
      case 'wave':
        addWave(
          acc,
          w,
          h,
          py * h,
          form.ay * h * swell,
          w * (0.3 + form.size * 0.5),
          form.fx * phase * 2 + form.phase,
          Math.max(1.5, unit * 0.01 * swell),
          form.color,
          0.8 * form.gain,
        );
        break;
      case 'star': {
        const twinkle = 0.5 + 0.5 * Math.sin(form.fy * phase * 3 + form.phase);
        addOrb(
          acc,
          w,
          h,
          form.x * w,
          form.y * h,
          Math.max(1, unit * 0.006 * swell * (0.5 + twinkle)),
          form.color,
          (0.6 + 0.6 * twinkle) * form.gain,
        );
        break;
      }
    }
  }

  const out = new Uint8Array(w * h * 3);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const maxR2 = cx * cx + cy * cy;
  for (let y = 0; y < h; y++) {
    for (let x = 0, p = y * w * 3; x < w; x++, p += 3) {
      const vignette = 1 - 0.35 * (((x - cx) * (x - cx) + (y - cy) * (y - cy)) / maxR2);
      for (let c = 0; c < 3; c++) {
        const v = acc[p + c]! * vignette;
        out[p + c] = v >= 1 ? 255 : v <= 0 ? 0 : Math.round(v * 255);
      }
    }
  }
  return out;
}
