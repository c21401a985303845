/**
 * Draws progress events: a bar with ETA on a TTY, a line per stage and per 10 % elsewhere,
 * JSON lines with --json, nothing with --quiet.
 */
import type { ProgressEvent, ProgressListener } from '../../shared/progress.js';

export type ReporterMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface Reporter {
  readonly onProgress: ProgressListener;
  /** Clears a half-drawn bar before other output. */
  readonly finish: () => void;
}

const BAR_WIDTH = 24;

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function formatBar(fraction: number, width = BAR_WIDTH): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function createReporter(
  mode: ReporterMode,
  stream: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): Reporter {
  let stage = '';
  let stageStarted = now();
  let lastDecile = -1;
  let drawn = false;
  let lastDraw = 0;
  const onProgress = (event: ProgressEvent): void => {
    if (mode === 'quiet') return;
    if (mode === 'json') {
      process.stdout.write(`${JSON.stringify({ type: 'progress', ...event })}\n`);
      return;
    }
    if (event.stage !== stage) {
      stage = event.stage;
      stageStarted = now();
      lastDecile = -1;
      if (mode === 'plain') stream.write(`${event.stage}…\n`);
    }
    const fraction = event.total > 0 ? event.done / event.total : 1;
    if (mode === 'plain') {
      const decile = Math.floor(fraction * 10);
      if (decile > lastDecile && event.total > 1) {
        lastDecile = decile;
        stream.write(`  ${event.stage} ${Math.round(fraction * 100)}%${event.detail ? ` ${event.detail}` : ''}\n`);
      }
      return;
    }
    const t = now();
    if (t - lastDraw < 80 && fraction < 1) return;
    lastDraw = t;
    const elapsed = (t - stageStarted) / 1000;
    const eta = fraction > 0.02 ? (elapsed * (1 - fraction)) / fraction : Number.NaN;
    const line = `${event.stage.padEnd(9)} ${formatBar(fraction)} ${String(Math.round(fraction * 100)).padStart(3)}%  ETA ${formatEta(eta)}${event.detail ? `  ${event.detail}` : ''}`;
    stream.write(`\r\x1b[K${line.slice(0, Math.max(20, (stream.columns ?? 100) - 1))}`);
    drawn = true;
  };
  return {
    onProgress,
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

export function reporterMode(
  flags: { json?: boolean; quiet?: boolean },
  stream: NodeJS.WriteStream = process.stderr,
): ReporterMode {
  if (flags.json) return 'json';
  if (flags.quiet) return 'quiet';
  return stream.isTTY ? 'tty' : 'plain';
}
