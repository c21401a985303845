/**
 * The CLI against servers that never answer: the error is printed within the bound the defaults
 * promise, and the process exits right after it — no request, retry, socket or child process
 * left to wait on (issue 11: error after 91 s, exit at 181 s).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeComfy, startSilentServer } from './comfyui/fake-comfy-server.js';
import { ROOT, runCli } from './helpers/cli.js';
import { makeClickTrack, tempDir } from './helpers/media.js';

const DEFAULT_MAPPING = join(ROOT, 'mappings', 'default.yaml');

const NO_ENV = { BEATLOOM_COMFY_URL: undefined };
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** Runs the CLI, noting when the error line appeared and when the process ended. */
async function timed(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stderr: string; errorAtMs: number; exitAtMs: number }> {
  const started = performance.now();
  let errorAtMs = Number.NaN;
  const result = await runCli(args, {
    cwd,
    env: NO_ENV,
    onStderr: (text) => {
      if (Number.isNaN(errorAtMs) && text.includes('beatloom: error:')) errorAtMs = performance.now() - started;
    },
  });
  return { ...result, errorAtMs, exitAtMs: performance.now() - started };
}

describe('no server can make beatloom hang', () => {
  it('a host:port that accepts and never answers: reported within 30 s with the default settings, exit at once', async () => {
    const silent = await startSilentServer();
    open.push(silent);
    const dir = await tempDir();
    const song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 2, bpm: 120 });
    const result = await timed(
      ['render', song, '-p', 'x', '--engine', 'comfyui', '--comfy-url', silent.url, '--run-dir', join(dir, 'run')],
      dir,
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      `beatloom: error: cannot use any ComfyUI server: ComfyUI at ${silent.url} did not answer GET /system_stats within 10000 ms — start ComfyUI (python main.py --listen) or fix --comfy-url`,
    );
    // Generous bounds that prove "does not hang" (before: 91 s to the error, 181 s to exit).
    expect(result.errorAtMs).toBeLessThan(30_000);
    expect(result.exitAtMs - result.errorAtMs).toBeLessThan(3_000);
  });

  it('the first permanent failure stops every other segment, even on a server that stopped answering', async () => {
    const [a, b] = await Promise.all([startFakeComfy({ segmentMs: 400 }), startFakeComfy({ segmentMs: 20_000 })]);
    open.push(a, b);
    const dir = await tempDir();
    const song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 8, bpm: 120 });
    // Segments from noise, so both servers get one at once (continuations of one seed go in order).
    const mapping = join(dir, 'none.yaml');
    await writeFile(mapping, (await readFile(DEFAULT_MAPPING, 'utf8')).replace(/continuity: \w+/, 'continuity: none'));
    // b takes a segment that would run 20 s, then stops answering anything (the cancel included).
    let armed = false;
    const arm = setInterval(() => {
      if (armed || b.prompts.length === 0) return;
      armed = true;
      for (const path of ['/queue', '/interrupt', '/history', '/prompt', '/view'])
        b.faults.hangHttp.push({ path, times: 1_000 });
      // Not out of memory (that is retried after POST /free): an error every server would give.
      a.faults.errorAtStep = { step: 2, type: 'RuntimeError', message: 'mat1 and mat2 shapes cannot be multiplied' };
    }, 20);
    const result = await timed(
      [
        'render',
        song,
        '-p',
        'x',
        '--engine',
        'comfyui',
        '--comfy-url',
        `${a.url},${b.url}`,
        '--size',
        '64x64',
        '--mapping',
        mapping,
        '--run-dir',
        join(dir, 'run'),
      ],
      dir,
    ).finally(() => clearInterval(arm));
    expect(armed).toBe(true);
    // The render ended while b's segment still ran: nothing waited for it.
    expect(b.prompts[0]!.status).toBe('running');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/beatloom: error: .*mat1 and mat2 shapes cannot be multiplied/);
    // Stopped at once: b's 20 s segment and its unanswered cancel do not hold the error or the exit.
    expect(result.errorAtMs).toBeLessThan(45_000);
    expect(result.exitAtMs - result.errorAtMs).toBeLessThan(3_000);
  });
});
