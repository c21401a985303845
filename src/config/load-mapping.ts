/**
 * Reads a mapping file. Every problem is one line that names the file, line and column, the key
 * path, what is wrong and what is allowed, with an error code per kind of problem (exit code 2).
 */
import { readFile, stat } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { BeatloomError, usageError } from '../shared/errors.js';
import { MAPPING_VERSION, MAX_SCHEDULE_ENTRIES, mappingSchema, type Mapping } from './mapping-schema.js';
import { DURATION_HELP, TIME_HELP } from './units.js';
import { formatKeyPath, yamlNodeFor } from './yaml-file.js';
import type { ErrorCode } from '../shared/error-codes.js';

type Issue = z.core.$ZodIssue;
type Path = ReadonlyArray<PropertyKey>;

const EXAMPLE_HINT = 'see mappings/README.md and mappings/default.yaml';

/** Error codes, one per kind of problem. */
export const MAPPING_ERROR_CODES = {
  missing: 'E_MAPPING_MISSING',
  unreadable: 'E_MAPPING_UNREADABLE',
  notText: 'E_MAPPING_NOT_TEXT',
  empty: 'E_MAPPING_EMPTY',
  syntax: 'E_MAPPING_YAML',
  tab: 'E_MAPPING_YAML_TAB',
  unclosed: 'E_MAPPING_YAML_UNCLOSED',
  duplicateKey: 'E_MAPPING_DUPLICATE_KEY',
  multipleDocs: 'E_MAPPING_MULTIPLE_DOCUMENTS',
  alias: 'E_MAPPING_YAML_ALIAS',
  notAMap: 'E_MAPPING_NOT_A_MAP',
  noVersion: 'E_MAPPING_NO_VERSION',
  oldVersion: 'E_MAPPING_OLD_VERSION',
  badVersion: 'E_MAPPING_BAD_VERSION',
  unknownKey: 'E_MAPPING_UNKNOWN_KEY',
  missingKey: 'E_MAPPING_MISSING_KEY',
  type: 'E_MAPPING_TYPE',
  value: 'E_MAPPING_VALUE',
  range: 'E_MAPPING_RANGE',
  duration: 'E_MAPPING_DURATION',
  time: 'E_MAPPING_TIME',
  reference: 'E_MAPPING_REFERENCE',
  rule: 'E_MAPPING_RULE',
  tooLarge: 'E_MAPPING_TOO_LARGE',
} as const;

/** Edit distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function closestWord(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** The keys an object in the schema accepts at `path` (through defaults, pipes, records, arrays). */
function allowedKeysAt(path: Path): string[] {
  let schema = mappingSchema as unknown as z.core.$ZodType;
  const unwrap = (): void => {
    for (;;) {
      const def = schema._zod.def as unknown as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional') && def.innerType)
        schema = def.innerType;
      else if (def.type === 'pipe' && def.in) schema = def.in;
      else return;
    }
  };
  unwrap();
  for (const key of path) {
    const def = schema._zod.def as unknown as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      valueType?: z.core.$ZodType;
      element?: z.core.$ZodType;
    };
    const next =
      def.type === 'object'
        ? def.shape?.[String(key)]
        : def.type === 'record'
          ? def.valueType
          : def.type === 'array'
            ? def.element
            : undefined;
    if (!next) return [];
    schema = next;
    unwrap();
  }
  const def = schema._zod.def as unknown as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function describeInput(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `the text ${JSON.stringify(value)}`;
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `${value}`;
    case 'object':
      return 'a block of keys';
    default:
      // Only null, undefined, bigint and symbol are left here: they print as themselves.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      return String(value);
  }
}

const EXPECTED: Readonly<Record<string, string>> = {
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  object: 'a block of keys',
  array: 'a list',
  tuple: 'a list',
  record: 'a block of keys',
};

function describeIssue(issue: Issue): { code: ErrorCode; text: string } {
  const C = MAPPING_ERROR_CODES;
  const got = `, got ${describeInput((issue as { input?: unknown }).input)}`;
  if (issue.message.includes(DURATION_HELP)) return { code: C.duration, text: `expected ${DURATION_HELP}${got}` };
  if (issue.message.includes(TIME_HELP)) return { code: C.time, text: `expected ${TIME_HELP}${got}` };
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeysAt(issue.path);
      const key = issue.keys[0]!;
      const suggestion = closestWord(key, allowed);
      const more =
        issue.keys.length > 1
          ? ` (also ${issue.keys
              .slice(1)
              .map((k) => `'${k}'`)
              .join(', ')})`
          : '';
      return {
        code: C.unknownKey,
        text: `unknown key '${key}'${more}${suggestion ? ` — did you mean '${suggestion}'?` : ''}; allowed: ${allowed.join(', ')}`,
      };
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      const input = (issue as { input?: unknown }).input;
      const suggestion = typeof input === 'string' ? closestWord(input, issue.values.map(String)) : undefined;
      const got = input === undefined ? '' : `, got ${describeInput(input)}`;
      return {
        code: C.value,
        text: `must be ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(', ')}`}${got}${suggestion ? ` — did you mean '${suggestion}'?` : ''}`,
      };
    }
    case 'invalid_type': {
      const input = (issue as { input?: unknown }).input;
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (input === undefined) return { code: C.missingKey, text: `missing: give ${expected}` };
      return { code: C.type, text: `expected ${expected}, got ${describeInput(input)}` };
    }
    case 'too_small':
    case 'too_big': {
      const input = (issue as { input?: unknown }).input;
      const small = issue.code === 'too_small';
      const bound = small ? issue.minimum : issue.maximum;
      if (issue.origin === 'array')
        return {
          code: C.range,
          text: `needs ${small ? 'at least' : 'at most'} ${bound} item${Number(bound) === 1 ? '' : 's'}`,
        };
      if (issue.origin === 'string')
        return { code: C.range, text: small ? 'must not be empty' : `must be at most ${bound} characters` };
      const op = small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
      return { code: C.range, text: `must be ${op} ${bound}${typeof input === 'number' ? `, got ${input}` : ''}` };
    }
    case 'invalid_key': {
      const name = String(issue.path[issue.path.length - 1]);
      return { code: C.rule, text: `the name '${name}' is not allowed: ${issue.issues[0]?.message ?? issue.message}` };
    }
    case 'not_multiple_of':
      return { code: C.range, text: `must be a multiple of ${issue.divisor}` };
    case 'invalid_union':
      return { code: C.type, text: issue.message };
    case 'custom': {
      const params = (issue.params ?? {}) as { reference?: boolean; missing?: boolean };
      return { code: params.reference ? C.reference : params.missing ? C.missingKey : C.rule, text: issue.message };
    }
    default:
      return { code: C.rule, text: issue.message };
  }
}

interface Position {
  readonly line: number;
  readonly col: number;
  readonly offset: number;
}

function positionOf(node: Node | undefined, lineCounter: LineCounter): Position {
  const offset = node?.range ? node.range[0] : 0;
  const { line, col } = lineCounter.linePos(offset);
  return { line, col, offset };
}

function yamlError(
  fileName: string,
  code: ErrorCode,
  pos: { line: number; col: number },
  message: string,
  hint: string,
): BeatloomError {
  return usageError(code, `${fileName}:${pos.line}:${pos.col}: ${message}`, hint);
}

/** The offset of the last quote or bracket before `end` that opens a value (after ':', '-', '[', ',' or at a line start). */
function openerBefore(text: string, end: number): number {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (!'"\'[{'.includes(text[i]!)) continue;
    const before = text.slice(0, i).replace(/[ \t]+$/, '');
    if (before === '' || /[:\-[,{\n]$/.test(before)) return i;
  }
  return end;
}

/** A YAML syntax problem, with a specific message for the common kinds. */
function syntaxError(
  text: string,
  fileName: string,
  lineCounter: LineCounter,
  error: { code: string; message: string; pos: [number, number] },
): BeatloomError {
  const C = MAPPING_ERROR_CODES;
  const pos = lineCounter.linePos(error.pos[0]);
  const detail = error.message.split('\n')[0]!.replace(/\s+at line \d+, column \d+.*$/, '');
  switch (error.code) {
    case 'TAB_AS_INDENT':
      return yamlError(
        fileName,
        C.tab,
        pos,
        'a tab is used for indentation; YAML indents with spaces',
        'replace the tab with spaces',
      );
    case 'DUPLICATE_KEY': {
      const key = text.slice(error.pos[0]).split(/[:\n]/)[0]!.trim();
      return yamlError(
        fileName,
        C.duplicateKey,
        pos,
        `the key '${key}' appears twice in the same block`,
        'keep one of them',
      );
    }
    case 'MISSING_CHAR':
      // YAML reports the end of the file; point at the quote or bracket that was left open.
      return yamlError(
        fileName,
        C.unclosed,
        lineCounter.linePos(openerBefore(text, error.pos[0])),
        `unclosed quote or bracket: ${detail}`,
        'close it on the same value',
      );
    case 'MULTIPLE_DOCS':
      return yamlError(
        fileName,
        C.multipleDocs,
        pos,
        "the file holds more than one YAML document (a second '---')",
        'a mapping is one document: remove the extra --- and what follows, or merge them',
      );
    case 'BAD_SCALAR_START':
      return yamlError(fileName, C.syntax, pos, `invalid YAML: ${detail}`, 'put the value in quotes');
    default:
      return yamlError(
        fileName,
        C.syntax,
        pos,
        `invalid YAML (${error.code.toLowerCase().replaceAll('_', ' ')}): ${detail}`,
        'check the indentation and punctuation at that position',
      );
  }
}

function checkVersion(doc: Document, fileName: string, lineCounter: LineCounter): void {
  const C = MAPPING_ERROR_CODES;
  const root = doc.contents;
  if (!isMap(root)) return;
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === 'version');
  if (!pair) {
    // A typo of 'version' ('verison:', 'Version:') is named, not reported as missing.
    const typo = root.items.find(
      (p) => isScalar(p.key) && typeof p.key.value === 'string' && closestWord(p.key.value, ['version']) === 'version',
    );
    if (typo) {
      const key = String((typo.key as { value: unknown }).value);
      throw yamlError(
        fileName,
        C.unknownKey,
        positionOf(typo.key as Node, lineCounter),
        `unknown key '${key}' — did you mean 'version'?`,
        `spell it 'version: ${MAPPING_VERSION}'`,
      );
    }
    throw yamlError(
      fileName,
      C.noVersion,
      positionOf(root, lineCounter),
      `missing 'version': this beatloom reads version ${MAPPING_VERSION}`,
      `add 'version: ${MAPPING_VERSION}' as the first key`,
    );
  }
  const value = isScalar(pair.value) ? pair.value.value : undefined;
  const pos = positionOf((pair.value ?? pair.key) as Node, lineCounter);
  if (value === MAPPING_VERSION) return;
  if (value === 1) {
    throw yamlError(
      fileName,
      C.oldVersion,
      pos,
      `version: 1 mappings are no longer read (this beatloom reads version ${MAPPING_VERSION}): in version 2 attack and release are linear times to the peak and back to 0, ` +
        "target 'add' is a map { signal: amount }, 'from: onset' is 'from: onsetStrength', and 'seed' has sections / every / onsets",
      'follow "Migrating from version 1" in mappings/README.md, then set version: 2',
    );
  }
  throw yamlError(
    fileName,
    C.badVersion,
    pos,
    `version: ${JSON.stringify(value ?? null)} is not a mapping version this beatloom reads (it reads ${MAPPING_VERSION})`,
    typeof value === 'number' && value > MAPPING_VERSION
      ? 'upgrade beatloom to read newer mappings'
      : `set version: ${MAPPING_VERSION}`,
  );
}

/** Parses and validates mapping YAML; every problem names the file, line, column and key path. */
export function parseMapping(text: string, fileName: string): Mapping {
  const C = MAPPING_ERROR_CODES;
  if (text.includes('\u0000') || text.includes('\uFFFD')) {
    throw usageError(
      C.notText,
      `${fileName}: not a text file`,
      'give --mapping a YAML mapping, e.g. mappings/default.yaml',
    );
  }
  const lineCounter = new LineCounter();
  // merge: `<<: *anchor` lets a mapping share settings between signals.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw syntaxError(text, fileName, lineCounter, problem);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw usageError(
      C.empty,
      `${fileName}: the mapping is empty`,
      `start from mappings/default.yaml (a mapping needs at least version: ${MAPPING_VERSION} and targets)`,
    );
  }
  if (!isMap(doc.contents)) {
    const what = isSeq(doc.contents)
      ? 'a list'
      : `a single value (${JSON.stringify(String((doc.contents as { value?: string | number | boolean | null }).value ?? ''))})`;
    throw yamlError(
      fileName,
      C.notAMap,
      positionOf(doc.contents, lineCounter),
      `the mapping must be a block of keys (version:, signals:, targets: …), not ${what}`,
      EXAMPLE_HINT,
    );
  }
  checkVersion(doc, fileName, lineCounter);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const message = (error as Error).message;
    const alias = /Unresolved alias[^:]*: \*?(\S+)/.exec(message);
    const at = alias ? text.indexOf(`*${alias[1]!.replace(/^\*/, '')}`) : -1;
    const pos = lineCounter.linePos(Math.max(0, at));
    throw yamlError(
      fileName,
      C.alias,
      pos,
      `YAML alias problem: ${message.split('\n')[0]}`,
      'define the anchor (&name) before its alias (*name), or write the value out',
    );
  }
  const result = mappingSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  // Rules across fields assume each field is valid on its own: report a field's own problem first,
  // then whatever comes first in the file.
  const isRule = (issue: Issue): boolean =>
    issue.code === 'custom' && Boolean((issue.params as { rule?: boolean } | undefined)?.rule);
  const located = result.error.issues
    .map((issue) => ({ issue, rule: isRule(issue), pos: positionOf(yamlNodeFor(doc, issue, true), lineCounter) }))
    .sort((a, b) => Number(a.rule) - Number(b.rule) || a.pos.offset - b.pos.offset);
  const { issue, pos } = located[0]!;
  const { code, text: what } = describeIssue(issue);
  const keyPath = formatKeyPath(issue.path);
  const more = located.length > 1 ? ` (and ${located.length - 1} more problem${located.length > 2 ? 's' : ''})` : '';
  throw yamlError(fileName, code, pos, `${keyPath ? `${keyPath}: ` : ''}${what}${more}`, EXAMPLE_HINT);
}

/** A mapping is a few kB; past this it is not one a person wrote (and YAML parsing it would take minutes). */
export const MAX_MAPPING_BYTES = 16 * 1024 * 1024;

export async function loadMapping(path: string): Promise<Mapping> {
  const C = MAPPING_ERROR_CODES;
  let text: string;
  try {
    // Not a plain file (a fifo, a device) would block or never end: refused before reading.
    const info = await stat(path);
    if (!info.isFile() && !info.isDirectory())
      throw usageError(
        C.unreadable,
        `cannot read the mapping ${path}: it is not a regular file`,
        'give --mapping a YAML file',
      );
    if (info.size > MAX_MAPPING_BYTES)
      throw usageError(
        C.tooLarge,
        `the mapping ${path} is ${Math.round(info.size / (1024 * 1024))} MB: a mapping is at most ${MAX_MAPPING_BYTES / (1024 * 1024)} MB`,
        `keep prompts.schedule to at most ${MAX_SCHEDULE_ENTRIES} entries`,
      );
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof BeatloomError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw usageError(
        C.missing,
        `mapping not found: ${path}`,
        'give --mapping the path of a YAML mapping, e.g. mappings/default.yaml',
      );
    const why =
      code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw usageError(
      C.unreadable,
      `cannot read the mapping ${path}: ${why}`,
      'give --mapping the path of a YAML mapping file',
    );
  }
  // Counted before parsing, which is the slow part: a schedule past the limit is refused in milliseconds.
  const items = text.match(/^[ \t]*- /gm)?.length ?? 0;
  if (items > MAX_SCHEDULE_ENTRIES + 1000)
    throw usageError(
      C.tooLarge,
      `the mapping ${path} has ${items} list entries: prompts.schedule takes at most ${MAX_SCHEDULE_ENTRIES}`,
      'use fewer schedule entries (a section entry covers every section with that label)',
    );
  return parseMapping(text, path);
}
