/**
 * Easing curves on 0..1 (the names and formulas of easings.net), so a signal can snap in and
 * glide out, or swell slowly and arrive late. Every curve maps 0 → 0 and 1 → 1 and stays in 0..1.
 */
import type { Easing } from '../config/mapping-schema.js';

const { PI, cos, sin, pow } = Math;

export const EASING_FUNCTIONS: Readonly<Record<Easing, (x: number) => number>> = {
  linear: (x) => x,
  easeInSine: (x) => 1 - cos((x * PI) / 2),
  easeOutSine: (x) => sin((x * PI) / 2),
  easeInOutSine: (x) => -(cos(PI * x) - 1) / 2,
  easeInQuad: (x) => x * x,
  easeOutQuad: (x) => 1 - (1 - x) * (1 - x),
  easeInOutQuad: (x) => (x < 0.5 ? 2 * x * x : 1 - pow(-2 * x + 2, 2) / 2),
  easeInCubic: (x) => x * x * x,
  easeOutCubic: (x) => 1 - pow(1 - x, 3),
  easeInOutCubic: (x) => (x < 0.5 ? 4 * x * x * x : 1 - pow(-2 * x + 2, 3) / 2),
  easeInQuart: (x) => x * x * x * x,
  easeOutQuart: (x) => 1 - pow(1 - x, 4),
  easeInOutQuart: (x) => (x < 0.5 ? 8 * x * x * x * x : 1 - pow(-2 * x + 2, 4) / 2),
  easeInExpo: (x) => (x === 0 ? 0 : pow(2, 10 * x - 10)),
  easeOutExpo: (x) => (x === 1 ? 1 : 1 - pow(2, -10 * x)),
  easeInOutExpo: (x) =>
    x === 0 ? 0 : x === 1 ? 1 : x < 0.5 ? pow(2, 20 * x - 10) / 2 : (2 - pow(2, -20 * x + 10)) / 2,
  smoothstep: (x) => x * x * (3 - 2 * x),
  smootherstep: (x) => x * x * x * (x * (6 * x - 15) + 10),
};

/** The eased value of x, with x clamped to 0..1 first. */
export function ease(curve: Easing, x: number): number {
  return EASING_FUNCTIONS[curve](Math.min(1, Math.max(0, x)));
}
