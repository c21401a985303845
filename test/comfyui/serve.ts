/**
 * Runs the fake ComfyUI server on its own, to try beatloom against it by hand (and for the
 * benchmark, which runs each server in its own process):
 *
 *   npm run comfy:fake -- --port 8188 --segment-ms 500
 *   beatloom engines check --comfy-url http://127.0.0.1:8188
 *   beatloom render samples/loom-groove.mp3 -p "neon city" --engine comfyui --comfy-url http://127.0.0.1:8188 --size 128x128
 */
import { parseArgs } from 'node:util';
import { startFakeComfy } from './fake-comfy-server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8188' },
    'segment-ms': { type: 'string', default: '500' },
    'frame-step-ms': { type: 'string' },
    'history-delay-ms': { type: 'string', default: '15' },
    frames: { type: 'string', default: 'drawn' },
    checkpoint: { type: 'string', multiple: true },
  },
});
const server = await startFakeComfy({
  port: Number(values.port),
  segmentMs: Number(values['segment-ms']),
  ...(values['frame-step-ms'] === undefined ? {} : { frameStepMs: Number(values['frame-step-ms']) }),
  historyDelayMs: Number(values['history-delay-ms']),
  frames: values.frames === 'noise' ? 'noise' : 'drawn',
  checkpoints: values.checkpoint,
});
process.stdout.write(`fake ComfyUI 0.8.0 with AnimateDiff-Evolved at ${server.url} (Ctrl-C to stop)\n`);
const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
