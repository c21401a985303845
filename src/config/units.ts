/**
 * Lengths and positions in the units musicians use. Lengths: seconds (`0.25s`, `120ms`), frames
 * (`2f`, `2 frames`), beats (`0.5b`, `1 beat`) and bars (`1 bar`, `2 bars`); a plain number is
 * seconds. Beats and bars follow the song's own beats (see keyframes/beat-grid.ts): "1 beat" is as
 * long as the beat it starts on, so a length in beats stretches and shrinks with the tempo.
 * Positions in time: seconds (`83.5`, `'83.5s'`) or minutes and seconds (`'1:23.5'`).
 */
import { z } from 'zod';

export type TimeUnit = 'sec' | 'frames' | 'beats' | 'bars';

export interface MusicalDuration {
  readonly value: number;
  readonly unit: TimeUnit;
}

const UNIT_WORDS: Readonly<Record<string, TimeUnit>> = {
  s: 'sec',
  sec: 'sec',
  secs: 'sec',
  second: 'sec',
  seconds: 'sec',
  ms: 'sec',
  f: 'frames',
  frame: 'frames',
  frames: 'frames',
  b: 'beats',
  beat: 'beats',
  beats: 'beats',
  bar: 'bars',
  bars: 'bars',
};

const PATTERN = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(s|ms|secs?|seconds?|f|frames?|b|beats?|bars?)\s*$/;

export const DURATION_HELP = "a number of seconds, or a string like '120ms', '0.5s', '2 frames', '1 beat', '2 bars'";

/** Parses a non-negative length; undefined when the text is not one. */
export function parseDuration(text: string | number): MusicalDuration | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? { value: text, unit: 'sec' } : undefined;
  const match = PATTERN.exec(text);
  if (!match) return undefined;
  const word = match[2]!;
  const unit = UNIT_WORDS[word]!;
  const value = Number(match[1]);
  return { value: word === 'ms' ? value / 1000 : value, unit };
}

/** A zod schema for a non-negative length; the parsed value is a MusicalDuration. */
export const durationSchema = z
  .union(
    [
      z.number().min(0, { error: () => `expected ${DURATION_HELP}` }),
      z.string().regex(PATTERN, { error: () => `expected ${DURATION_HELP}` }),
    ],
    {
      error: () => `expected ${DURATION_HELP}`,
    },
  )
  .transform((input): MusicalDuration => parseDuration(input)!)
  .meta({ description: `A length: ${DURATION_HELP}. Beats and bars follow the song's own beats.` });

const TIME_PATTERN = /^\s*(?:(\d+):)?(\d+(?:\.\d+)?)\s*(s)?\s*$/;

export const TIME_HELP = "seconds (83.5 or '83.5s') or minutes:seconds ('1:23.5')";

export function parseTimePosition(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const match = TIME_PATTERN.exec(input);
  if (!match) return undefined;
  if (match[1] !== undefined && match[3] !== undefined) return undefined;
  const seconds = Number(match[2]);
  if (match[1] !== undefined && seconds >= 60) return undefined;
  return Number(match[1] ?? 0) * 60 + seconds;
}

/** A point in the song, in seconds from its start. */
export const timePositionSchema = z
  .union(
    [
      z.number().min(0, { error: () => `expected ${TIME_HELP}` }),
      z.string().regex(TIME_PATTERN, { error: () => `expected ${TIME_HELP}` }),
    ],
    {
      error: () => `expected ${TIME_HELP}`,
    },
  )
  .transform((input, ctx): number => {
    const sec = parseTimePosition(input);
    if (sec === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid time ${JSON.stringify(input)}: expected ${TIME_HELP}` });
      return z.NEVER;
    }
    return sec;
  })
  .meta({ description: `A time in the song: ${TIME_HELP}.` });
