import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { analysisEvents } from '../../analysis/analysis-events.js';
import { analyzeSong, type PlotFormat } from '../../pipeline/analyze-song.js';
import { usageError } from '../../shared/errors.js';
import { runCommand } from '../run-command.js';

interface AnalyzeFlags {
  out?: string;
  json?: boolean;
  events?: boolean;
  plot?: string;
  quiet?: boolean;
}

/** The plot's format from its file name: `.png` or `.svg`, anything else is a usage error. */
export function plotFormatOf(path: string): PlotFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.svg') return 'svg';
  throw usageError(
    'E_PLOT_FORMAT',
    `cannot plot to '${path}': unknown image type '${ext || '(none)'}'`,
    'give a file name ending in .png or .svg',
  );
}

export function registerAnalyze(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('analyze')
    .description('find beats, downbeats, tempo, onsets, bands and sections of a song')
    .argument('<audio>', 'the song (any format ffmpeg reads)')
    .option(
      '-o, --out <file>',
      'where to write analysis.json (default: <audio name>.analysis.json unless --json or --events)',
    )
    .option('--json', 'print the whole analysis as JSON on stdout')
    .option('--events', 'print {"beats","downbeats","onsets","bpm"} as JSON on stdout (seconds)')
    .option('--plot <file>', 'draw waveform, beats, downbeats, sections and band envelopes (.png or .svg)')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (audio: string, flags: AnalyzeFlags) => {
      const code = await runCommand(async (signal) => {
        const plotFormat = flags.plot === undefined ? undefined : plotFormatOf(flags.plot);
        if (flags.json && flags.events)
          throw usageError(
            'E_OPTIONS',
            '--json and --events both print to stdout',
            'give one of them (use -o to also write the full analysis to a file)',
          );
        const outPath =
          flags.out ??
          (flags.json || flags.events || flags.plot ? undefined : `${basename(audio, extname(audio))}.analysis.json`);
        const analysis = await analyzeSong(
          {
            audioPath: audio,
            outPath,
            plot:
              flags.plot === undefined || plotFormat === undefined
                ? undefined
                : { path: flags.plot, format: plotFormat },
          },
          { signal },
        );
        if (flags.json) process.stdout.write(`${JSON.stringify(analysis)}\n`);
        if (flags.events) process.stdout.write(`${JSON.stringify(analysisEvents(analysis))}\n`);
        if (!flags.quiet) {
          const tempo =
            analysis.bpm === null
              ? 'no beat found'
              : `${analysis.bpm} BPM (confidence ${analysis.bpmConfidence}), ${analysis.meter.timeSignature}`;
          const wrote = [outPath, flags.plot].filter((p) => p !== undefined).join(', ');
          process.stderr.write(
            `${basename(audio)}: ${analysis.source.durationSec.toFixed(2)} s, ${tempo}, ${analysis.beats.length} beats, ${analysis.downbeats.length} downbeats, ` +
              `${analysis.onsets.length} onsets, ${analysis.sections.length} sections${wrote ? `; wrote ${wrote}` : ''}\n`,
          );
        }
      });
      setExitCode(code);
    });
}
