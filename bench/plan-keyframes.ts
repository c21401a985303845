/**
 * Speed of planning an hour of music: keyframes (every preset), exports and plots, on a synthetic
 * one-hour analysis at 30000/1001 fps. Prints the best of 3 runs per step (`npm run bench:plan`).
 */
import { loadMapping } from '../src/config/load-mapping.js';
import { buildKeyframes } from '../src/keyframes/build-keyframes.js';
import { exportKeyframes } from '../src/keyframes/export-keyframes.js';
import { parseFps } from '../src/shared/media-time.js';
import { plotKeyframes } from '../src/plot/keyframes-plot.js';
import { makeAnalysis, steadyBeats } from '../test/helpers/analysis.js';

const DURATION_SEC = 3600;
const RUNS = 3;
const analysis = makeAnalysis({
  durationSec: DURATION_SEC,
  gridHz: 22050 / 256,
  beats: steadyBeats(128, 0.1, DURATION_SEC),
  sections: Array.from({ length: 60 }, (_, i) => ({
    startSec: i * 60,
    label: (['intro', 'build', 'drop', 'break'] as const)[i % 4]!,
  })),
  onsets: steadyBeats(256, 0.1, DURATION_SEC),
  envelopes: {
    rms: (t) => 0.2 + 0.1 * Math.sin(t),
    low: (t) => ((t * 2.13) % 1 < 0.2 ? 1 : 0),
    loudness: (t) => 5 + Math.sin(t / 10),
    high: (t) => 0.5 + 0.5 * Math.sin(t * 13.7),
    mid: (t) => 0.5 + 0.5 * Math.sin(t * 7.1),
    onset: (t) => ((t * 4.27) % 1 < 0.1 ? 1 : 0),
  },
});

function best<T>(run: () => T): { ms: number; value: T } {
  let ms = Infinity;
  let value!: T;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    value = run();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms: Math.round(ms), value };
}

process.stdout.write(`one hour at 30000/1001 fps, best of ${RUNS} (ms); the machine may be shared\n`);
for (const name of ['default', 'four-on-the-floor', 'hip-hop-bounce', 'cinematic-swell', 'chill-drift', 'onset-cuts']) {
  const mapping = await loadMapping(new URL(`../mappings/${name}.yaml`, import.meta.url).pathname);
  const options = {
    fps: parseFps('30000/1001'),
    duration: { sampleCount: DURATION_SEC * 22050, sampleRateHz: 22050 },
    texts: { prompt: 'x', negative: 'y' },
    seed: 1,
  };
  const keyframes = best(() => buildKeyframes(analysis, mapping, options));
  const kf = keyframes.value;
  const csv = best(() => exportKeyframes('csv', kf, analysis));
  const parseq = best(() => exportKeyframes('parseq', kf, analysis));
  const deforum = best(() => exportKeyframes('deforum', kf, analysis));
  const png = best(() => plotKeyframes({ keyframes: kf, analysis, title: name }, 'png'));
  const svg = best(() => plotKeyframes({ keyframes: kf, analysis, title: name }, 'svg'));
  process.stdout.write(
    `${name.padEnd(18)} frames ${kf.frameCount} segments ${kf.segments.length}  keyframes ${keyframes.ms}  csv ${csv.ms}  parseq ${parseq.ms}  ` +
      `deforum ${deforum.ms}  png ${png.ms}  svg ${svg.ms}  keyframes.json ${(JSON.stringify(kf).length / 1e6).toFixed(1)} MB\n`,
  );
}
