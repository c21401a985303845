import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseFps, formatFps } from '../../shared/media-time.js';
import { dryRunSong } from '../../dry-run/dry-run-song.js';
import { renderSong } from '../../pipeline/render-song.js';
import type { RenderRequest } from '../../pipeline/render-request.js';
import { DEFAULT_MAPPING_PATH } from '../../shared/package-root.js';
import { assertReadableFile } from '../../ffmpeg/decode-audio.js';
import { addComfyOptions, resolveEngineSelection, type ComfyFlags } from '../comfy-options.js';
import { formatDryRun } from '../format-dry-run.js';
import { DEFAULT_NEGATIVE_PROMPT } from '../../config/prompt-texts.js';
import { parseSeed, parseSize } from '../options.js';
import { addOutputOptions, outputSettingsFromFlags, type OutputFlags } from '../output-flags.js';
import { reportWarnings } from '../reporters/report-warnings.js';
import { createReporter, reporterMode } from '../reporters/progress-reporter.js';
import { runCommand } from '../run-command.js';

interface RenderFlags extends ComfyFlags, OutputFlags {
  prompt?: string;
  negative?: string;
  out?: string;
  mapping?: string;
  engine?: string;
  fps: string;
  size: string;
  seed: string;
  runDir?: string;
  json?: boolean;
  quiet?: boolean;
  force?: boolean;
  dryRun?: boolean;
}

export function registerRender(program: Command, setExitCode: (code: number) => void): void {
  const command = program
    .command('render')
    .description('turn a song and a prompt into a music video')
    .argument('<audio>', 'the song (any format ffmpeg reads)')
    .option('-p, --prompt <text>', 'what the video shows, e.g. "neon city, rain" ({prompt} in the mapping)')
    .option(
      '-n, --negative <text>',
      `what it should avoid ({negative} in the mapping; default: "${DEFAULT_NEGATIVE_PROMPT}")`,
    )
    .option(
      '-o, --out <path>',
      'the video to write (default: <run-dir>/out.mp4, out.webm for vp9), or the folder for --frames-only',
    )
    .option('-m, --mapping <yaml>', 'how the music drives the picture (default: mappings/default.yaml)')
    .option('-e, --engine <id>', 'render engine: preview, comfyui or native (default: the config file’s, else preview)')
    .option('--fps <fps>', 'frame rate: an integer or a ratio like 24000/1001', '8')
    .option('--size <WxH>', 'frame size in pixels', '512x512')
    .option('--seed <n>', 'base seed', '1234')
    .option('--run-dir <dir>', 'where artifacts go (default: runs/<audio name>)')
    .option('--json', 'print progress and the result as JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--force', 'ignore what the run directory holds: analyse, render every segment and stitch again')
    .option('--dry-run', 'print the plan and an estimate of engine time; render nothing, write no video');
  addOutputOptions(command);
  addComfyOptions(command).action(async (audio: string, flags: RenderFlags) => {
    const reporter = createReporter(reporterMode(flags));
    const onNotice = (message: string): void => {
      if (flags.quiet) return;
      if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'notice', message })}\n`);
      else {
        reporter.finish();
        process.stderr.write(`beatloom: note: ${message}\n`);
      }
    };
    const code = await runCommand(async (signal) => {
      const selection = await resolveEngineSelection(flags.engine, flags);
      const fps = parseFps(flags.fps);
      const size = parseSize(flags.size);
      const seed = parseSeed(flags.seed);
      const output = outputSettingsFromFlags(flags, size, fps);
      await assertReadableFile(audio);
      const runDir = resolve(flags.runDir ?? join('runs', basename(audio, extname(audio))));
      const request: RenderRequest = {
        audioPath: resolve(audio),
        prompt: flags.prompt,
        negativePrompt: flags.negative,
        mappingPath: resolve(flags.mapping ?? DEFAULT_MAPPING_PATH),
        engineId: selection.engineId,
        engineOptions: { comfyui: selection.comfyui, native: selection.native, onNotice },
        fps,
        width: size.width,
        height: size.height,
        seed,
        runDir,
        outPath: flags.out === undefined ? undefined : resolve(flags.out),
        output,
        readFiles: selection.configPath === undefined ? [] : [{ path: selection.configPath, what: 'the config file' }],
      };
      if (flags.dryRun) {
        const report = await dryRunSong(request, { signal, onProgress: reporter.onProgress, force: flags.force });
        reporter.finish();
        if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'dry-run', ...report })}\n`);
        else if (!flags.quiet) process.stdout.write(`${formatDryRun(report, request.audioPath).join('\n')}\n`);
        return;
      }
      const summary = await renderSong(request, { signal, onProgress: reporter.onProgress, force: flags.force });
      reporter.finish();
      reportWarnings(summary.warnings, flags);
      const durationSec = summary.duration.sampleCount / summary.duration.sampleRateHz;
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ type: 'result', ...summary, outputFps: formatFps(summary.outputFps), fps: formatFps(summary.outputFps), durationSec })}\n`,
        );
      } else if (!flags.quiet) {
        const cached = summary.cachedSegments > 0 ? ` (${summary.cachedSegments} reused)` : '';
        process.stderr.write(
          `${summary.stitched ? 'wrote' : 'up to date:'} ${summary.outPath}: ${summary.frameCount} frames at ${formatFps(summary.outputFps)} fps, ${durationSec.toFixed(3)} s, ` +
            `${summary.segments} segments${cached}, ${summary.bpm ? `${summary.bpm} BPM` : 'no beat found'}\n`,
        );
      }
    }, reporter.finish);
    setExitCode(code);
  });
}
