/**
 * What the preview draws, decided from the prompt and the seed: a palette from the colour words
 * of the prompt, kinds of forms from its subject words, and a layout from the seed. Words it does
 * not know still count: they choose hues by hash, so every prompt gets its own look.
 */
import { createHash } from 'node:crypto';

export type FormKind = 'orb' | 'ring' | 'bar' | 'streak' | 'wave' | 'star';
export type Rgb = readonly [number, number, number];

const HUE_WORDS: Readonly<Record<string, readonly number[]>> = {
  neon: [300, 185],
  city: [220, 35],
  rain: [205, 195],
  fire: [12, 38],
  flame: [12, 38],
  lava: [5, 30],
  sunset: [22, 285, 340],
  sunrise: [35, 200],
  ocean: [192, 172],
  sea: [195, 175],
  water: [190, 205],
  forest: [120, 85],
  jungle: [110, 60],
  night: [235, 265],
  gold: [45, 30],
  golden: [45, 30],
  ice: [195, 210],
  snow: [200, 220],
  winter: [205, 225],
  desert: [35, 22],
  sand: [40, 28],
  space: [268, 228],
  galaxy: [275, 320],
  cosmic: [280, 200],
  stars: [240, 55],
  love: [335, 355],
  rose: [345, 320],
  pink: [330, 300],
  storm: [215, 55],
  thunder: [220, 55],
  retro: [305, 195, 30],
  synthwave: [305, 195, 30],
  dream: [280, 200],
  blue: [220],
  red: [0],
  green: [130],
  purple: [280],
  orange: [28],
  yellow: [55],
  cyan: [185],
  magenta: [305],
  teal: [175],
  violet: [270],
};

const FORM_WORDS: Readonly<Record<string, FormKind>> = {
  city: 'bar',
  skyline: 'bar',
  building: 'bar',
  buildings: 'bar',
  tower: 'bar',
  towers: 'bar',
  rain: 'streak',
  storm: 'streak',
  drizzle: 'streak',
  ocean: 'wave',
  sea: 'wave',
  water: 'wave',
  wave: 'wave',
  waves: 'wave',
  river: 'wave',
  space: 'star',
  star: 'star',
  stars: 'star',
  galaxy: 'star',
  night: 'star',
  cosmic: 'star',
  portal: 'ring',
  ring: 'ring',
  rings: 'ring',
  eye: 'ring',
  circle: 'ring',
  tunnel: 'ring',
  orb: 'orb',
  bubbles: 'orb',
  lights: 'orb',
};

const DARK_WORDS = new Set(['night', 'dark', 'noir', 'space', 'neon', 'midnight', 'shadow', 'cyberpunk', 'storm']);
const PALE_WORDS = new Set(['snow', 'ice', 'winter', 'pastel', 'cloud', 'clouds', 'fog', 'mist', 'dream']);

export interface Look {
  readonly background: readonly [Rgb, Rgb];
  readonly colors: readonly Rgb[];
  readonly kinds: readonly FormKind[];
  /** How strongly each of `kinds` is drawn (0–1, same order): a blend fades one prompt's forms into another's. */
  readonly kindWeights: readonly number[];
}

function words(prompt: string): string[] {
  return prompt.toLowerCase().match(/[a-z]+/g) ?? [];
}

/** A deterministic number in [0, 1) from any string. */
export function hashUnit(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}

export function hsl(hueDeg: number, saturation: number, lightness: number): Rgb {
  const h = (((hueDeg % 360) + 360) % 360) / 360;
  const q = lightness < 0.5 ? lightness * (1 + saturation) : lightness + saturation - lightness * saturation;
  const p = 2 * lightness - q;
  const channel = (t: number): number => {
    const u = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    const v = u < 1 / 6 ? p + (q - p) * 6 * u : u < 1 / 2 ? q : u < 2 / 3 ? p + (q - p) * (2 / 3 - u) * 6 : p;
    return Math.round(v * 255);
  };
  return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)];
}

export function lookFromPrompt(prompt: string): Look {
  const ws = words(prompt);
  const hues: number[] = [];
  const kinds: FormKind[] = [];
  for (const w of ws) {
    for (const hue of HUE_WORDS[w] ?? []) if (!hues.includes(hue)) hues.push(hue);
    const kind = FORM_WORDS[w];
    if (kind && !kinds.includes(kind)) kinds.push(kind);
  }
  // Words we have no entry for still shape the look: each contributes a hue by hash.
  for (const w of ws)
    if (hues.length < 3 && !(w in HUE_WORDS) && w.length > 3) hues.push(Math.floor(hashUnit(w) * 360));
  if (hues.length === 0) hues.push(Math.floor(hashUnit(prompt) * 360));
  while (hues.length < 3) hues.push((hues[0]! + 40 * hues.length + 160) % 360);
  if (kinds.length === 0) kinds.push('orb');
  if (!kinds.includes('orb')) kinds.push('orb');

  const dark = ws.some((w) => DARK_WORDS.has(w));
  const pale = ws.some((w) => PALE_WORDS.has(w));
  const bgLight = dark ? 0.06 : pale ? 0.72 : 0.16;
  const background: [Rgb, Rgb] = [hsl(hues[1]!, 0.55, bgLight), hsl(hues[0]!, 0.6, bgLight * (pale ? 0.8 : 2.2))];
  const colors = hues.slice(0, 4).map((hue, i) => hsl(hue, dark ? 0.95 : 0.75, pale ? 0.45 : 0.55 + 0.05 * i));
  const chosen = kinds.slice(0, 3);
  return { background, colors, kinds: chosen, kindWeights: chosen.map(() => 1) };
}

function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

/**
 * The look of a prompt blend: background and palette mixed by weight, so a segment halfway
 * through a blend is visibly between the two prompts; each prompt's kinds of forms are drawn
 * as strongly as the prompt weighs (the strongest prompt's first).
 */
export function blendLooks(parts: ReadonlyArray<{ readonly prompt: string; readonly weight: number }>): Look {
  const [first, ...rest] = parts;
  if (!first) throw new RangeError('blendLooks needs at least one prompt');
  let look = lookFromPrompt(first.prompt);
  let total = first.weight;
  const kindWeights = new Map<FormKind, number>(look.kinds.map((kind) => [kind, first.weight]));
  for (const part of rest) {
    if (part.weight <= 0) continue;
    const other = lookFromPrompt(part.prompt);
    total += part.weight;
    const t = part.weight / total;
    for (const kind of other.kinds) kindWeights.set(kind, (kindWeights.get(kind) ?? 0) + part.weight);
    look = {
      background: [
        mixRgb(look.background[0], other.background[0], t),
        mixRgb(look.background[1], other.background[1], t),
      ],
      colors: look.colors.map((c, i) => mixRgb(c, other.colors[i % other.colors.length]!, t)),
      kinds: look.kinds,
      kindWeights: look.kindWeights,
    };
  }
  const kinds = [...kindWeights.keys()];
  return {
    ...look,
    kinds,
    kindWeights: kinds.map((kind) => (total > 0 ? Math.min(1, kindWeights.get(kind)! / total) : 1)),
  };
}
