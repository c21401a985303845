/** The dry-run report as terminal lines (pure: tests pin the exact text). */
import type { SectionSpan } from '../dry-run/describe-plan.js';
import type { DryRunReport } from '../dry-run/dry-run-song.js';
import type { EstimateBasis } from '../dry-run/estimate-engine-time.js';
import { formatEta } from './reporters/progress-reporter.js';
import { formatFps } from '../shared/media-time.js';

/** Seconds as m:ss.s (h:mm:ss.s from an hour). */
export function formatClock(sec: number): string {
  const tenths = Math.round(sec * 10);
  const h = Math.floor(tenths / 36000);
  const m = Math.floor((tenths % 36000) / 600);
  const s = ((tenths % 600) / 10).toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function range(first: number, last: number): string {
  return first === last ? String(first) : `${first}–${last}`;
}

function seedsText(seeds: readonly number[]): string {
  if (seeds.length <= 3) return seeds.join(', ');
  return `${seeds[0]}…${seeds.at(-1)} (${seeds.length})`;
}

function basisText(basis: EstimateBasis): string {
  switch (basis.kind) {
    case 'measured':
      return `measured: median of ${basis.segments} segment${basis.segments === 1 ? '' : 's'} rendered before in this run directory`;
    case 'calibrated':
      return 'calibrated: one segment rendered just now';
    case 'nothing-to-render':
      return 'every segment is already rendered';
    case 'unavailable':
      return basis.reason;
  }
}

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(rows: ReadonlyArray<readonly string[]>, indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) =>
    `${indent}${row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  ')}`.trimEnd(),
  );
}

function sectionRow(span: SectionSpan): string[] {
  return [
    span.section,
    `${formatClock(span.startSec)}–${formatClock(span.endSec)}`,
    range(span.firstSegment, span.lastSegment),
    range(span.startFrame, span.endFrame - 1),
    seedsText(span.seeds),
    String(span.toRender),
    span.prompts.join(' → '),
  ];
}

export function formatDryRun(report: DryRunReport, audioPath: string): string[] {
  const { overview: o, estimate: e } = report;
  const lines = [
    'dry run: nothing rendered, no video written',
    `song      ${audioPath} — ${formatClock(o.durationSec)}${report.bpm ? `, ${report.bpm} BPM` : ', no beat found'}`,
    `video     ${o.frameCount} frames at ${formatFps(o.fps)} fps, ${o.width}x${o.height} → ${report.outPath}`,
    `run dir   ${report.runDir}`,
    `segments  ${o.segments} of up to ${o.framesPerSegment} frames, ${report.steps} sampler step${report.steps === 1 ? '' : 's'} each, continuity ${o.continuity}: ${o.toRender} to render, ${o.reused} already rendered`,
    'sections',
    ...formatTable(
      [['section', 'time', 'segments', 'frames', 'seeds', 'render', 'prompt'], ...o.sections.map(sectionRow)],
      '  ',
    ),
  ];
  for (const notice of o.notices) lines.push(`notice    ${notice}`);
  if (e.msPerSegment === null || e.engineMs === null || e.wallMs === null) {
    lines.push(
      `engine    ${report.engine}: no estimate (${basisText(e.basis)}; render a few segments and run --dry-run again)`,
    );
  } else if (e.basis.kind === 'nothing-to-render') {
    lines.push(`engine    ${report.engine}: nothing to render (${basisText(e.basis)})`);
  } else {
    lines.push(
      `engine    ${report.engine}: ~${(e.msPerSegment / 1000).toFixed(2)} s per segment (${basisText(e.basis)})`,
    );
    lines.push(
      `          ${e.segmentsToRender} segments → ~${formatEta(e.engineMs / 1000)} of engine time, ~${formatEta(e.wallMs / 1000)} at concurrency ${e.concurrency}`,
    );
  }
  return lines;
}
