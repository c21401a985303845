// ESLint: typescript-eslint's type-checked recommended rules, and the dependency rule of
// ARCHITECTURE.md as import zones: a folder may import only the folders below it. `npm test`
// runs this; test/lint-zones.test.ts proves a forbidden import fails it.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** What each folder of src/ may import (besides itself), lowest layer first. */
export const LAYERS = {
  shared: [],
  raster: ['shared'],
  ffmpeg: ['shared'],
  run: ['shared'],
  scheduling: ['shared'],
  analysis: ['shared', 'ffmpeg'],
  config: ['shared', 'analysis'],
  keyframes: ['shared', 'analysis', 'config'],
  engines: ['shared', 'raster', 'ffmpeg', 'config', 'keyframes'],
  plot: ['shared', 'raster', 'analysis', 'config', 'keyframes'],
  stitching: ['shared', 'raster', 'ffmpeg', 'config', 'keyframes'],
  pipeline: [
    'shared', 'raster', 'ffmpeg', 'run', 'scheduling', 'analysis', 'config', 'keyframes', 'engines', 'plot', 'stitching',
  ],
  'dry-run': ['shared', 'run', 'config', 'keyframes', 'engines', 'pipeline'],
  batch: ['shared', 'run', 'scheduling', 'config', 'keyframes', 'engines', 'stitching', 'pipeline', 'dry-run'],
  // The CLI reaches the work through pipeline/; from the stages it takes only option vocabularies and checks.
  cli: ['shared', 'ffmpeg', 'run', 'config', 'keyframes', 'engines', 'plot', 'stitching', 'pipeline', 'dry-run', 'batch'],
};

const FOLDERS = Object.keys(LAYERS);

const zones = FOLDERS.map((folder) => ({
  target: `./src/${folder}`,
  from: FOLDERS.filter((other) => other !== folder && !LAYERS[folder].includes(other)).map((other) => `./src/${other}`),
  message: `src/${folder} may import only ${LAYERS[folder].join(', ') || 'itself'} (ARCHITECTURE.md: dependencies point down)`,
})).filter((zone) => zone.from.length > 0);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'runs/**', '.bench-out/**', 'test/fixtures/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Tests and benches drive fakes and read JSON they just wrote: untyped access is their job.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['bin/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly' }, parserOptions: { projectService: false, project: null } },
  },
);
