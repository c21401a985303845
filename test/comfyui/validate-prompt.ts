/**
 * The fake server's graph validation: ComfyUI 0.8.0's `validate_prompt` / `validate_inputs`
 * (execution.py) re-implemented from reading it, checked against the HTTP 400 bodies recorded in
 * test/fixtures/comfyui-0.8.0 (cases 10–16, 82). Types are checked against /object_info.
 */

export type ObjectInfoJson = Record<string, NodeClassJson>;
export interface NodeClassJson {
  input: { required?: Record<string, unknown[]>; optional?: Record<string, unknown[]> };
  output?: unknown[];
  output_node?: boolean;
}

export interface ErrorBody {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

export interface NodeErrorBody {
  errors: ErrorBody[];
  dependent_outputs: string[];
  class_type: string;
}

export type ValidationOutcome =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeErrorBody> }
  | { ok: false; error: ErrorBody; nodeErrors: Record<string, NodeErrorBody> };

export interface ValidationHooks {
  /** LoadImage's VALIDATE_INPUTS: does the input folder have this file? */
  inputFileExists(name: string): boolean;
}

type Graph = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;

/** A Python exception raised during validation: `str(ex)` and its type name. */
class PyError extends Error {
  constructor(
    readonly pyType: string,
    readonly str: string,
  ) {
    super(str);
  }
}

function pyRepr(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return String(value);
}

function pyNumber(value: number, asFloat: boolean): string {
  return asFloat && Number.isInteger(value) ? `${value}.0` : String(value);
}

function toInt(value: unknown): number {
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  const text = String(value).trim();
  if (/^[+-]?\d+$/.test(text)) return Number(text);
  throw new PyError('ValueError', `invalid literal for int() with base 10: ${pyRepr(String(value))}`);
}

function toFloat(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const n = Number(String(value).trim());
  if (String(value).trim() === '' || Number.isNaN(n))
    throw new PyError('ValueError', `could not convert string to float: ${pyRepr(String(value))}`);
  return n;
}

function specOf(info: NodeClassJson, name: string): { spec: unknown[]; required: boolean } | undefined {
  const required = info.input.required?.[name];
  if (required) return { spec: required, required: true };
  const optional = info.input.optional?.[name];
  return optional ? { spec: optional, required: false } : undefined;
}

interface Result {
  ok: boolean;
  errors: ErrorBody[];
}

export function validatePrompt(prompt: Graph, objectInfo: ObjectInfoJson, hooks: ValidationHooks): ValidationOutcome {
  const none: Record<string, NodeErrorBody> = {};
  for (const [id, node] of Object.entries(prompt)) {
    if (typeof node !== 'object' || node === null || typeof node.class_type !== 'string') {
      return {
        ok: false,
        error: {
          type: 'invalid_prompt',
          message: 'Cannot execute because a node is missing the class_type property.',
          details: `Node ID '#${id}'`,
          extra_info: {},
        },
        nodeErrors: none,
      };
    }
    if (!(node.class_type in objectInfo)) {
      return {
        ok: false,
        error: {
          type: 'invalid_prompt',
          message: `Cannot execute because node ${node.class_type} does not exist.`,
          details: `Node ID '#${id}'`,
          extra_info: {},
        },
        nodeErrors: none,
      };
    }
  }
  const outputs = Object.keys(prompt).filter(
    (id) => objectInfo[prompt[id]!.class_type as string]!.output_node === true,
  );
  if (outputs.length === 0)
    return {
      ok: false,
      error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} },
      nodeErrors: none,
    };

  const validated = new Map<string, Result>();

  const validateInputs = (id: string): Result => {
    const seen = validated.get(id);
    if (seen) return seen;
    const node = prompt[id]!;
    const classType = node.class_type as string;
    const info = objectInfo[classType]!;
    const inputs = node.inputs ?? {};
    const errors: ErrorBody[] = [];
    let valid = true;
    const names = [...Object.keys(info.input.required ?? {}), ...Object.keys(info.input.optional ?? {})];
    for (const name of names) {
      const { spec, required } = specOf(info, name)!;
      const type = spec[0];
      const extra = (spec[1] as Record<string, unknown> | undefined) ?? {};
      const inputConfig = [type, extra];
      if (!(name in inputs)) {
        if (required)
          errors.push({
            type: 'required_input_missing',
            message: 'Required input is missing',
            details: name,
            extra_info: { input_name: name },
          });
        continue;
      }
      const value = inputs[name];
      if (Array.isArray(value)) {
        if (value.length !== 2) {
          errors.push({
            type: 'bad_linked_input',
            message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
            details: name,
            extra_info: { input_name: name, input_config: inputConfig, received_value: value },
          });
          continue;
        }
        const from = String(value[0]);
        // Python: prompt[o_id] raises KeyError, outside any try in this function.
        if (!(from in prompt)) throw new PyError('KeyError', `'${from}'`);
        const fromOutputs = objectInfo[prompt[from]!.class_type as string]!.output ?? [];
        const slot = Number(value[1]);
        if (!(slot >= 0 && slot < fromOutputs.length)) throw new PyError('IndexError', 'tuple index out of range');
        const received = fromOutputs[slot];
        const matches =
          received === type ||
          received === '*' ||
          type === '*' ||
          (typeof received === 'string' && typeof type === 'string' && received.split(',').includes(type));
        if (!matches) {
          errors.push({
            type: 'return_type_mismatch',
            message: 'Return type mismatch between linked nodes',
            details: `${name}, received_type(${String(received)}) mismatch input_type(${String(type)})`,
            extra_info: { input_name: name, input_config: inputConfig, received_type: received, linked_node: value },
          });
          continue;
        }
        try {
          if (!validateInputs(from).ok) valid = false;
        } catch (error) {
          if (!(error instanceof PyError)) throw error;
          valid = false;
          const reasons = [
            {
              type: 'exception_during_inner_validation',
              message: 'Exception when validating inner node',
              details: error.str,
              extra_info: {
                input_name: name,
                input_config: inputConfig,
                exception_message: error.str,
                exception_type: error.pyType,
                traceback: [],
                linked_node: value,
              },
            },
          ];
          validated.set(from, { ok: false, errors: reasons });
        }
        continue;
      }
      let converted: unknown = value;
      try {
        if (type === 'INT') converted = toInt(value);
        else if (type === 'FLOAT') converted = toFloat(value);
        else if (type === 'STRING') converted = String(value);
      } catch (error) {
        const message = (error as PyError).str;
        errors.push({
          type: 'invalid_input_type',
          message: `Failed to convert an input value to a ${String(type)} value`,
          details: `${name}, ${String(value)}, ${message}`,
          extra_info: {
            input_name: name,
            input_config: inputConfig,
            received_value: value,
            exception_message: message,
          },
        });
        continue;
      }
      if (typeof converted === 'number') {
        const asFloat = type === 'FLOAT';
        const min = extra['min'];
        const max = extra['max'];
        const outside =
          typeof min === 'number' && converted < min
            ? { type: 'value_smaller_than_min', bound: min, word: 'smaller than min' }
            : typeof max === 'number' && converted > max
              ? { type: 'value_bigger_than_max', bound: max, word: 'bigger than max' }
              : undefined;
        if (outside) {
          errors.push({
            type: outside.type,
            message: `Value ${pyNumber(converted, asFloat)} ${outside.word} of ${pyNumber(outside.bound, asFloat)}`,
            details: name,
            extra_info: { input_name: name, input_config: inputConfig, received_value: converted },
          });
          continue;
        }
      }
      // LoadImage has VALIDATE_INPUTS(image), which replaces the list check for that input.
      if ((classType === 'LoadImage' && name === 'image') || (classType === 'LoadLatent' && name === 'latent')) {
        if (!hooks.inputFileExists(String(converted))) {
          errors.push({
            type: 'custom_validation_failed',
            message: 'Custom validation failed for node',
            details: `${name} - Invalid image file: ${String(converted)}`,
            extra_info: { input_name: name, input_config: inputConfig, received_value: converted },
          });
        }
        continue;
      }
      const options = Array.isArray(type)
        ? type
        : type === 'COMBO' && Array.isArray(extra['options'])
          ? (extra['options'] as unknown[])
          : undefined;
      if (options && !options.includes(converted)) {
        const long = options.length > 20;
        errors.push({
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: `${name}: ${pyRepr(converted)} not in ${long ? `(list of length ${options.length})` : pyRepr(options)}`,
          extra_info: { input_name: name, input_config: long ? null : inputConfig, received_value: converted },
        });
      }
    }
    const result = { ok: errors.length === 0 && valid, errors };
    validated.set(id, result);
    return result;
  };

  const good: string[] = [];
  const failed: Array<[string, ErrorBody[]]> = [];
  const nodeErrors: Record<string, NodeErrorBody> = {};
  for (const output of outputs) {
    let result: Result;
    try {
      result = validateInputs(output);
    } catch (error) {
      if (!(error instanceof PyError)) throw error;
      result = {
        ok: false,
        errors: [
          {
            type: 'exception_during_validation',
            message: 'Exception when validating node',
            details: error.str,
            extra_info: { exception_type: error.pyType, traceback: [] },
          },
        ],
      };
      validated.set(output, result);
    }
    if (result.ok) {
      good.push(output);
      continue;
    }
    failed.push([output, result.errors]);
    for (const [id, r] of validated) {
      if (r.ok || r.errors.length === 0) continue;
      nodeErrors[id] ??= { errors: r.errors, dependent_outputs: [], class_type: prompt[id]?.class_type as string };
      nodeErrors[id].dependent_outputs.push(output);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, errors]) => errors.map((e) => `${e.message}: ${e.details}`)).join('\n');
    return {
      ok: false,
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details,
        extra_info: {},
      },
      nodeErrors,
    };
  }
  return { ok: true, outputs: good, nodeErrors };
}
