import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadBatch } from '../../batch/load-batch.js';
import { runBatch } from '../../batch/run-batch.js';
import { AbortedError, BeatloomError } from '../../shared/errors.js';
import { addComfyOptions, assertComfyFlagsUsed, loadEngineSelection, type ComfyFlags } from '../comfy-options.js';
import { formatBatchSummary } from '../format-batch-summary.js';
import { formatDryRun } from '../format-dry-run.js';
import { createBatchReporter } from '../reporters/batch-reporter.js';
import { reporterMode } from '../reporters/progress-reporter.js';
import { runCommand } from '../run-command.js';

interface BatchFlags extends ComfyFlags {
  engine?: string;
  json?: boolean;
  quiet?: boolean;
  force?: boolean;
  dryRun?: boolean;
}

const FORMAT_HELP = `
The batch file (YAML; paths are relative to it):

  version: 1
  runsDir: runs                    # run directories: runs/<job name> (default)
  defaults:                        # for every job; each job may override any of them
    mapping: mappings/default.yaml
    prompt: neon city, rain
    negative: blurry, low quality
    engine: comfyui                # default: --engine, else the config file's, else preview
    engineOptions:                 # for comfyui: the keys of the config file's comfyui: section
      checkpoint: dreamshaper_8.safetensors
    fps: 8                         # or 24000/1001
    size: 512x512
    seed: 1234
  jobs:
    - audio: songs/first.mp3       # the job is named after the file: first
    - name: second
      audio: songs/second.flac
      prompt: ocean at dawn
      fps: 24
      out: videos/second.mp4       # default: <run dir>/out.mp4
      runDir: work/second
      engineOptions: { motionModel: animatediff_lightning_8step_comfyui.safetensors }

Engine settings, strongest first: the job, the defaults, the --comfy-* flags, BEATLOOM_COMFY_URL,
the config file (./beatloom.config.yaml or --config). ComfyUI settings merge key by key, so a job
can change the checkpoint and keep the servers; jobs with the same settings share one engine.

Jobs run at once where the engines allow: one song is analysed while another renders and a
third is encoded. A failed job never stops the others; the table at the end says what happened
to each, and the exit code is 1 if any failed. Run the same batch again to resume it.
`;

export function registerBatch(program: Command, setExitCode: (code: number) => void): void {
  const command = program
    .command('batch')
    .description('render many songs from a YAML batch file, resumably, with a summary at the end')
    .argument('<jobs.yaml>', 'the batch file')
    .option('-e, --engine <id>', 'engine for jobs that name none (default: the config file’s, else preview)')
    .option('--json', 'print progress and the result as JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--force', "ignore what every job's run directory holds: analyse, render and stitch again")
    .option('--dry-run', 'plan every job and estimate engine time; render nothing, write no video')
    .addHelpText('after', FORMAT_HELP);
  addComfyOptions(command).action(async (path: string, flags: BatchFlags) => {
    const reporter = createBatchReporter(reporterMode(flags));
    const code = await runCommand(async (signal) => {
      const base = await loadEngineSelection(flags.engine, flags);
      const batch = await loadBatch(resolve(path), base);
      assertComfyFlagsUsed(
        flags,
        batch.jobs.map((job) => job.engine.id),
      );
      const result = await runBatch(batch, {
        signal,
        onEvent: reporter.onEvent,
        force: flags.force,
        dryRun: flags.dryRun,
      });
      reporter.finish();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ type: 'result', ...result })}\n`);
      } else if (!flags.quiet) {
        if (flags.dryRun) {
          for (const job of result.results) {
            if (job.outcome.status !== 'planned') continue;
            process.stdout.write(
              `\n${job.name}\n${formatDryRun(job.outcome.report, batch.jobs[job.index]!.request.audioPath).join('\n')}\n`,
            );
          }
          process.stdout.write('\n');
        }
        process.stdout.write(`${formatBatchSummary(result, flags.dryRun === true).join('\n')}\n`);
      }
      for (const job of result.results) {
        if (job.outcome.status !== 'failed') continue;
        if (flags.quiet) process.stderr.write(`beatloom: ${job.name}: ${job.outcome.error.message}\n`);
        if (job.outcome.error.unexpected) {
          process.stderr.write(
            `beatloom: unexpected error in job ${job.name} — please report this at https://github.com/beatloom/beatloom/issues\n${job.outcome.error.stack ?? ''}\n`,
          );
        }
      }
      if (result.interrupted) throw new AbortedError();
      const failed = result.results.filter((job) => job.outcome.status === 'failed').length;
      if (failed > 0) {
        throw new BeatloomError('E_BATCH_FAILED', `${failed} of ${result.results.length} jobs failed`, {
          hint: 'see the table; run the batch again to retry them (finished jobs and segments are kept)',
        });
      }
    }, reporter.finish);
    setExitCode(code);
  });
}
