/** The table a batch ends with (pure: tests pin the exact text). */
import type { BatchResult, JobResult } from '../batch/batch-events.js';
import { formatClock, formatTable } from './format-dry-run.js';
import { formatEta } from './reporters/progress-reporter.js';

function row(result: JobResult): string[] {
  const time = formatEta(result.elapsedMs / 1000);
  const { outcome } = result;
  switch (outcome.status) {
    case 'done': {
      const s = outcome.summary;
      const sec = s.duration.sampleCount / s.duration.sampleRateHz;
      return [
        result.name,
        'done',
        String(s.frameCount),
        formatClock(sec),
        `${s.renderedSegments}/${s.cachedSegments}`,
        time,
        `${s.outPath}${s.stitched ? '' : ' (up to date)'}`,
      ];
    }
    case 'planned': {
      const o = outcome.report.overview;
      const wall = outcome.report.estimate.wallMs;
      return [
        result.name,
        'planned',
        String(o.frameCount),
        formatClock(o.durationSec),
        `${o.toRender}/${o.reused}`,
        wall === null ? '?' : `~${formatEta(wall / 1000)}`,
        outcome.report.outPath,
      ];
    }
    case 'failed':
      return [result.name, 'failed', '-', '-', '-', time, outcome.error.message];
    case 'interrupted':
      return [result.name, 'interrupted', '-', '-', '-', time, 'run the batch again to resume'];
  }
}

export function formatBatchSummary(batch: BatchResult, dryRun: boolean): string[] {
  const count = (status: string): number => batch.results.filter((r) => r.outcome.status === status).length;
  const parts = dryRun ? [`${count('planned')} planned`] : [`${count('done')} done`];
  if (count('failed') > 0) parts.push(`${count('failed')} failed`);
  if (count('interrupted') > 0) parts.push(`${count('interrupted')} interrupted`);
  const header = [
    'job',
    'status',
    'frames',
    'duration',
    dryRun ? 'to render/reused' : 'rendered/reused',
    dryRun ? 'engine' : 'time',
    'output or error',
  ];
  return [
    ...formatTable([header, ...batch.results.map(row)]),
    `${batch.results.length} job${batch.results.length === 1 ? '' : 's'}: ${parts.join(', ')} in ${formatEta(batch.elapsedMs / 1000)}`,
  ];
}
