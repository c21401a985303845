/**
 * Child process of the analysis benchmark: analyses one file as `beatloom analyze -o` does
 * (analysis + JSON written to disk) and prints its own peak resident memory as JSON.
 *
 *   node --import tsx bench/analysis/measure-long-file.ts <audio> <out.json>
 */
import { analyzeFile } from '../../src/analysis/analyze.js';
import { writeJsonAtomic } from '../../src/shared/fs-atomic.js';

const [audio, out] = process.argv.slice(2);
if (audio === undefined || out === undefined) throw new Error('usage: measure-long-file.ts <audio> <out.json>');
const started = performance.now();
const analysis = await analyzeFile(audio);
await writeJsonAtomic(out, analysis);
const wallSec = (performance.now() - started) / 1000;
// resourceUsage().maxRSS is in kilobytes.
const maxRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(
  `${JSON.stringify({ durationSec: analysis.source.durationSec, wallSec, maxRssMb, beats: analysis.beats.length })}\n`,
);
