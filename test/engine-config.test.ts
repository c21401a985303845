import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLoraFlag, parseStepsFlag } from '../src/cli/comfy-options.js';
import { loadConfigFile, parseConfigFile, selectEngine, splitUrlList } from '../src/engines/engine-config.js';
import { tempDir } from './helpers/media.js';

describe('engine config file', () => {
  it('reads engine and comfyui settings; paths are relative to the file', () => {
    const text = [
      'engine: comfyui',
      'comfyui:',
      '  url: [http://gpu1:8188, http://gpu2:8188]',
      '  checkpoint: epicrealism.safetensors',
      '  motionModel: animatediff_lightning_8step_comfyui.safetensors',
      '  loras:',
      '    - name: film.safetensors',
      '      strengthModel: 0.7',
      '  workflow: flows/animate.json',
      '  workflowMap: flows/animate.map.yaml',
      '  requestTimeoutMs: 60000',
      '',
    ].join('\n');
    expect(parseConfigFile(text, '/projects/video/beatloom.config.yaml')).toEqual({
      engine: 'comfyui',
      comfyui: {
        url: ['http://gpu1:8188', 'http://gpu2:8188'],
        checkpoint: 'epicrealism.safetensors',
        motionModel: 'animatediff_lightning_8step_comfyui.safetensors',
        loras: [{ name: 'film.safetensors', strengthModel: 0.7, strengthClip: 1 }],
        workflow: '/projects/video/flows/animate.json',
        workflowMap: '/projects/video/flows/animate.map.yaml',
        requestTimeoutMs: 60000,
      },
    });
    expect(parseConfigFile('', 'empty.yaml')).toEqual({});
  });

  it.each([
    ['comfyui:\n  urls: http://x\n', "c.yaml:2:3: comfyui: unknown key 'urls'"],
    ['comfyui:\n  steps: four\n', 'c.yaml:2:10: comfyui.steps: expected number, received string'],
    ['comfyui:\n  loras:\n    - strength: 1\n', 'c.yaml:3:7: comfyui.loras[0].name: missing'],
    ['engine: [x\n', 'c.yaml:2:1: invalid YAML'],
  ])('points at the problem: %j', (text, message) => {
    expect(() => parseConfigFile(text, 'c.yaml')).toThrow(message);
  });

  it('is found in the working folder, optional there, required when named', async () => {
    const dir = await tempDir();
    expect(await loadConfigFile({ cwd: dir })).toEqual({ config: {}, path: undefined });
    await expect(loadConfigFile({ cwd: dir, explicitPath: 'nope.yaml' })).rejects.toThrow(
      `config file not found: ${join(dir, 'nope.yaml')}`,
    );
    await mkdir(join(dir, 'conf'));
    await writeFile(join(dir, 'beatloom.config.yml'), 'engine: comfyui\n');
    expect(await loadConfigFile({ cwd: dir })).toEqual({
      config: { engine: 'comfyui' },
      path: join(dir, 'beatloom.config.yml'),
    });
  });

  it('flags win over BEATLOOM_COMFY_URL, which wins over the file', () => {
    const loaded = {
      config: { engine: 'comfyui', comfyui: { url: 'http://file:1', checkpoint: 'file.safetensors', steps: 8 } },
      path: 'x',
    };
    expect(selectEngine(loaded, {}, { comfyui: {} })).toEqual({
      engineId: 'comfyui',
      comfyui: { url: 'http://file:1', checkpoint: 'file.safetensors', steps: 8 },
    });
    expect(
      selectEngine(loaded, { BEATLOOM_COMFY_URL: 'http://env:1, http://env:2' }, { comfyui: { steps: 4 } }),
    ).toEqual({
      engineId: 'comfyui',
      comfyui: { url: ['http://env:1', 'http://env:2'], checkpoint: 'file.safetensors', steps: 4 },
    });
    expect(
      selectEngine(
        loaded,
        { BEATLOOM_COMFY_URL: 'http://env:1' },
        { engine: 'preview', comfyui: { url: ['http://flag:1'] } },
      ),
    ).toEqual({
      engineId: 'preview',
      comfyui: { url: ['http://flag:1'], checkpoint: 'file.safetensors', steps: 8 },
    });
    expect(selectEngine({ config: {}, path: undefined }, { BEATLOOM_COMFY_URL: '' }, { comfyui: {} })).toEqual({
      engineId: 'preview',
      comfyui: {},
    });
  });

  it('rejects an empty entry in a server list', () => {
    expect(() => splitUrlList('http://a:1,,http://b:1', '--comfy-url')).toThrow(
      "invalid server list in --comfy-url: 'http://a:1,,http://b:1'",
    );
  });
});

describe('ComfyUI flags', () => {
  it.each([
    ['film.safetensors', { name: 'film.safetensors', strengthModel: 1, strengthClip: 1 }],
    ['film.safetensors:0.65', { name: 'film.safetensors', strengthModel: 0.65, strengthClip: 0.65 }],
    ['styles/ink.safetensors:-1', { name: 'styles/ink.safetensors', strengthModel: -1, strengthClip: -1 }],
  ])('--comfy-lora %s', (text, lora) => {
    expect(parseLoraFlag(text)).toEqual(lora);
  });

  it.each([':0.5', 'x:200', ' '])('rejects --comfy-lora %j', (text) => {
    expect(() => parseLoraFlag(text)).toThrow(`invalid --comfy-lora: '${text}'`);
  });

  it.each([
    ['4', 4],
    ['8', 8],
  ])('--comfy-steps %s', (text, steps) => {
    expect(parseStepsFlag(text)).toBe(steps);
  });

  it.each(['0', '4.5', 'four', '101'])('rejects --comfy-steps %s', (text) => {
    expect(() => parseStepsFlag(text)).toThrow(`invalid --comfy-steps: '${text}'`);
  });
});
