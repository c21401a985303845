/**
 * Seams of finished renders (src/pipeline/measure-seams.ts, issue 13): for each run directory the
 * table of boundaries and its summary, then one row per run to compare continuity modes.
 *
 *   npm run bench:seams -- runs/loom-groove runs/loom-groove-chain
 *   npm run bench:seams -- --summary runs/a runs/b     # only the comparison rows
 *   npm run bench:seams -- --json runs/a               # one JSON report per run directory
 *
 * Differences are mean absolute RGB differences (0–255). `across`: the two segments on the frames
 * they share; `within`: the median step between neighbouring frames inside them; `ratio`: across
 * over within (≈ 0 for one continuous take); `jumpr`: the step at the lead frame over the largest
 * step inside the segments (≤ 1 for one take); `restart`: 1 − opening / openingAcross (1 when a
 * segment opens as its predecessor opened). Planned transitions (new seed or section) are counted
 * apart. The definitions are at the top of src/pipeline/measure-seams.ts.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatSeamSummary, formatSeamTable } from '../../src/cli/format-seams.js';
import { measureSeams, seamReportSchema, type SeamReport } from '../../src/pipeline/measure-seams.js';
import { BeatloomError, formatErrorLine } from '../../src/shared/errors.js';

const args = process.argv.slice(2);
const summaryOnly = args.includes('--summary');
const json = args.includes('--json');
const dirs = args.filter((a) => !a.startsWith('--'));
if (dirs.length === 0) {
  process.stderr.write('usage: npm run bench:seams -- [--summary] [--json] RUN_DIR…\n');
  process.exit(2);
}

/** The plan's engine and continuity, as plan.json names them (whatever modes it has). */
async function planLabel(dir: string): Promise<{ engine: string; continuity: string }> {
  const plan = JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')) as { engine?: unknown; continuity?: unknown };
  return { engine: String(plan.engine ?? '?'), continuity: String(plan.continuity ?? '?') };
}

const num = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : v.toFixed(2));

const rows: string[][] = [];
let failed = false;
for (const dir of dirs.map((d) => resolve(d))) {
  let report: SeamReport;
  try {
    report = await measureSeams(dir);
  } catch (error) {
    if (!(error instanceof BeatloomError)) throw error;
    process.stderr.write(`${dir}: ${formatErrorLine(error)}\n`);
    failed = true;
    continue;
  }
  const { engine, continuity } = await planLabel(dir);
  if (json) process.stdout.write(`${JSON.stringify({ engine, continuity, ...seamReportSchema.encode(report) })}\n`);
  else if (!summaryOnly) {
    process.stdout.write(`\n${dir} (engine ${engine}, continuity ${continuity}, ${report.width}x${report.height})\n`);
    process.stdout.write(`${formatSeamTable(report).join('\n')}\n  ${formatSeamSummary(report)}\n`);
  }
  const s = report.summary;
  rows.push([
    dir,
    engine,
    continuity,
    String(report.segments),
    `${s.continuations}/${s.transitions}`,
    num(s.across?.median),
    num(s.within?.median),
    num(s.ratio?.median),
    num(s.ratio?.max),
    num(s.jumpRatio?.median),
    num(s.jumpRatio?.max),
    num(s.restartScore?.median),
    num(s.restartScore?.max),
    String(s.seams),
    String(s.restarts),
  ]);
}

if (!json && rows.length > 0) {
  const header = [
    'run',
    'engine',
    'continuity',
    'segs',
    'cont/trans',
    'across~',
    'within~',
    'ratio~',
    'ratio^',
    'jumpr~',
    'jumpr^',
    'restart~',
    'restart^',
    'seams',
    'restarts',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${line(header)}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(
    '(~ median, ^ max; across, within, ratio = across/within, jumpr = jump/max step over continuations; restart over every boundary)\n',
  );
}
if (failed) process.exitCode = 1;
