/**
 * Wraps a command's action: Ctrl-C aborts cleanly, errors become one line and an exit code
 * (0 ok, 1 failure, 2 usage/config, 130 interrupted), and anything unexpected prints its stack.
 */
import { BeatloomError, formatErrorLine, isAbortError } from '../shared/errors.js';
import { fsFaultError } from '../shared/fs-faults.js';

export type Action = (signal: AbortSignal) => Promise<void>;

export function exitCodeFor(error: unknown): number {
  if (isAbortError(error)) return 130;
  if (error instanceof BeatloomError) {
    switch (error.kind) {
      case 'usage':
        return 2;
      case 'interrupted':
        return 130;
      case 'failure':
        return 1;
    }
  }
  return 1;
}

export async function runCommand(action: Action, beforeError: () => void = () => undefined): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) {
      beforeError();
      process.stderr.write('beatloom: stopping… (finished segments are kept; Ctrl-C again to quit at once)\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await action(controller.signal);
    return 0;
  } catch (thrown) {
    beforeError();
    // A full disk, a read-only mount, no memory: one line, not a stack (exit 1).
    const error = fsFaultError(thrown) ?? thrown;
    const code = exitCodeFor(error);
    if (code === 130) process.stderr.write('beatloom: interrupted — run the same command again to resume\n');
    else if (error instanceof BeatloomError) process.stderr.write(`beatloom: error: ${formatErrorLine(error)}\n`);
    else {
      process.stderr.write(
        `beatloom: unexpected error — please report this at https://github.com/beatloom/beatloom/issues with the command you ran\n`,
      );
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
