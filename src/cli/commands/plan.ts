import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_NEGATIVE_PROMPT } from '../../config/prompt-texts.js';
import { assertReadableFile } from '../../ffmpeg/decode-audio.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../keyframes/export-keyframes.js';
import { formatFps, parseFps } from '../../shared/media-time.js';
import { planSong } from '../../pipeline/plan-song.js';
import { PLOT_FORMATS, type PlotFormat } from '../../plot/keyframes-plot.js';
import { usageError } from '../../shared/errors.js';
import { DEFAULT_MAPPING_PATH } from '../../shared/package-root.js';
import { parseSeed } from '../options.js';
import { createReporter, reporterMode } from '../reporters/progress-reporter.js';
import { reportWarnings } from '../reporters/report-warnings.js';
import { runCommand } from '../run-command.js';

interface PlanFlags {
  mapping?: string;
  out?: string;
  prompt?: string;
  negative?: string;
  fps: string;
  seed: string;
  runDir?: string;
  plot?: string;
  export?: string;
  json?: boolean;
  quiet?: boolean;
}

function parsePlotPath(path: string): { path: string; format: PlotFormat } {
  const ext = extname(path).slice(1).toLowerCase();
  if (!(PLOT_FORMATS as readonly string[]).includes(ext)) {
    throw usageError(
      'E_PLOT_FORMAT',
      `--plot ${path}: the picture must be a .png or .svg file`,
      'name it e.g. plan.png or plan.svg',
    );
  }
  return { path: resolve(path), format: ext as PlotFormat };
}

function parseExportFormat(text: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(text)) {
    throw usageError('E_EXPORT_FORMAT', `unknown export format '${text}'`, `use one of: ${EXPORT_FORMATS.join(', ')}`);
  }
  return text as ExportFormat;
}

export function registerPlan(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('plan')
    .description(
      'turn a song and a mapping into keyframes.json; draw it, or export it for Parseq, Deforum or a spreadsheet',
    )
    .argument('<audio>', 'the song (any format ffmpeg reads)')
    .option('-m, --mapping <yaml>', 'how the music drives the picture (default: mappings/default.yaml)')
    .option('-o, --out <file>', 'where keyframes.json goes (default: <run-dir>/keyframes.json)')
    .option('-p, --prompt <text>', 'what {prompt} in the mapping stands for, e.g. "neon city, rain"')
    .option('-n, --negative <text>', `what {negative} stands for (default: "${DEFAULT_NEGATIVE_PROMPT}")`)
    .option('--fps <fps>', 'frame rate: an integer or a ratio like 24000/1001', '8')
    .option('--seed <n>', 'base seed', '1234')
    .option('--run-dir <dir>', 'where the analysis is cached (default: runs/<audio name>)')
    .option('--plot <file>', 'draw the plan: waveform, beats, sections, segments and every curve (.png or .svg)')
    .option('--export <format>', `print the keyframes for another tool: ${EXPORT_FORMATS.join(', ')}`)
    .option('--json', 'print progress and the result as JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors (and the export)')
    .action(async (audio: string, flags: PlanFlags) => {
      const reporter = createReporter(reporterMode(flags));
      const code = await runCommand(async (signal) => {
        const fps = parseFps(flags.fps);
        const seed = parseSeed(flags.seed);
        const plot = flags.plot === undefined ? undefined : parsePlotPath(flags.plot);
        const exportFormat = flags.export === undefined ? undefined : parseExportFormat(flags.export);
        if (exportFormat && flags.json) {
          throw usageError(
            'E_OPTION_CONFLICT',
            '--export and --json both print on stdout',
            'leave out --json, or use the keyframes.json file instead of --export',
          );
        }
        await assertReadableFile(audio);
        const runDir = resolve(flags.runDir ?? join('runs', basename(audio, extname(audio))));
        const result = await planSong(
          {
            audioPath: resolve(audio),
            mappingPath: resolve(flags.mapping ?? DEFAULT_MAPPING_PATH),
            prompt: flags.prompt,
            negativePrompt: flags.negative,
            fps,
            seed,
            runDir,
            keyframesPath: flags.out === undefined ? undefined : resolve(flags.out),
            plot,
            exportFormat,
          },
          { signal, onProgress: reporter.onProgress },
        );
        reporter.finish();
        const { keyframes } = result;
        reportWarnings(keyframes.warnings, flags);
        if (flags.json) {
          process.stdout.write(
            `${JSON.stringify({
              type: 'result',
              keyframesPath: result.keyframesPath,
              plotPath: result.plotPath ?? null,
              fps: formatFps(fps),
              frameCount: keyframes.frameCount,
              durationSec: keyframes.durationSec,
              segments: keyframes.segments.length,
              bpm: keyframes.bpm,
            })}\n`,
          );
        } else if (!flags.quiet) {
          const seeds = new Set(keyframes.segments.map((s) => s.seed)).size;
          process.stderr.write(
            `wrote ${result.keyframesPath}: ${keyframes.frameCount} frames at ${keyframes.fps} fps, ${keyframes.segments.length} segments, ` +
              `${seeds} seed${seeds === 1 ? '' : 's'}, ${keyframes.prompts.length} prompt${keyframes.prompts.length === 1 ? '' : 's'}, ` +
              `${keyframes.bpm ? `${keyframes.bpm} BPM` : 'no beat found'}\n`,
          );
          if (result.plotPath) process.stderr.write(`wrote ${result.plotPath}\n`);
        }
        if (result.exportText !== undefined) process.stdout.write(result.exportText);
      }, reporter.finish);
      setExitCode(code);
    });
}
