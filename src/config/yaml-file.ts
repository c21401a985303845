/**
 * YAML text → a zod-validated value, where every problem names the file, line, column and key
 * path, so a user can jump straight to it. Shared by every YAML file beatloom reads.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { usageError } from '../shared/errors.js';
import type { ErrorCode } from '../shared/error-codes.js';

type Issue = z.core.$ZodIssue;

export interface YamlErrorCodes {
  /** Code for a YAML syntax error. */
  readonly syntax: ErrorCode;
  /** Code for a value the schema rejects. */
  readonly invalid: ErrorCode;
  /** What to do about a rejected value. */
  readonly hint: string;
}

/** `a.b[2].c`: the key path of a value, as errors print it. */
export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

/**
 * The YAML node a zod issue points at, for its line:col: an unknown or invalid key itself, else the
 * node at the issue's path or the nearest parent that exists. With `keyOfCollections` (mappings: a
 * wrong `range: [1, 0]` or block of keys is reported at its key, where the author reads it) a map or
 * list value is reported at its key instead.
 */
export function yamlNodeFor(doc: Document, issue: Issue, keyOfCollections = false): Node | undefined {
  const path = issue.path as Array<string | number>;
  let depth = path.length;
  let node = (depth ? doc.getIn(path, true) : doc.contents) as Node | undefined;
  while ((node === undefined || node === null) && depth > 0) {
    depth--;
    node = (depth ? doc.getIn(path.slice(0, depth), true) : doc.contents) as Node | undefined;
  }
  if (
    keyOfCollections &&
    depth === path.length &&
    path.length > 0 &&
    issue.code !== 'unrecognized_keys' &&
    issue.code !== 'invalid_key'
  ) {
    const parent = (path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents) as Node | undefined;
    if (isMap(parent) && (isMap(node) || isSeq(node))) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[path.length - 1]));
      if (pair && isScalar(pair.key)) return pair.key;
    }
  }
  if (issue.code === 'invalid_key' && depth === path.length && path.length > 0) {
    const parent = (path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents) as Node | undefined;
    const pair = isMap(parent)
      ? parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[path.length - 1]))
      : undefined;
    if (pair && isScalar(pair.key)) return pair.key;
  }
  if (issue.code === 'unrecognized_keys' && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && issue.keys.includes(String(p.key.value)));
    if (pair && isScalar(pair.key)) return pair.key;
  }
  return node ?? undefined;
}

function describeIssue(issue: Issue, missing: boolean): string {
  if (missing && issue.code !== 'unrecognized_keys') return 'missing';
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return issue.message.includes('received undefined')
        ? `missing (expected ${issue.expected})`
        : issue.message.replace(/^Invalid input: /, '');
    default:
      return issue.message;
  }
}

/** Parses YAML (JSON is YAML too) and validates it; throws one usage error that points at the first problem. */
export function parseYamlWithSchema<T>(text: string, fileName: string, schema: z.ZodType<T>, codes: YamlErrorCodes): T {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = lineCounter.linePos(yamlError.pos[0]);
    throw usageError(
      codes.syntax,
      `${fileName}:${pos.line}:${pos.col}: invalid YAML: ${yamlError.message.split('\n')[0]}`,
      'fix the YAML syntax at that position',
    );
  }
  const result = schema.safeParse(doc.toJS());
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const node = yamlNodeFor(doc, issue);
  const missing = issue.path.length > 0 && doc.getIn(issue.path as Array<string | number>) === undefined;
  const pos = node?.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 };
  const keyPath = formatKeyPath(issue.path);
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
  throw usageError(
    codes.invalid,
    `${fileName}:${pos.line}:${pos.col}: ${keyPath ? `${keyPath}: ` : ''}${describeIssue(issue, missing)}${more}`,
    codes.hint,
  );
}
