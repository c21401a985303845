/**
 * A whole 4-step 16-frame 64×64 segment on the native engine and in ComfyUI + AnimateDiff-Evolved
 * from the same starting noise (the native engine's frame-indexed noise of seed 7), compared.
 *
 *   npx tsx scripts/native/compare-segment.ts --tiny [--fixture]          # the CI test model
 *   npx tsx scripts/native/compare-segment.ts --checkpoint sd15.safetensors --motion-model mm.safetensors
 *
 * Needs the comfyui-cpu tool (COMFY_TOOL, default /work/tools/comfyui-cpu; its chroot at
 * COMFY_REAL_ROOT, default /opt/comfy-real/trixie). Model files must lie inside the chroot (the
 * defaults of --real do: its own random-weight models). --fixture writes the tiny model's
 * reference into test/fixtures/native/native-segment-tiny.safetensors for test/native-segment.test.ts.
 * Prints max absolute and relative errors of the latents and the decoded frames.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  decodeNativeFrame,
  prepareNativeDeployment,
  sampleNativeLatents,
  releaseSessions,
} from '../../src/engines/native/native-engine.js';
import { resolveNativeSettings } from '../../src/engines/native/native-settings.js';
import { readSafetensors, readTensorFloat32, writeSafetensors } from '../../src/engines/native/safetensors.js';
import { segmentNoise } from '../../src/engines/native/frame-noise.js';
import {
  SEGMENT_MOTION,
  SEGMENT_NEGATIVE,
  SEGMENT_PROMPT,
  errors,
  segmentJob,
} from '../../test/helpers/native-segment-case.js';
import { writeTinyModels } from '../../test/helpers/native-tiny-model.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tiny: { type: 'boolean', default: false },
      fixture: { type: 'boolean', default: false },
      checkpoint: { type: 'string' },
      'motion-model': { type: 'string' },
      frames: { type: 'string', default: '16' },
      size: { type: 'string', default: '64' },
      cfg: { type: 'string', default: '1' },
      steps: { type: 'string', default: '4' },
      'cache-dir': { type: 'string' },
    },
  });
  const tool = process.env.COMFY_TOOL ?? '/work/tools/comfyui-cpu';
  const root = process.env.COMFY_REAL_ROOT ?? '/opt/comfy-real/trixie';
  const frames = Number(values.frames);
  const size = Number(values.size);
  const cfg = Number(values.cfg);
  const steps = Number(values.steps);
  const motion = Array.from({ length: frames }, (_, i) => SEGMENT_MOTION[i % SEGMENT_MOTION.length]!);
  const work = join(root, 'srv', 'work', `native-segment-${values.tiny ? 'tiny' : 'full'}`);
  mkdirSync(work, { recursive: true });
  let checkpoint: string;
  let motionModel: string;
  if (values.tiny) {
    const models = await writeTinyModels(work);
    checkpoint = models.checkpointPath;
    motionModel = models.motionModulePath;
  } else {
    checkpoint = resolve(values.checkpoint ?? join(root, 'srv/comfyui/models/checkpoints/sd15_random.safetensors'));
    motionModel = resolve(
      values['motion-model'] ??
        join(
          root,
          'srv/comfyui/custom_nodes/ComfyUI-AnimateDiff-Evolved/models/animatediff_lightning_4step_comfyui.safetensors',
        ),
    );
  }
  const inChroot = (path: string): string => {
    const rel = relative(root, path);
    if (rel.startsWith('..')) throw new Error(`${path} is outside the chroot ${root}: copy it in first`);
    return `/${rel}`;
  };
  const job = { ...segmentJob(size, frames, cfg, motion), steps };
  const frameSize = 4 * (size / 8) * (size / 8);
  const noise = segmentNoise(job.seed, job.startFrame, frames, frameSize);
  writeFileSync(join(work, 'noise.f32'), Buffer.from(noise.buffer));

  const started = performance.now();
  const python = spawnSync(
    'bash',
    [
      join(tool, 'run.sh'),
      'py',
      resolve('scripts/native/reference-segment.py'),
      inChroot(checkpoint),
      inChroot(motionModel),
      inChroot(join(work, 'noise.f32')),
      inChroot(join(work, 'reference.safetensors')),
      String(frames),
      String(size),
      String(steps),
      String(cfg),
      SEGMENT_PROMPT,
      SEGMENT_NEGATIVE,
      motion.join(','),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (python.status !== 0) throw new Error(`the reference script failed (exit ${python.status})`);
  const referenceMs = performance.now() - started;

  const settings = resolveNativeSettings({
    checkpoint,
    motionModel,
    cacheDir: values['cache-dir'] ?? join(work, 'graphs'),
    provider: 'cpu',
    steps,
  });
  const deployment = await prepareNativeDeployment(settings);
  const sampled = performance.now();
  const latents = await sampleNativeLatents(deployment, job, { workDir: work, noise });
  const images = new Float32Array(frames * 3 * size * size);
  for (let j = 0; j < frames; j++)
    images.set(await decodeNativeFrame(deployment, latents, j, size, size), j * 3 * size * size);
  const nativeMs = performance.now() - sampled;

  const reference = await readSafetensors(join(work, 'reference.safetensors'));
  const refLatent = await readTensorFloat32(reference, 'latent');
  const refImages = await readTensorFloat32(reference, 'images');
  const report = {
    model: values.tiny ? 'tiny test model' : 'SD 1.5 + AnimateDiff-Lightning 4-step, random weights',
    frames,
    size,
    steps,
    cfg,
    latent: errors(latents.samples, refLatent),
    images: errors(images, refImages),
    nativeSegmentSec: nativeMs / 1000,
    referenceScriptSec: referenceMs / 1000,
    graphBuildSec: deployment.buildMs / 1000,
    sessionLoadSec: deployment.loadMs / 1000,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  await releaseSessions(deployment.sessions);

  if (values.fixture) {
    const framePlane = 3 * size * size;
    const fixture = resolve('test/fixtures/native/native-segment-tiny.safetensors');
    await writeSafetensors(
      fixture,
      [
        { name: 'noise', dtype: 'F32', shape: [frames, 4, size / 8, size / 8], data: noise },
        { name: 'latent', dtype: 'F32', shape: [frames, 4, size / 8, size / 8], data: refLatent },
        {
          name: 'images_first_last',
          dtype: 'F32',
          shape: [2, 3, size, size],
          data: Float32Array.from([
            ...refImages.subarray(0, framePlane),
            ...refImages.subarray((frames - 1) * framePlane, frames * framePlane),
          ]),
        },
      ],
      { source: 'scripts/native/compare-segment.ts --tiny --fixture (ComfyUI 0.8.0 + AnimateDiff-Evolved)' },
    );
    copyFileSync(fixture, join(work, 'fixture.safetensors'));
    process.stdout.write(`wrote ${fixture}\n`);
  }
}

await main();
