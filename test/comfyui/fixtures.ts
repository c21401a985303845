/** The real ComfyUI 0.8.0 transcripts every ComfyUI test is checked against. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's own copy of the transcripts (see its README for where they came from). */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/comfyui-0.8.0/', import.meta.url));

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
export function fixtureTranscript(
  name: string,
): Array<{ t: number; msg?: { type: string; data: unknown }; binary?: boolean; closed?: string; sent?: unknown }> {
  return readFileSync(join(FIXTURES_DIR, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { t: number });
}
