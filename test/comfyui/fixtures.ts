/** The real ComfyUI 0.8.0 transcripts every ComfyUI test is checked against. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `../shared/fixtures/comfyui-0.8.0` of the checkout (the project's shared folder sits beside it, or above a worktree). */
function findFixtures(): string {
  const override = process.env['BEATLOOM_COMFY_FIXTURES'];
  if (override) return override;
  let dir = fileURLToPath(new URL('../../', import.meta.url));
  for (let up = 0; up < 4; up++) {
    dir = dirname(dir);
    const candidate = join(dir, 'shared', 'fixtures', 'comfyui-0.8.0');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('ComfyUI fixtures not found: set BEATLOOM_COMFY_FIXTURES to the comfyui-0.8.0 fixtures folder');
}

export const FIXTURES_DIR = findFixtures();

const cache = new Map<string, unknown>();

/** Parsed JSON of a fixture file (cached: object_info is a megabyte). Callers must not mutate it. */
export function fixtureJson<T>(name: string): T {
  let value = cache.get(name);
  if (value === undefined) {
    value = JSON.parse(readFileSync(join(FIXTURES_DIR, name), 'utf8'));
    cache.set(name, value);
  }
  return value as T;
}

/** A WebSocket transcript: one message (or binary frame, or close) per line, with `t` in seconds. */
export function fixtureTranscript(name: string): Array<{ t: number; msg?: { type: string; data: unknown }; binary?: boolean; closed?: string; sent?: unknown }> {
  return readFileSync(join(FIXTURES_DIR, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { t: number });
}
