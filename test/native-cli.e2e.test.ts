/**
 * `beatloom render --engine native` end to end on the tiny model (CPU onnxruntime), checked by
 * decoding the video; the native flags, config file section and `engines check` from the CLI.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { decodeVideoFrames, makeClickTrack, meanAbsDiff, tempDir } from './helpers/media.js';
import { writeTinyModels, type TinyModelPaths } from './helpers/native-tiny-model.js';

describe('beatloom render --engine native', () => {
  let dir: string;
  let song: string;
  let models: TinyModelPaths;

  beforeAll(async () => {
    dir = await tempDir('beatloom-native-cli-');
    song = join(dir, 'song.wav');
    await makeClickTrack(song, { durationSec: 2.5, bpm: 120 });
    models = await writeTinyModels(dir);
  });

  it('renders a video of diffusion frames with the tiny model: ceil(D · fps) frames that move', async () => {
    const out = join(dir, 'out.mp4');
    const result = await runCli([
      'render',
      song,
      '--prompt',
      'neon city, rain',
      '--engine',
      'native',
      '--native-checkpoint',
      models.checkpointPath,
      '--native-motion-model',
      models.motionModulePath,
      '--native-cache-dir',
      join(dir, 'graphs'),
      '--size',
      '64x64',
      '--fps',
      '8',
      '--run-dir',
      join(dir, 'run'),
      '-o',
      out,
      '--quiet',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const frames = await decodeVideoFrames(out, 64, 64);
    expect(frames).toHaveLength(20);
    expect(meanAbsDiff(frames[0]!, frames[10]!)).toBeGreaterThan(0);
  });

  it('says the native flags need the native engine', async () => {
    const result = await runCli(['render', song, '--prompt', 'x', '--native-checkpoint', models.checkpointPath]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--native-checkpoint only apply to the native engine');
  });

  it('says what the native engine is missing', async () => {
    const result = await runCli(['render', song, '--prompt', 'x', '--engine', 'native', '--run-dir', join(dir, 'r2')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('needs an SD 1.5 checkpoint');
    expect(result.stderr).toContain('--native-checkpoint');
  });

  it('reads the native section of the config file, paths relative to it, for engines check', async () => {
    const config = join(dir, 'beatloom.config.yaml');
    await writeFile(
      config,
      [
        'engine: native',
        'native:',
        `  checkpoint: ${models.checkpointPath.split('/').at(-1)}`,
        `  motionModel: ${models.motionModulePath.split('/').at(-1)}`,
        '  cacheDir: graphs',
        '  provider: cpu',
        '',
      ].join('\n'),
    );
    const result = await runCli(['engines', 'check', '--engine', 'native', '--config', config]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/native engine ready on the CPU \(4-step 64-wide model\): ready/);
    expect(result.code).toBe(0);
  });
});
