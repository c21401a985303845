/**
 * Reads a text file a user named (a config, batch, workflow or map file). Only a regular file is
 * read: a fifo, socket or device could block forever — a read no Ctrl-C can stop — and a file far
 * larger than any such file would take minutes to parse (issue 11).
 */
import { readFile, stat } from 'node:fs/promises';
import { usageError } from './errors.js';

/** Far above any config, batch or workflow file people write (a real workflow is tens of kB). */
export const MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The file's text. A missing or unreadable file throws the system error as it is (callers name
 * it their way); a special or oversized file throws a usage error naming `what`.
 */
export async function readUserText(path: string, what: string, maxBytes = MAX_TEXT_FILE_BYTES): Promise<string> {
  const info = await stat(path);
  if (!info.isFile() && !info.isDirectory())
    throw usageError('E_NOT_A_FILE', `${what} ${path} is not a regular file (a fifo or a device?)`, 'give a file');
  if (info.size > maxBytes)
    throw usageError(
      'E_FILE_TOO_LARGE',
      `${what} ${path} is ${Math.round(info.size / (1024 * 1024))} MB, more than such a file can be (${maxBytes / (1024 * 1024)} MB)`,
      'give the right file',
    );
  return readFile(path, 'utf8');
}
