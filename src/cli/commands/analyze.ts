import { stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { analysisEvents } from '../../analysis/analysis-events.js';
import { analysisFigure } from '../../analysis/analysis-figure.js';
import { analyzeFile } from '../../analysis/analyze.js';
import { assertReadableFile } from '../../ffmpeg/decode-audio.js';
import { renderPng } from '../../plot/render-png.js';
import { renderSvg } from '../../plot/render-svg.js';
import { usageError } from '../../shared/errors.js';
import { assertNotAnInput } from '../../shared/same-file.js';
import { writeFileAtomic, writeJsonAtomic } from '../../shared/fs-atomic.js';
import { runCommand } from '../run-command.js';

interface AnalyzeFlags {
  out?: string;
  json?: boolean;
  events?: boolean;
  plot?: string;
  quiet?: boolean;
}

export type PlotFormat = 'png' | 'svg';

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
        await assertReadableFile(audio);
        const outPath =
          flags.out ??
          (flags.json || flags.events || flags.plot ? undefined : `${basename(audio, extname(audio))}.analysis.json`);
        for (const [path, what] of [
          [outPath, 'analysis'],
          [flags.plot, 'plot'],
        ] as const) {
          if (path === undefined) continue;
          await assertNotAnInput({ path, what }, [{ path: audio, what: 'the audio input' }]);
          if ((await stat(path).catch(() => undefined))?.isDirectory())
            throw usageError(
              'E_OUTPUT_DIR',
              `${what} ${path} is a folder`,
              'give a file path, e.g. song.analysis.json',
            );
        }
        const analysis = await analyzeFile(resolve(audio), { signal });
        if (outPath !== undefined) await writeJsonAtomic(resolve(outPath), analysis);
        if (flags.plot !== undefined && plotFormat !== undefined) {
          const figure = analysisFigure(analysis);
          await writeFileAtomic(resolve(flags.plot), plotFormat === 'png' ? renderPng(figure) : renderSvg(figure));
        }
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
