import { basename } from 'node:path';
import type { Command } from 'commander';
import { verifyRender, verifyReportSchema, type VerifyReport } from '../../pipeline/verify-render.js';
import { parseFps, formatFps } from '../../shared/media-time.js';
import { BeatloomError, usageError } from '../../shared/errors.js';
import type { EventStats, SyncReport } from '../../stitching/verify-sync.js';
import { formatSeamSummary, formatSeamTable } from '../format-seams.js';
import { requireText } from '../options.js';
import { runCommand } from '../run-command.js';

interface VerifyFlags {
  audio?: string;
  fps?: string;
  flashes?: boolean;
  tolerance: string;
  runDir?: string;
  verbose?: boolean;
  json?: boolean;
}

const mark = (ok: boolean | null): string => (ok === null ? '' : ok ? '  ok' : '  FAILED');
const signed = (value: number, digits: number): string => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;

function eventLine(name: string, stats: EventStats, beats: number, tolerance: number, check: boolean | null): string {
  const offsets =
    stats.medianOffsetFrames === null
      ? 'no offsets'
      : `offset to the nearest beat: median ${signed(stats.medianOffsetFrames, 1)} frames, mean ${signed(stats.meanOffsetMs ?? 0, 1)} ms`;
  return `${name.padEnd(8)} ${stats.frames.length} found, ${stats.onBeat} within ±${tolerance} frame of a beat; ${stats.beatsHit}/${beats} beat frames hit; ${offsets}${mark(check)}`;
}

/** The report as lines for a terminal. */
export function formatSyncReport(report: SyncReport, songPath: string): string[] {
  const { video, audio, song, checks } = report;
  const frameMs = (report.frameSec * 1000).toFixed(3);
  return [
    `video    ${basename(video.path)}: ${video.frameCount} frames at ${formatFps(video.fps)} fps, ${video.durationSec.toFixed(6)} s decoded`,
    audio
      ? `audio    ${audio.sampleCount} samples at ${audio.sampleRateHz} Hz, ${audio.durationSec.toFixed(6)} s decoded`
      : 'audio    no audio track',
    `song     ${basename(songPath)}: ${song.durationSec.toFixed(6)} s, ${song.beats} beats, ${song.downbeats} bar starts`,
    `frames   ${video.frameCount}, expected ceil(D · fps) = ${report.expectedFrameCount}${mark(checks.frameCount)}`,
    `timing   video − song ${signed(report.videoMinusSongSec, 6)} s${mark(checks.videoDuration)}; audio − song ${report.audioMinusSongSec === null ? 'n/a' : `${signed(report.audioMinusSongSec, 6)} s`}${mark(checks.audioDuration)} (one frame = ${frameMs} ms)`,
    eventLine('flashes', report.flashes, report.beatFrames.length, report.toleranceFrames, checks.flashesOnBeats),
    eventLine('changes', report.changes, report.beatFrames.length, report.toleranceFrames, null),
  ];
}

/** The seam section: a summary line, and with `verbose` a line per boundary. */
export function formatSeamSection(report: VerifyReport, verbose: boolean): string[] {
  if (report.seams === null)
    return ['seams    not measured: no plan.json beside the video (--run-dir names the run directory)'];
  return [`seams    ${formatSeamSummary(report.seams)}`, ...(verbose ? formatSeamTable(report.seams) : [])];
}

function failures(report: SyncReport): string[] {
  const out: string[] = [];
  if (!report.checks.frameCount) out.push(`${report.video.frameCount} frames instead of ${report.expectedFrameCount}`);
  if (!report.checks.videoDuration) out.push(`video off the song by ${signed(report.videoMinusSongSec, 6)} s`);
  if (!report.checks.audioDuration)
    out.push(report.audio ? `audio off the song by ${signed(report.audioMinusSongSec ?? 0, 6)} s` : 'no audio track');
  if (report.checks.flashesOnBeats === false) {
    out.push(
      `flashes on ${report.flashes.beatsHit}/${report.beatFrames.length} beat frames, ${report.flashes.frames.length - report.flashes.onBeat} off the beat`,
    );
  }
  return out;
}

export function registerVerify(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('verify')
    .description(
      'check a video against its song: frame count, decoded durations, where visual changes fall on the beats, and the seams between its segments',
    )
    .argument('<video>', 'the video beatloom rendered (mp4 or webm)')
    .option('-a, --audio <song>', 'the song it was rendered from')
    .option('--fps <fps>', 'the video frame rate (default: read from its timestamps)')
    .option(
      '--flashes',
      'require a flash on every beat frame and none elsewhere (renders made with mappings/flash-test.yaml)',
    )
    .option('--tolerance <frames>', 'how many frames a flash may sit from its beat frame', '1')
    .option(
      '--run-dir <dir>',
      'the run directory whose segment seams to measure (default: the video’s folder when it holds plan.json)',
    )
    .option('--verbose', 'print a line per segment boundary')
    .option('--json', 'print the report as one JSON line on stdout (every boundary included)')
    .action(async (video: string, flags: VerifyFlags) => {
      const code = await runCommand(async (signal) => {
        const audioPath = requireText(flags.audio, '--audio', 'song.mp3');
        const fps = flags.fps === undefined ? undefined : parseFps(flags.fps);
        const toleranceFrames = Number(flags.tolerance);
        if (!/^\d+$/.test(flags.tolerance.trim()) || toleranceFrames > 100) {
          throw usageError(
            'E_OPTION',
            `invalid --tolerance: '${flags.tolerance}'`,
            'give a whole number of frames, e.g. 1',
          );
        }
        const report = await verifyRender(
          {
            videoPath: video,
            audioPath,
            fps,
            toleranceFrames,
            expectFlashes: flags.flashes === true,
            runDir: flags.runDir,
          },
          { signal },
        );
        if (flags.json) process.stdout.write(`${JSON.stringify(verifyReportSchema.encode(report))}\n`);
        else {
          const lines = [...formatSyncReport(report, audioPath), ...formatSeamSection(report, flags.verbose === true)];
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        if (!report.ok)
          throw new BeatloomError('E_SYNC', `sync check failed: ${failures(report).join('; ')}`, {
            hint: 'see the report above',
          });
      });
      setExitCode(code);
    });
}
