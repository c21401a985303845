/** The seam report (pipeline/measure-seams.ts) as terminal lines: a summary, and a table of boundaries. */
import type { SeamBoundary, SeamReport } from '../pipeline/measure-seams.js';

const num = (value: number | null, digits = 2): string => (value === null ? '–' : value.toFixed(digits));

const COLUMNS = [
  ['boundary', 9],
  ['shared', 6],
  ['held', 4],
  ['lead', 5],
  ['fade', 4],
  ['across', 7],
  ['jump', 7],
  ['within', 7],
  ['maxstep', 7],
  ['ratio', 6],
  ['jumpr', 6],
  ['opening', 7],
  ['o.across', 8],
  ['restart', 7],
] as const;

function row(cells: readonly string[], plan: string, verdict: string): string {
  return `  ${cells.map((cell, i) => cell.padStart(COLUMNS[i]![1])).join(' ')}  ${plan.padEnd(26)}  ${verdict}`;
}

function boundaryRow(b: SeamBoundary): string {
  const plan = b.planned === 'transition' ? `transition (${b.reasons.join(', ')})` : 'continuation';
  return row(
    [
      `${b.from}→${b.to}`,
      String(b.sharedFrames),
      String(b.heldFrames),
      String(b.leadFrame),
      String(b.crossfadeFrames),
      num(b.across),
      num(b.jump),
      num(b.within),
      num(b.maxStep),
      num(b.ratio),
      num(b.jumpRatio),
      num(b.opening),
      num(b.openingAcross),
      num(b.restartScore),
    ],
    plan,
    b.verdict,
  );
}

/** One line: what the boundaries add up to, with the thresholds that judged them. */
export function formatSeamSummary(report: SeamReport): string {
  const { summary: s, thresholds: t } = report;
  const ratio =
    s.continuations === 0
      ? 'no continuations'
      : `across/within median ${num(s.ratio?.median ?? null)}, max ${num(s.ratio?.max ?? null)}; jump/max step median ${num(s.jumpRatio?.median ?? null)}, max ${num(s.jumpRatio?.max ?? null)}`;
  const restart = s.restartScore ? `; restart score median ${num(s.restartScore.median)}` : '';
  return (
    `${report.segments} segments, ${s.boundaries} boundaries (${s.continuations} continuations, ${s.transitions} planned transitions): ` +
    `${ratio}${restart}; ${s.seams} seams (across/within ≥ ${t.seamRatio} or jump/max step ≥ ${t.jumpRatio}), ${s.restarts} restarts (score ≥ ${t.restartScore})`
  );
}

/** The table of boundaries, a header first; differences are mean absolute RGB differences, 0–255. */
export function formatSeamTable(report: SeamReport): string[] {
  return [
    row(
      COLUMNS.map(([name]) => name),
      'plan',
      'verdict',
    ),
    ...report.boundaries.map(boundaryRow),
  ];
}
