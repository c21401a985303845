/**
 * A reply body read as a stream with a size cap, so no server — broken or hostile — can make
 * beatloom hold more than the cap: a Content-Length above it is refused before reading, and a
 * stream that runs past it is cancelled at the first chunk over. Before this, bodies were
 * buffered whole: a /view streaming 1 GB took memory past 3 GB in 19 s (issue 11).
 */

/** Thrown when a body is (or says it will be) larger than allowed. */
export class BodyTooLargeError extends Error {
  constructor(
    readonly limitBytes: number,
    /** What the server said or sent: the Content-Length, or the bytes read when the cap was hit. */
    readonly seenBytes: number,
    readonly declared: boolean,
  ) {
    super(`body larger than ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Reads `response`'s body up to `maxBytes`; throws BodyTooLargeError past it (and cancels the stream). */
export async function readBoundedBody(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(maxBytes, declared, true);
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = (await reader.read()) as { done: boolean; value: Uint8Array };
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new BodyTooLargeError(maxBytes, total, false);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, total);
}

/**
 * The most bytes a PNG of `width`×`height` can take as ComfyUI writes it: 8-bit RGBA at worst,
 * a filter byte per row, deflate's stored blocks (5 bytes per 64 KiB) and chunk framing, plus
 * room for the metadata SaveImage embeds (the prompt and workflow as text chunks, which grow
 * with the graph).
 */
export function maxPngBytes(width: number, height: number): number {
  const raw = height * (width * 4 + 1);
  const deflate = raw + 5 * Math.ceil(raw / 65_535) + 64;
  const chunks = 12 * Math.ceil(deflate / 8192) + 1024;
  return deflate + chunks + PNG_METADATA_HEADROOM_BYTES;
}

/** The workflow and prompt SaveImage writes into each PNG: tens of kB for big graphs; 8 MB is ample. */
export const PNG_METADATA_HEADROOM_BYTES = 8 * 1024 * 1024;

/** /object_info is about 1 MB on a real server with custom nodes (fixture 79); 32 MB is generous. */
export const MAX_OBJECT_INFO_BYTES = 32 * 1024 * 1024;
/** Every other JSON reply (history with the prompt's graph, queue, stats, upload): a few kB to a few hundred. */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(bytes >= 10 * 1024 * 1024 ? 0 : 1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} bytes`;
}
