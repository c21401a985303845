import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { assertEngineId } from '../../engines/registry.js';
import { parseFps } from '../../keyframes/time.js';
import { renderSong } from '../../pipeline/render-song.js';
import { DEFAULT_MAPPING_PATH } from '../../shared/package-root.js';
import { assertReadableFile } from '../../ffmpeg/decode-audio.js';
import { parseSeed, parseSize, requireText } from '../options.js';
import { addOutputOptions, outputSettingsFromFlags, type OutputFlags } from '../output-flags.js';
import { createReporter, reporterMode } from '../reporters/progress-reporter.js';
import { runCommand } from '../run-command.js';

interface RenderFlags extends OutputFlags {
  prompt?: string;
  negative: string;
  out?: string;
  mapping?: string;
  engine: string;
  fps: string;
  size: string;
  seed: string;
  runDir?: string;
  json?: boolean;
  quiet?: boolean;
}

export const DEFAULT_NEGATIVE_PROMPT = 'blurry, low quality, watermark, text';

export function registerRender(program: Command, setExitCode: (code: number) => void): void {
  const render = program
    .command('render')
    .description('turn a song and a prompt into a music video')
    .argument('<audio>', 'the song (any format ffmpeg reads)')
    .option('-p, --prompt <text>', 'what the video shows, e.g. "neon city, rain"')
    .option('-n, --negative <text>', 'what it should avoid', DEFAULT_NEGATIVE_PROMPT)
    .option('-o, --out <path>', 'the video to write (default: <run-dir>/out.mp4, out.webm for vp9), or the folder for --frames-only')
    .option('-m, --mapping <yaml>', 'how the music drives the picture (default: mappings/default.yaml)')
    .option('-e, --engine <id>', 'render engine: preview', 'preview')
    .option('--fps <fps>', 'frame rate: an integer or a ratio like 24000/1001', '8')
    .option('--size <WxH>', 'frame size in pixels', '512x512')
    .option('--seed <n>', 'base seed', '1234')
    .option('--run-dir <dir>', 'where artifacts go (default: runs/<audio name>)')
    .option('--json', 'print progress and the result as JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (audio: string, flags: RenderFlags) => {
      const reporter = createReporter(reporterMode(flags));
      const code = await runCommand(async (signal) => {
        const prompt = requireText(flags.prompt, '--prompt', '"neon city, rain"');
        const engineId = assertEngineId(flags.engine);
        const fps = parseFps(flags.fps);
        const size = parseSize(flags.size);
        const seed = parseSeed(flags.seed);
        const output = outputSettingsFromFlags(flags, size, fps);
        await assertReadableFile(audio);
        const runDir = resolve(flags.runDir ?? join('runs', basename(audio, extname(audio))));
        const summary = await renderSong(
          {
            audioPath: resolve(audio),
            prompt,
            negativePrompt: flags.negative,
            mappingPath: resolve(flags.mapping ?? DEFAULT_MAPPING_PATH),
            engineId,
            fps,
            width: size.width,
            height: size.height,
            seed,
            runDir,
            outPath: flags.out === undefined ? undefined : resolve(flags.out),
            output,
          },
          { signal, onProgress: reporter.onProgress },
        );
        reporter.finish();
        const durationSec = summary.duration.sampleCount / summary.duration.sampleRateHz;
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ type: 'result', ...summary, fps: summary.outputFps, durationSec })}\n`);
        } else if (!flags.quiet) {
          const cached = summary.cachedSegments > 0 ? ` (${summary.cachedSegments} reused)` : '';
          process.stderr.write(
            `wrote ${summary.outPath}: ${summary.frameCount} frames at ${summary.outputFps} fps, ${durationSec.toFixed(3)} s, ` +
              `${summary.segments} segments${cached}, ${summary.bpm ? `${summary.bpm} BPM` : 'no beat found'}\n`,
          );
        }
      }, reporter.finish);
      setExitCode(code);
    });
  addOutputOptions(render);
}
