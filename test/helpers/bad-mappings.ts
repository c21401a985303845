/**
 * One mapping file per kind of mistake, with the error code and the exact message it must give
 * (`FILE` stands for the file's path). Shared by the unit tests and the CLI tests.
 */
export const VALID_MAPPING = `version: 2
signals:
  kick:
    from: low
    release: 180ms
targets:
  motionScale:
    base: 0.5
    add: { kick: 0.5 }
    range: [0.5, 1.5]
  denoise:
    base: 0.4
`;

export interface BadMapping {
  readonly name: string;
  /** The file's text, or how to make a file that cannot be read as one. */
  readonly text: string | { readonly special: 'missing' | 'folder' | 'binary' };
  readonly code: string;
  readonly message: string;
}

const V = VALID_MAPPING;
const REPLACE = (from: string, to: string): string => {
  if (!V.includes(from)) throw new Error(`fixture: '${from}' is not in the valid mapping`);
  return V.replace(from, to);
};

export const BAD_MAPPINGS: readonly BadMapping[] = [
  {
    name: 'a missing file',
    text: { special: 'missing' },
    code: 'E_MAPPING_MISSING',
    message: 'mapping not found: FILE',
  },
  {
    name: 'a folder',
    text: { special: 'folder' },
    code: 'E_MAPPING_UNREADABLE',
    message: 'cannot read the mapping FILE: it is a folder',
  },
  { name: 'a binary file', text: { special: 'binary' }, code: 'E_MAPPING_NOT_TEXT', message: 'FILE: not a text file' },
  { name: 'an empty file', text: '', code: 'E_MAPPING_EMPTY', message: 'FILE: the mapping is empty' },
  {
    name: "a typo in the 'version' key",
    text: REPLACE('version: 2', 'verison: 2'),
    code: 'E_MAPPING_UNKNOWN_KEY',
    message: "FILE:1:1: unknown key 'verison' — did you mean 'version'?",
  },
  {
    name: "'Version' in capitals",
    text: REPLACE('version: 2', 'Version: 2'),
    code: 'E_MAPPING_UNKNOWN_KEY',
    message: "FILE:1:1: unknown key 'Version' — did you mean 'version'?",
  },
  {
    name: 'only comments',
    text: '# nothing here yet\n',
    code: 'E_MAPPING_EMPTY',
    message: 'FILE: the mapping is empty',
  },
  {
    name: 'a tab used for indentation',
    text: 'version: 2\ntargets:\n\tmotionScale: {}\n',
    code: 'E_MAPPING_YAML_TAB',
    message: 'FILE:3:1: a tab is used for indentation; YAML indents with spaces',
  },
  {
    name: 'an unclosed quote',
    text: 'version: 2\ndescription: "a pulse\n',
    code: 'E_MAPPING_YAML_UNCLOSED',
    message: 'FILE:2:14: unclosed quote or bracket: Missing closing "quote',
  },
  {
    name: 'a key given twice',
    text: V.replace('    base: 0.4\n', '    base: 0.4\n    base: 0.5\n'),
    code: 'E_MAPPING_DUPLICATE_KEY',
    message: "FILE:13:5: the key 'base' appears twice in the same block",
  },
  {
    name: 'two YAML documents',
    text: `${V}---\nversion: 2\n`,
    code: 'E_MAPPING_MULTIPLE_DOCUMENTS',
    message: "FILE:13:1: the file holds more than one YAML document (a second '---')",
  },
  {
    name: 'bad indentation',
    text: REPLACE('    release: 180ms\n', '   release: 180ms\n'),
    code: 'E_MAPPING_YAML',
    message: 'FILE:5:1: invalid YAML (bad indent): All mapping items must start at the same column',
  },
  {
    name: 'a nested mapping on one line',
    text: 'version: 2\ntargets: motionScale: 1\n',
    code: 'E_MAPPING_YAML',
    message: 'FILE:2:10: invalid YAML (block as implicit key): Nested mappings are not allowed in compact mappings',
  },
  {
    name: 'a value starting with a reserved character',
    text: 'version: 2\ndescription: @home\n',
    code: 'E_MAPPING_YAML',
    message: 'FILE:2:14: invalid YAML: Plain value cannot start with reserved character @',
  },
  {
    name: 'an alias without its anchor',
    text: 'version: 2\ndescription: *intro\n',
    code: 'E_MAPPING_YAML_ALIAS',
    message: 'FILE:2:14: YAML alias problem: Unresolved alias (the anchor must be set before the alias): intro',
  },
  {
    name: 'a list instead of a mapping',
    text: '- kick\n- snare\n',
    code: 'E_MAPPING_NOT_A_MAP',
    message: 'FILE:1:1: the mapping must be a block of keys (version:, signals:, targets: …), not a list',
  },
  {
    name: 'a single value instead of a mapping',
    text: 'bounce\n',
    code: 'E_MAPPING_NOT_A_MAP',
    message:
      'FILE:1:1: the mapping must be a block of keys (version:, signals:, targets: …), not a single value ("bounce")',
  },
  {
    name: 'no version',
    text: V.replace('version: 2\n', ''),
    code: 'E_MAPPING_NO_VERSION',
    message: "FILE:1:1: missing 'version': this beatloom reads version 2",
  },
  {
    name: 'a version 1 mapping',
    text: V.replace('version: 2', 'version: 1'),
    code: 'E_MAPPING_OLD_VERSION',
    message:
      "FILE:1:10: version: 1 mappings are no longer read (this beatloom reads version 2): in version 2 attack and release are linear times to the peak and back to 0, target 'add' is a map { signal: amount }, 'from: onset' is 'from: onsetStrength', and 'seed' has sections / every / onsets",
  },
  {
    name: 'a version from the future',
    text: V.replace('version: 2', 'version: 3'),
    code: 'E_MAPPING_BAD_VERSION',
    message: 'FILE:1:10: version: 3 is not a mapping version this beatloom reads (it reads 2)',
  },
  {
    name: 'a version that is not a number',
    text: V.replace('version: 2', 'version: two'),
    code: 'E_MAPPING_BAD_VERSION',
    message: 'FILE:1:10: version: "two" is not a mapping version this beatloom reads (it reads 2)',
  },
  {
    name: 'an unknown top-level key',
    text: `${V}colour: red\n`,
    code: 'E_MAPPING_UNKNOWN_KEY',
    message:
      "FILE:13:1: unknown key 'colour'; allowed: version, description, segments, signals, targets, seed, prompts, transitions",
  },
  {
    name: 'a misspelt key',
    text: REPLACE('release: 180ms', 'relase: 180ms'),
    code: 'E_MAPPING_UNKNOWN_KEY',
    message:
      "FILE:5:5: signals.kick: unknown key 'relase' — did you mean 'release'?; allowed: from, values, normalize, percentiles, wave, smooth, threshold, gate, attack, hold, release, mode, reset, curve, range, lead, onlyIn",
  },
  {
    name: 'a missing required key',
    text: REPLACE('  denoise:\n    base: 0.4\n', ''),
    code: 'E_MAPPING_MISSING_KEY',
    message: 'FILE:7:3: targets.denoise: missing: give a block of keys',
  },
  {
    name: 'text where a number goes',
    text: REPLACE('base: 0.5', 'base: fast'),
    code: 'E_MAPPING_TYPE',
    message: 'FILE:8:11: targets.motionScale.base: expected a number, got the text "fast"',
  },
  {
    name: 'an empty value',
    text: REPLACE('base: 0.5', 'base:'),
    code: 'E_MAPPING_TYPE',
    message: 'FILE:8:10: targets.motionScale.base: expected a number, got an empty value',
  },
  {
    name: 'a value that is not one of the choices',
    text: `${V}segments:\n  align: downbeat\n`,
    code: 'E_MAPPING_VALUE',
    message: `FILE:14:10: segments.align: must be one of "none", "beats", "downbeats", got the text "downbeat" — did you mean 'downbeats'?`,
  },
  {
    name: 'an unknown section label',
    text: `${V}prompts:\n  schedule:\n    - prompt: x\n      section: chorus\n`,
    code: 'E_MAPPING_VALUE',
    message:
      'FILE:16:16: prompts.schedule[0].section: must be one of "intro", "verse", "build", "drop", "break", "outro", got the text "chorus"',
  },
  {
    name: 'a number out of range',
    text: REPLACE('release: 180ms', 'threshold: 1.5'),
    code: 'E_MAPPING_RANGE',
    message: 'FILE:5:16: signals.kick.threshold: must be ≤ 0.99, got 1.5',
  },
  {
    name: 'a list too short',
    text: REPLACE('range: [0.5, 1.5]', 'range: [0.5]'),
    code: 'E_MAPPING_RANGE',
    message: 'FILE:10:5: targets.motionScale.range: needs at least 2 items',
  },
  {
    name: 'a length without a unit musicians use',
    text: REPLACE('release: 180ms', 'release: 180 millis'),
    code: 'E_MAPPING_DURATION',
    message: `FILE:5:14: signals.kick.release: expected a number of seconds, or a string like '120ms', '0.5s', '2 frames', '1 beat', '2 bars', got the text "180 millis"`,
  },
  {
    name: 'a negative length',
    text: REPLACE('release: 180ms', 'lead: -0.1'),
    code: 'E_MAPPING_DURATION',
    message: `FILE:5:11: signals.kick.lead: expected a number of seconds, or a string like '120ms', '0.5s', '2 frames', '1 beat', '2 bars', got the number -0.1`,
  },
  {
    name: 'a time that is not one',
    text: `${V}prompts:\n  schedule:\n    - prompt: x\n      time: soon\n`,
    code: 'E_MAPPING_TIME',
    message: `FILE:16:13: prompts.schedule[0].time: expected seconds (83.5 or '83.5s') or minutes:seconds ('1:23.5'), got the text "soon"`,
  },
  {
    name: 'a signal that does not exist',
    text: REPLACE('add: { kick: 0.5 }', 'add: { kik: 0.5 }'),
    code: 'E_MAPPING_REFERENCE',
    message: "FILE:9:17: targets.motionScale.add.kik: unknown signal 'kik'; defined signals: kick",
  },
  {
    name: 'a signal name that is not allowed',
    text: REPLACE('  kick:\n', '  1kick:\n').replace('{ kick: 0.5 }', '{}'),
    code: 'E_MAPPING_RULE',
    message:
      "FILE:3:3: signals.1kick: the name '1kick' is not allowed: signal names are letters, digits and _ (not starting with a digit)",
  },
  {
    name: 'a denoise that could leave 0..1',
    text: REPLACE('  denoise:\n    base: 0.4\n', '  denoise:\n    base: 0.8\n    add: { kick: 0.35 }\n'),
    code: 'E_MAPPING_RULE',
    message:
      'FILE:11:3: targets.denoise: can reach 1.15 (base 0.8 + kick 0.35) but must stay within [0, 1]: add a range or change the amounts',
  },
  {
    name: 'a reversed range',
    text: REPLACE('range: [0.5, 1.5]', 'range: [1.5, 0.5]'),
    code: 'E_MAPPING_RULE',
    message: 'FILE:10:5: targets.motionScale.range: range [1.5, 0.5] is reversed: give [low, high]',
  },
  {
    name: 'an option that does not apply to the source',
    text: REPLACE('release: 180ms', 'wave: sine'),
    code: 'E_MAPPING_RULE',
    message:
      "FILE:5:11: signals.kick.wave: 'wave' applies only to phases (beatPhase, barPhase, sectionPhase), not to from: low",
  },
  {
    name: 'a threshold and a gate',
    text: REPLACE('release: 180ms', 'threshold: 0.2\n    gate: 0.5'),
    code: 'E_MAPPING_RULE',
    message: 'FILE:6:11: signals.kick.gate: use threshold (soft) or gate (hard), not both',
  },
  {
    name: 'a section signal without values',
    text: REPLACE('from: low', 'from: section'),
    code: 'E_MAPPING_MISSING_KEY',
    message:
      'FILE:4:5: signals.kick.values: from: section needs values, e.g. values: { drop: 1, break: 0.2, other: 0.5 }',
  },
  {
    name: 'overlaps out of order',
    text: `${V}segments:\n  overlap: 1\n`,
    code: 'E_MAPPING_RULE',
    message: 'FILE:14:12: segments.overlap: need minOverlap ≤ overlap ≤ maxOverlap, got 2 ≤ 1 ≤ 8',
  },
  {
    name: 'a misspelt placeholder',
    text: `${V}prompts:\n  schedule:\n    - prompt: "{promt}, city"\n`,
    code: 'E_MAPPING_RULE',
    message: `FILE:15:15: prompts.schedule[0].prompt: unknown placeholder '{promt}' in "{promt}, city": the only one here is {prompt}`,
  },
  {
    name: 'a prompt entry with two start times',
    text: `${V}prompts:\n  schedule:\n    - prompt: x\n      section: drop\n      bar: 3\n`,
    code: 'E_MAPPING_RULE',
    message: 'FILE:16:16: prompts.schedule[0].section: give one of time, bar, beat or section, not bar and section',
  },
];
