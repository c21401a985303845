/**
 * zod schemas for everything a ComfyUI server sends: HTTP bodies and WebSocket messages, as
 * recorded from ComfyUI 0.8.0 (test/fixtures/comfyui-0.8.0) and read in its server.py /
 * execution.py. Unknown extra fields are allowed (servers add them); missing or mistyped fields
 * we rely on are not.
 */
import { z } from 'zod';

/** An API-format graph: node id → class and inputs (a literal, or a link `[nodeId, outputIndex]`). */
export const apiNodeSchema = z
  .object({ class_type: z.string().min(1), inputs: z.record(z.string(), z.unknown()) })
  .loose();
export const apiGraphSchema = z.record(z.string(), apiNodeSchema);
export type ApiNode = z.infer<typeof apiNodeSchema>;
export type ApiGraph = Record<string, ApiNode>;
export type ApiLink = readonly [string, number];

export function isLink(value: unknown): value is ApiLink {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && Number.isInteger(value[1]);
}

/** One node class in /object_info. Only what beatloom reads is checked; the rest passes through. */
export const nodeInfoSchema = z
  .object({
    input: z
      .object({
        required: z.record(z.string(), z.unknown()).optional(),
        optional: z.record(z.string(), z.unknown()).optional(),
      })
      .loose(),
    output: z.array(z.unknown()).optional(),
    output_node: z.boolean().optional(),
    python_module: z.string().optional(),
  })
  .loose();
export type NodeInfo = z.infer<typeof nodeInfoSchema>;
/** Node classes are checked one by one when used, so one odd custom node cannot hide the others. */
export const objectInfoSchema = z.record(z.string(), z.unknown());
export type ObjectInfo = z.infer<typeof objectInfoSchema>;

export const systemStatsSchema = z
  .object({
    system: z
      .object({
        os: z.string().optional(),
        ram_total: z.number().optional(),
        ram_free: z.number().optional(),
        comfyui_version: z.string().optional(),
        python_version: z.string().optional(),
        pytorch_version: z.string().optional(),
      })
      .loose(),
    devices: z.array(
      z
        .object({
          name: z.string(),
          type: z.string(),
          index: z.number().nullable().optional(),
          vram_total: z.number().optional(),
          vram_free: z.number().optional(),
        })
        .loose(),
    ),
  })
  .loose();
export type SystemStats = z.infer<typeof systemStatsSchema>;

/** A queue item: [number, prompt_id, prompt, extra_data, outputs_to_execute, …]. */
const queueItemSchema = z.tuple([z.number(), z.string()], z.unknown());
export const queueSchema = z
  .object({ queue_running: z.array(queueItemSchema), queue_pending: z.array(queueItemSchema) })
  .loose();
export type QueueState = z.infer<typeof queueSchema>;

const validationErrorSchema = z
  .object({
    type: z.string(),
    message: z.string(),
    details: z.string().optional(),
    extra_info: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
export type ValidationError = z.infer<typeof validationErrorSchema>;

export const nodeErrorSchema = z
  .object({
    errors: z.array(validationErrorSchema),
    dependent_outputs: z.array(z.string()).optional(),
    class_type: z.string().optional(),
  })
  .loose();
export type NodeError = z.infer<typeof nodeErrorSchema>;
/** Older servers send `[]` when there are none. */
const nodeErrorsSchema = z.union([z.record(z.string(), nodeErrorSchema), z.array(z.never()).transform(() => ({}))]);

export const promptAcceptedSchema = z
  .object({ prompt_id: z.string().min(1), number: z.number(), node_errors: nodeErrorsSchema.optional() })
  .loose();
/** HTTP 400 from POST /prompt; `error` is a string on old servers ("no prompt"). */
export const promptRejectedSchema = z
  .object({
    error: z.union([validationErrorSchema, z.string()]),
    node_errors: nodeErrorsSchema.optional(),
  })
  .loose();
export type PromptRejected = z.infer<typeof promptRejectedSchema>;

/** A file a node wrote, as /history and `executed` list it (SaveImage under `images`, VHS under `gifs`). */
export const fileRefSchema = z
  .object({ filename: z.string(), subfolder: z.string().default(''), type: z.string().default('output') })
  .loose();
export type FileRef = z.infer<typeof fileRefSchema>;
export const nodeOutputSchema = z.record(z.string(), z.unknown());
export type NodeOutput = z.infer<typeof nodeOutputSchema>;

const statusMessageSchema = z.tuple([z.string(), z.unknown()]);
/** execution.py's add_message stamps every status message with the server's clock, in ms. */
const stampedSchema = z.object({ timestamp: z.number() }).loose();
export const historyEntrySchema = z
  .object({
    outputs: z.record(z.string(), nodeOutputSchema).default({}),
    status: z
      .object({
        status_str: z.string().optional(),
        completed: z.boolean().optional(),
        messages: z.array(statusMessageSchema).default([]),
      })
      .loose()
      .optional(),
  })
  .loose();
export type HistoryEntry = z.infer<typeof historyEntrySchema>;
export const historySchema = z.record(z.string(), historyEntrySchema);

/**
 * How long the server executed a finished prompt, by its own clock: execution_success's timestamp
 * minus execution_start's (fixtures 80, 95: both are in the history's status messages). Waiting in
 * the queue is not in it. undefined when either is missing (a failed prompt, an older server).
 */
export function serverExecutionMs(entry: HistoryEntry): number | undefined {
  const stamp = (type: string): number | undefined => {
    const message = entry.status?.messages.find(([name]) => name === type);
    const parsed = stampedSchema.safeParse(message?.[1]);
    return parsed.success ? parsed.data.timestamp : undefined;
  };
  const start = stamp('execution_start');
  const success = stamp('execution_success');
  return start !== undefined && success !== undefined && success >= start ? success - start : undefined;
}

export const uploadReplySchema = z
  .object({ name: z.string().min(1), subfolder: z.string().default(''), type: z.string().default('input') })
  .loose();
export type UploadReply = z.infer<typeof uploadReplySchema>;

// ---- WebSocket messages ----------------------------------------------------------------------

export const wsEnvelopeSchema = z.object({ type: z.string(), data: z.unknown() });

const promptIdField = { prompt_id: z.string() };
export const executionErrorSchema = z
  .object({
    ...promptIdField,
    node_id: z.string(),
    node_type: z.string(),
    exception_message: z.string(),
    exception_type: z.string().optional(),
  })
  .loose();
export type ExecutionErrorData = z.infer<typeof executionErrorSchema>;
export const executionInterruptedSchema = z
  .object({ ...promptIdField, node_id: z.string().optional(), node_type: z.string().optional() })
  .loose();

/** The messages whose data beatloom reads, by type; any other type is ignored. */
export const wsDataSchemas = {
  status: z
    .object({
      status: z.object({ exec_info: z.object({ queue_remaining: z.number() }).loose() }).loose(),
      sid: z.string().optional(),
    })
    .loose(),
  execution_start: z.object({ ...promptIdField, timestamp: z.number().optional() }).loose(),
  execution_cached: z.object({ ...promptIdField, nodes: z.array(z.string()) }).loose(),
  /** `node: null` with our prompt_id: the prompt is done. Without prompt_id: a reconnect notice. */
  executing: z.object({ node: z.string().nullable(), prompt_id: z.string().optional() }).loose(),
  progress: z
    .object({
      value: z.number(),
      max: z.number(),
      prompt_id: z.string().optional(),
      node: z.string().nullable().optional(),
    })
    .loose(),
  executed: z.object({ ...promptIdField, node: z.string(), output: nodeOutputSchema }).loose(),
  execution_success: z.object({ ...promptIdField, timestamp: z.number().optional() }).loose(),
  execution_error: executionErrorSchema,
  execution_interrupted: executionInterruptedSchema,
} as const;
export type WsType = keyof typeof wsDataSchemas;
export type WsMessage = { [K in WsType]: { type: K; data: z.infer<(typeof wsDataSchemas)[K]> } }[WsType];

/** Validates one text frame; undefined for a type beatloom does not read or a malformed body. */
export function parseWsText(text: string): WsMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const envelope = wsEnvelopeSchema.safeParse(json);
  if (!envelope.success || !(envelope.data.type in wsDataSchemas)) return undefined;
  const type = envelope.data.type as WsType;
  const data = wsDataSchemas[type].safeParse(envelope.data.data);
  return data.success ? ({ type, data: data.data } as WsMessage) : undefined;
}

/** Binary frames: a big-endian event type, then for 4 (preview with metadata) a length-prefixed JSON header. */
export const BINARY_PREVIEW_IMAGE = 1;
export const BINARY_PREVIEW_IMAGE_WITH_METADATA = 4;
const previewMetadataSchema = z
  .object({ prompt_id: z.string().optional(), node_id: z.string().optional(), image_type: z.string().optional() })
  .loose();

export interface BinaryPreview {
  readonly eventType: number;
  readonly promptId: string | undefined;
  readonly imageBytes: number;
}

export function parseWsBinary(data: Buffer): BinaryPreview | undefined {
  if (data.length < 8) return undefined;
  const eventType = data.readUInt32BE(0);
  if (eventType === BINARY_PREVIEW_IMAGE) return { eventType, promptId: undefined, imageBytes: data.length - 8 };
  if (eventType === BINARY_PREVIEW_IMAGE_WITH_METADATA) {
    const metaLength = data.readUInt32BE(4);
    if (8 + metaLength > data.length) return undefined;
    let meta: unknown;
    try {
      meta = JSON.parse(data.subarray(8, 8 + metaLength).toString('utf8'));
    } catch {
      return undefined;
    }
    const parsed = previewMetadataSchema.safeParse(meta);
    return parsed.success
      ? { eventType, promptId: parsed.data.prompt_id, imageBytes: data.length - 8 - metaLength }
      : undefined;
  }
  return { eventType, promptId: undefined, imageBytes: data.length - 4 };
}
