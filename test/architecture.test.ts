/**
 * The structure rules are enforced by tools: ESLint's import zones (eslint.config.js, from
 * ARCHITECTURE.md's dependency rule) fail a forbidden import, and the package's one public
 * entry is what `import 'beatloom'` gives.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function zoneMessages(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: ROOT,
    // The zones only: the type-aware rules need the file in the TypeScript project, and it is not on disk.
    overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ruleFilter: ({ ruleId }) => ruleId === 'import-x/no-restricted-paths',
  });
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${filePath}` });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('import zones (ARCHITECTURE.md: dependencies point down)', () => {
  it.each([
    ['src/shared/x.ts', "import { runCommand } from '../cli/run-command.js';"],
    ['src/ffmpeg/x.ts', "import { frameCountFor } from '../keyframes/beat-grid.js';"],
    ['src/analysis/x.ts', "import { analysisFigure } from '../plot/analysis-figure.js';"],
    ['src/engines/preview/x.ts', "import { stitchVideo } from '../../stitching/stitch-video.js';"],
    ['src/raster/x.ts', "import { drawFrame } from '../engines/preview/draw-frame.js';"],
    ['src/run/x.ts', "import { renderSong } from '../pipeline/render-song.js';"],
    ['src/pipeline/x.ts', "import { dryRunSong } from '../dry-run/dry-run-song.js';"],
    ['src/cli/commands/x.ts', "import { analyzeFile } from '../../analysis/analyze.js';"],
  ])('%s may not import upwards: %s', async (file, code) => {
    const messages = await zoneMessages(file, `${code}\nexport const x = 1;\n`);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^import-x\/no-restricted-paths: Unexpected path .* imported in restricted zone\./);
  });

  it.each([
    ['src/stitching/x.ts', "import { encodePng } from '../raster/png.js';"],
    ['src/keyframes/x.ts', "import { frameCountFor } from '../shared/media-time.js';"],
    ['src/cli/commands/x.ts', "import { analyzeSong } from '../../pipeline/analyze-song.js';"],
  ])('%s may import downwards: %s', async (file, code) => {
    expect(await zoneMessages(file, `${code}\nexport const x = 1;\n`)).toEqual([]);
  });
});

describe("the library entry ('beatloom' through package.json exports)", () => {
  it('gives the pipeline steps and nothing of the internals', async () => {
    const script = "const m = await import('beatloom'); console.log(Object.keys(m).sort().join(' '));";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
    });
    expect(stdout.trim().split(' ')).toEqual([
      'AbortedError',
      'BeatloomError',
      'ENGINE_IDS',
      'ERROR_CODES',
      'analyzeSong',
      'createEngine',
      'dryRunSong',
      'formatFps',
      'loadBatch',
      'parseFps',
      'planSong',
      'rational',
      'renderSong',
      'runBatch',
      'verifyRender',
    ]);
  });
});
