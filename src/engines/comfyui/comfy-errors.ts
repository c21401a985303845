/**
 * What can go wrong with a ComfyUI server, as errors a user can act on.
 *
 * A ComfyServerFailure means the server itself failed (refused or reset connections, 5xx, a
 * dead socket, no reply, a prompt that vanished): the engine moves the segment to another
 * server. Everything else (a graph the server rejects, an exception inside a node, bad
 * outputs) would fail the same way anywhere, so it stops the render.
 */
import { BeatloomError } from '../../shared/errors.js';
import type { ExecutionErrorData, NodeError, PromptRejected, ValidationError } from './comfy-schemas.js';

export class ComfyServerFailure extends BeatloomError {
  readonly serverUrl: string;
  constructor(serverUrl: string, message: string, cause?: unknown) {
    super('E_COMFY_SERVER', message, {
      cause,
      hint: `check that ComfyUI runs at ${serverUrl} (beatloom engines check --comfy-url ${serverUrl})`,
    });
    this.name = 'ComfyServerFailure';
    this.serverUrl = serverUrl;
  }
}

export function isServerFailure(error: unknown): error is ComfyServerFailure {
  return error instanceof ComfyServerFailure;
}

/** Node's network errors hide the useful part (ECONNREFUSED, ECONNRESET, …) in `cause`. */
export function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    const text =
      typeof code === 'string' && !current.message.includes(code) ? `${current.message} (${code})` : current.message;
    if (text && !parts.includes(text)) parts.push(text);
    current = (current as { cause?: unknown }).cause;
  }
  const specific = parts.filter((p) => p !== 'fetch failed');
  return (specific.length > 0 ? specific : parts).join(': ') || String(error);
}

function listOf(value: unknown): string[] | undefined {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return undefined;
}

/** The options a `value_not_in_list` error offers (input_config is [options, extra]; null when > 20). */
function offeredOptions(error: ValidationError): string[] | undefined {
  const config = error.extra_info?.['input_config'];
  return Array.isArray(config) ? listOf(config[0]) : undefined;
}

export function formatAvailable(options: readonly string[], limit = 12): string {
  if (options.length === 0) return 'none';
  const shown = options.slice(0, limit).join(', ');
  return options.length > limit ? `${shown}, … (${options.length} in all)` : shown;
}

/** One validation error as a phrase that names the input and what was wrong with it. */
export function describeValidationError(error: ValidationError): string {
  const input = typeof error.extra_info?.['input_name'] === 'string' ? error.extra_info['input_name'] : undefined;
  const received = error.extra_info?.['received_value'];
  switch (error.type) {
    case 'value_not_in_list': {
      const options = offeredOptions(error);
      const what =
        received === undefined
          ? (error.details ?? '')
          : `'${typeof received === 'string' ? received : JSON.stringify(received)}' is not available`;
      return `input ${input ?? '?'}: ${what}${options ? ` (the server has: ${formatAvailable(options)})` : ''}`;
    }
    case 'required_input_missing':
      return `input ${input ?? error.details ?? '?'} is missing`;
    case 'value_smaller_than_min':
    case 'value_bigger_than_max':
      return `input ${input ?? error.details ?? '?'}: ${error.message}`;
    case 'invalid_input_type':
      return `input ${input ?? '?'}: ${error.message} (got ${JSON.stringify(received)})`;
    default: {
      const details = error.details ? `: ${error.details}` : '';
      return `${input ? `input ${input}: ` : ''}${error.message}${details}`;
    }
  }
}

function describeNodeErrors(nodeErrors: Readonly<Record<string, NodeError>>): string {
  return Object.entries(nodeErrors)
    .map(
      ([id, node]) =>
        `node ${id}${node.class_type ? ` (${node.class_type})` : ''} ${node.errors.map(describeValidationError).join(', ')}`,
    )
    .join('; ');
}

/** HTTP 400 from POST /prompt (or a 200 whose node_errors say some outputs were dropped). */
export function promptRejectedError(serverUrl: string, body: PromptRejected): BeatloomError {
  const top = typeof body.error === 'string' ? body.error : body.error.message;
  const topDetails = typeof body.error === 'string' ? '' : (body.error.details ?? '');
  const nodes = describeNodeErrors(body.node_errors ?? {});
  const message = nodes ? `${top}: ${nodes}` : topDetails && topDetails !== top ? `${top} (${topDetails})` : top;
  return new BeatloomError('E_COMFY_REJECTED', `ComfyUI at ${serverUrl} rejected the graph: ${message}`, {
    kind: 'usage',
    hint: `fix the named input; beatloom engines check --comfy-url ${serverUrl} lists what the server has`,
  });
}

/**
 * A node ran out of GPU memory. The same segment may fit once the server has unloaded its models
 * (ComfyUI does that itself on an OOM, execution.py), or on a GPU with more room: the engine asks
 * the server to free its memory, retries once, then tries another server.
 */
export class ComfyOutOfMemory extends BeatloomError {
  readonly serverUrl: string;
  constructor(serverUrl: string, message: string) {
    super('E_COMFY_EXECUTION', message, { hint: 'the server console has the full traceback' });
    this.name = 'ComfyOutOfMemory';
    this.serverUrl = serverUrl;
  }
}

/** ComfyUI appends this to the message of every exception it treats as an OOM (execution.py, fixture 97). */
const OOM_TIP = 'This error means you ran out of memory on your GPU.';

/**
 * Whether an execution_error is an out-of-memory error. ComfyUI 0.8.0 treats an exception as one
 * when it is comfy.model_management.OOM_EXCEPTION (torch.cuda.OutOfMemoryError, reported by
 * full_type_name as `torch.OutOfMemoryError`; `torch.cuda.OutOfMemoryError` on torch before 2.5)
 * and then adds OOM_TIP to the message. torch's CUDA allocator says "CUDA out of memory" or, with a
 * memory fraction set, "Allocation on device … would exceed allowed memory"; a node that catches
 * and re-raises them keeps those words. A CPU allocator failure ("DefaultCPUAllocator: can't
 * allocate memory", fixture 17, a RuntimeError) is not one: it is the graph asking for too much.
 */
export function isOutOfMemory(data: ExecutionErrorData): boolean {
  const type = data.exception_type ?? '';
  if (type === 'torch.OutOfMemoryError' || type === 'torch.cuda.OutOfMemoryError' || type.endsWith('.OutOfMemoryError'))
    return true;
  const message = data.exception_message;
  return (
    message.includes(OOM_TIP) || /\b(CUDA|HIP|MPS backend|XPU) out of memory\b|\bAllocation on device\b/.test(message)
  );
}

export function executionError(serverUrl: string, data: ExecutionErrorData): BeatloomError {
  const type = data.exception_type ? `${data.exception_type}: ` : '';
  // The first line says it; ComfyUI's tips after it are for its own UI.
  const text = data.exception_message.split(`\n${OOM_TIP}`)[0]!.trim();
  const message = `ComfyUI at ${serverUrl} failed in node ${data.node_id} (${data.node_type}): ${type}${text}`;
  if (isOutOfMemory(data)) return new ComfyOutOfMemory(serverUrl, message);
  return new BeatloomError('E_COMFY_EXECUTION', message, { hint: 'the server console has the full traceback' });
}

/** Every server ran out of memory on one segment, each after POST /free and a retry. */
export function outOfMemoryEverywhere(
  segmentNumber: number,
  failures: ReadonlyMap<string, ComfyOutOfMemory>,
): BeatloomError {
  const servers = [...failures.keys()];
  const last = [...failures.values()].at(-1);
  return new BeatloomError(
    'E_COMFY_EXECUTION',
    `segment ${segmentNumber} ran out of GPU memory on ${servers.length === 1 ? `the server (${servers[0]})` : `every server (${servers.join(', ')})`}, also after freeing its memory (POST /free) and trying again${last ? `: ${last.message}` : ''}`,
    {
      hint: 'render at a smaller width/height, or stop what else uses the GPU; then run the same command again to resume',
      cause: last,
    },
  );
}

export function interruptedError(serverUrl: string, nodeType: string | undefined): BeatloomError {
  return new BeatloomError(
    'E_COMFY_INTERRUPTED',
    `ComfyUI at ${serverUrl} interrupted the prompt${nodeType ? ` in ${nodeType}` : ''} (someone cancelled it on the server)`,
    {
      hint: 'run the same command again to resume',
    },
  );
}

export function outputError(serverUrl: string, message: string): BeatloomError {
  return new BeatloomError('E_COMFY_OUTPUT', `ComfyUI at ${serverUrl} ${message}`, {
    hint: 'check the workflow’s output node; the segment will be rendered again next run',
  });
}
