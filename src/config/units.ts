/**
 * Lengths in the units musicians use: seconds (`0.25s`, `120ms`), frames (`2f`, `2 frames`),
 * beats (`0.5b`, `1 beat`) and bars (`1 bar`, `2 bars`). A plain number is seconds.
 */
import { z } from 'zod';

export type TimeUnit = 'sec' | 'frames' | 'beats' | 'bars';

export interface MusicalDuration {
  readonly value: number;
  readonly unit: TimeUnit;
}

const UNIT_WORDS: Readonly<Record<string, TimeUnit>> = {
  s: 'sec', sec: 'sec', secs: 'sec', second: 'sec', seconds: 'sec',
  ms: 'sec',
  f: 'frames', frame: 'frames', frames: 'frames',
  b: 'beats', beat: 'beats', beats: 'beats',
  bar: 'bars', bars: 'bars',
};

const PATTERN = /^\s*(-?\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

export const DURATION_HELP = "a number of seconds, or a string like '120ms', '0.5s', '2 frames', '1 beat', '2 bars'";

export function parseDuration(text: string | number): MusicalDuration | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? { value: text, unit: 'sec' } : undefined;
  const match = PATTERN.exec(text);
  if (!match) return undefined;
  const word = match[2]!.toLowerCase();
  const unit = UNIT_WORDS[word];
  if (unit === undefined) return undefined;
  const value = Number(match[1]);
  return { value: word === 'ms' ? value / 1000 : value, unit };
}

/** A zod schema for a non-negative duration; the parsed value is a MusicalDuration. */
export const durationSchema = z
  .union([z.number(), z.string()])
  .transform((input, ctx): MusicalDuration => {
    const parsed = parseDuration(input);
    if (parsed === undefined || parsed.value < 0) {
      ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(input)}: expected ${DURATION_HELP}` });
      return z.NEVER;
    }
    return parsed;
  });

export interface TimeContext {
  /** Frames per second as a number (for frame units). */
  readonly fps: number;
  /** Seconds per beat where the duration applies (the local tempo). */
  readonly secPerBeat: number;
  readonly beatsPerBar: number;
}

export function durationToSec(duration: MusicalDuration, context: TimeContext): number {
  switch (duration.unit) {
    case 'sec':
      return duration.value;
    case 'frames':
      return duration.value / context.fps;
    case 'beats':
      return duration.value * context.secPerBeat;
    case 'bars':
      return duration.value * context.secPerBeat * context.beatsPerBar;
  }
}
