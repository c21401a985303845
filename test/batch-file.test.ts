import { describe, expect, it } from 'vitest';
import { engineSpecKey, parseBatch } from '../src/batch/load-batch.js';
import { buildProgram } from '../src/cli/main.js';
import { parseFps, rational } from '../src/shared/media-time.js';
import { RENDER_DEFAULTS } from '../src/pipeline/render-request.js';
import { DEFAULT_MAPPING_PATH } from '../src/shared/package-root.js';

const FILE = '/work/jobs/batch.yaml';

describe('batch file', () => {
  it('resolves defaults, overrides and paths relative to the file', () => {
    const batch = parseBatch(
      [
        'version: 1',
        'defaults:',
        '  prompt: neon city, rain',
        '  mapping: maps/pulse.yaml',
        '  size: 768x432',
        'jobs:',
        '  - audio: songs/first.mp3',
        '  - name: take-2',
        '    audio: /music/second.flac',
        '    prompt: ocean at dawn',
        '    negative: people',
        '    fps: 24000/1001',
        '    size: 512x512',
        '    seed: 7',
        '    out: ../videos/second.mp4',
        '    runDir: work/second',
        '    engine: preview',
      ].join('\n'),
      FILE,
    );
    expect(batch.path).toBe(FILE);
    expect(batch.jobs).toEqual([
      {
        index: 0,
        name: 'first',
        engine: { id: 'preview', options: {} },
        request: {
          audioPath: '/work/jobs/songs/first.mp3',
          prompt: 'neon city, rain',
          negativePrompt: undefined,
          mappingPath: '/work/jobs/maps/pulse.yaml',
          engineId: 'preview',
          fps: rational(8),
          width: 768,
          height: 432,
          seed: 1234,
          runDir: '/work/jobs/runs/first',
          outPath: '/work/jobs/runs/first/out.mp4',
        },
      },
      {
        index: 1,
        name: 'take-2',
        engine: { id: 'preview', options: {} },
        request: {
          audioPath: '/music/second.flac',
          prompt: 'ocean at dawn',
          negativePrompt: 'people',
          mappingPath: '/work/jobs/maps/pulse.yaml',
          engineId: 'preview',
          fps: rational(24000, 1001),
          width: 512,
          height: 512,
          seed: 7,
          runDir: '/work/jobs/work/second',
          outPath: '/work/videos/second.mp4',
        },
      },
    ]);
  });

  it('engine settings: the job over the defaults over flags / BEATLOOM_COMFY_URL / the config file, key by key', () => {
    // What `render` would use here: the config file says comfyui, the environment gives the server.
    const base = {
      engineId: 'comfyui',
      comfyui: { url: ['http://env:8188'], checkpoint: 'file.safetensors', steps: 4 },
    };
    const batch = parseBatch(
      [
        'version: 1',
        'defaults:',
        '  prompt: x',
        '  engineOptions: { checkpoint: defaults.safetensors, workflow: wf/a.json, workflowMap: wf/a.yaml }',
        'jobs:',
        '  - audio: a.wav',
        '  - audio: b.wav',
        '    engineOptions: { checkpoint: job.safetensors, url: "http://job:8188" }',
        '  - audio: c.wav',
        '    engine: preview',
      ].join('\n'),
      FILE,
      base,
    );
    const fromDefaults = {
      url: ['http://env:8188'],
      checkpoint: 'defaults.safetensors',
      steps: 4,
      workflow: '/work/jobs/wf/a.json',
      workflowMap: '/work/jobs/wf/a.yaml',
    };
    expect(batch.jobs.map((job) => [job.engine, job.request.engineId])).toEqual([
      [{ id: 'comfyui', options: fromDefaults }, 'comfyui'],
      [
        { id: 'comfyui', options: { ...fromDefaults, checkpoint: 'job.safetensors', url: 'http://job:8188' } },
        'comfyui',
      ],
      // The defaults' engineOptions are for the defaults' engine.
      [{ id: 'preview', options: {} }, 'preview'],
    ]);
    // Without a config file or flags, a job names its engine or gets the preview.
    const plain = parseBatch(
      'version: 1\njobs:\n  - { audio: a.wav, prompt: x, engine: comfyui, engineOptions: { url: "gpu:8188" } }\n  - { audio: b.wav, prompt: x }\n',
      FILE,
    );
    expect(plain.jobs.map((job) => job.engine)).toEqual([
      { id: 'comfyui', options: { url: 'gpu:8188' } },
      { id: 'preview', options: {} },
    ]);
  });

  it('checks engine options against the engine they go to, which the config file may choose', () => {
    const text =
      'version: 1\ndefaults:\n  engineOptions: { url: "http://gpu:8188" }\njobs:\n  - { audio: a.wav, prompt: x }\n';
    expect(() => parseBatch(text, FILE)).toThrow(
      "/work/jobs/batch.yaml:3:18: defaults.engineOptions: unknown option 'url' for the preview engine",
    );
    expect(parseBatch(text, FILE, { engineId: 'comfyui', comfyui: {} }).jobs[0]!.engine).toEqual({
      id: 'comfyui',
      options: { url: 'http://gpu:8188' },
    });
    expect(() =>
      parseBatch('version: 1\njobs:\n  - { audio: a.wav, prompt: x, engineOptions: { checkpoint: 3 } }\n', FILE, {
        engineId: 'comfyui',
        comfyui: {},
      }),
    ).toThrow(
      '/work/jobs/batch.yaml:3:61: jobs[0].engineOptions.checkpoint: Invalid input: expected string, received number for the comfyui engine',
    );
  });

  it('one engine for the same servers however the list is written; another list or setting is another engine', () => {
    const key = (options: Record<string, unknown>) => engineSpecKey({ id: 'comfyui', options });
    const same = key({ url: ['http://a:8188', 'http://b:8188'], steps: 4 });
    expect(key({ url: 'http://a:8188, http://b:8188/', steps: 4 })).toBe(same);
    expect(key({ steps: 4, url: ['http://a:8188/', ' http://b:8188'] })).toBe(same);
    expect(key({ steps: 4, url: 'a:8188,b:8188' })).toBe(same);
    expect(key({ url: ['http://b:8188', 'http://a:8188'], steps: 4 })).not.toBe(same);
    expect(key({ url: ['http://a:8188', 'http://b:8188'], steps: 8 })).not.toBe(same);
    expect(engineSpecKey({ id: 'preview', options: {} })).not.toBe(engineSpecKey({ id: 'comfyui', options: {} }));
  });

  it('uses the default mapping and a runsDir when given', () => {
    const batch = parseBatch('version: 1\nrunsDir: /scratch/runs\njobs:\n  - { audio: a.wav, prompt: x }\n', FILE);
    expect(batch.jobs[0]!.request.mappingPath).toBe(DEFAULT_MAPPING_PATH);
    expect(batch.jobs[0]!.request.runDir).toBe('/scratch/runs/a');
  });

  it.each([
    ['a YAML syntax error', 'version: 1\njobs:\n  - audio: [a.wav\n', /^\/work\/jobs\/batch\.yaml:4:1: invalid YAML: /],
    [
      'an unknown key, at the key',
      'version: 1\njobs:\n  - audio: a.wav\n    prompt: x\n    promtp: y\n',
      "/work/jobs/batch.yaml:5:5: jobs[0]: unknown key 'promtp'",
    ],
    ['a missing audio', 'version: 1\njobs:\n  - prompt: x\n', '/work/jobs/batch.yaml:3:5: jobs[0].audio: missing'],
    [
      'a bad fps',
      'version: 1\njobs:\n  - { audio: a.wav, prompt: x, fps: 24/0 }\n',
      /^\/work\/jobs\/batch\.yaml:3:37: jobs\[0\]\.fps: invalid fps: '24\/0'/,
    ],
    [
      'a bad size in the defaults',
      'version: 1\ndefaults:\n  size: 500x500\njobs:\n  - { audio: a.wav, prompt: x }\n',
      /^\/work\/jobs\/batch\.yaml:3:9: defaults\.size: invalid size: '500x500' \(500 is not a multiple of 8 in 64\.\.4096\)/,
    ],
    [
      'a bad seed',
      'version: 1\njobs:\n  - { audio: a.wav, prompt: x, seed: -3 }\n',
      /^\/work\/jobs\/batch\.yaml:3:38: jobs\[0\]\.seed: invalid seed: '-3'/,
    ],
    [
      'an unknown engine',
      'version: 1\njobs:\n  - { audio: a.wav, prompt: x, engine: dalle }\n',
      "/work/jobs/batch.yaml:3:40: jobs[0].engine: unknown engine 'dalle'; use one of: preview, comfyui, native",
    ],
    [
      'an option the engine does not take',
      'version: 1\njobs:\n  - audio: a.wav\n    prompt: x\n    engineOptions: { steps: 8 }\n',
      "/work/jobs/batch.yaml:5:20: jobs[0].engineOptions: unknown option 'steps' for the preview engine",
    ],
    [
      'two jobs named alike (from their audio)',
      'version: 1\ndefaults: { prompt: x }\njobs:\n  - audio: a.wav\n  - audio: other/a.mp3\n',
      "/work/jobs/batch.yaml:5:12: jobs[1].audio: job name 'a' (from the audio file name) is already used by jobs[0]: give each job its own name",
    ],
    [
      'two jobs writing one output',
      'version: 1\ndefaults: { prompt: x }\njobs:\n  - { audio: a.wav, out: v.mp4 }\n  - { audio: b.wav, out: ./v.mp4 }\n',
      '/work/jobs/batch.yaml:5:26: jobs[1].out: output /work/jobs/v.mp4 is already used by jobs[0]: give each job its own out',
    ],
    [
      'two jobs sharing a run directory',
      'version: 1\ndefaults: { prompt: x }\njobs:\n  - { audio: a.wav, runDir: r }\n  - { audio: b.wav, runDir: r/ }\n',
      '/work/jobs/batch.yaml:5:29: jobs[1].runDir: run directory /work/jobs/r is already used by jobs[0]: give each job its own runDir',
    ],
    ['no jobs', 'version: 1\njobs: []\n', '/work/jobs/batch.yaml:2:7: jobs: a batch needs at least one job'],
    [
      'a wrong version',
      'version: 2\njobs:\n  - { audio: a.wav, prompt: x }\n',
      '/work/jobs/batch.yaml:1:10: version: must be one of 1',
    ],
    [
      'a bad job name',
      'version: 1\njobs:\n  - { name: "my song", audio: a.wav, prompt: x }\n',
      '/work/jobs/batch.yaml:3:13: jobs[0].name: a job name is letters, digits, ., _ and -, starting with a letter or digit',
    ],
  ])('%s: one located message, exit code 2', (_what, text, message) => {
    let error: unknown;
    try {
      parseBatch(text, FILE);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ kind: 'usage' });
    const got = (error as Error).message;
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
  });

  it('a job leaves out exactly what `beatloom render` would default', () => {
    const render = buildProgram(() => undefined).commands.find((c) => c.name() === 'render')!;
    const defaultOf = (flag: string): unknown => render.options.find((o) => o.long === flag)!.defaultValue;
    expect({
      fps: defaultOf('--fps'),
      size: defaultOf('--size'),
      seed: Number(defaultOf('--seed')),
    }).toEqual({ fps: RENDER_DEFAULTS.fps, size: RENDER_DEFAULTS.size, seed: RENDER_DEFAULTS.seed });
    // --negative defaults inside the mapping's {negative}; --engine to the config file's, else preview.
    expect(defaultOf('--negative')).toBeUndefined();
    expect(defaultOf('--engine')).toBeUndefined();
    expect(RENDER_DEFAULTS.engineId).toBe('preview');
    expect(parseFps(RENDER_DEFAULTS.fps)).toEqual(rational(8));
  });
});
