import { describe, expect, it } from 'vitest';
import {
  audioFilter,
  decodeAudioArgs,
  decodeVideoFramesArgs,
  encodeAudioTrackArgs,
  encodeFramesArgs,
  encodeVideoArgs,
  inspectVideoArgs,
  videoCodecArgs,
  videoFilter,
} from '../src/ffmpeg/args.js';
import { parseShowinfoPts, parseTimeBaseHz } from '../src/ffmpeg/inspect-video.js';
import { channelsOfLayout, floatSamples, parseDecodeHeader } from '../src/ffmpeg/decode-audio.js';
import { parseFps } from '../src/shared/media-time.js';

describe('ffmpeg command lines', () => {
  it('decodes the first audio stream to mono float PCM, downmixed at unity gain, in 32 KiB writes', () => {
    expect(decodeAudioArgs('song.mp3', 22050)).toEqual([
      '-hide_banner',
      '-nostdin',
      '-i',
      'song.mp3',
      '-map',
      '0:a:0',
      '-vn',
      '-sn',
      '-dn',
      '-af',
      'aresample=22050:filter_size=16:rematrix_maxval=1,aformat=channel_layouts=mono',
      '-flush_packets',
      '0',
      '-f',
      'f32le',
      '-acodec',
      'pcm_f32le',
      'pipe:1',
    ]);
  });
});

describe('encoder command lines', () => {
  const PNG_PIPE = ['-f', 'image2pipe', '-framerate', '24000/1001', '-c:v', 'png', '-i', 'pipe:0'];
  const NO_POST = { interpolate: null, upscale: null };
  const SONG = {
    kind: 'song',
    path: '/music/song.flac',
    sampleRateHz: 48000,
    sampleCount: 1931588,
    prerollSamples: 700,
    bitrateKbps: 192,
  } as const;

  it('PNG frames + the song cut to the sample and pre-rolled for AAC → h264 mp4', () => {
    expect(
      encodeVideoArgs({
        fps: parseFps('24000/1001'),
        codec: 'h264',
        crf: 19,
        preset: 'superfast',
        pixelFormat: 'yuv420p',
        post: NO_POST,
        audio: SONG,
        outPath: '/out/.v.mp4.tmp',
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      ...PNG_PIPE,
      '-i',
      '/music/song.flac',
      '-filter_complex',
      '[1:a]aresample=48000,apad,atrim=end_sample=1931588,adelay=14.593750|14.593750|14.593750|14.593750|14.593750|14.593750|14.593750|14.593750,asetpts=PTS-700/SR/TB[a]',
      '-map',
      '0:v:0',
      '-map',
      '[a]',
      '-vsync',
      '0',
      '-c:v',
      'libx264',
      '-preset',
      'superfast',
      '-crf',
      '19',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '192k',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      '/out/.v.mp4.tmp',
    ]);
  });

  it('a prepared track is copied; h265 with an upscale', () => {
    expect(
      encodeVideoArgs({
        fps: parseFps('24000/1001'),
        codec: 'h265',
        crf: 22,
        preset: 'fast',
        pixelFormat: 'yuv420p10le',
        post: { interpolate: null, upscale: { width: 1024, height: 576 } },
        audio: { kind: 'track', path: '/run/audio-aac-0123.m4a' },
        outPath: '/out/v.mp4',
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      ...PNG_PIPE,
      '-i',
      '/run/audio-aac-0123.m4a',
      '-filter_complex',
      '[0:v]scale=1024:576:flags=lanczos[v]',
      '-map',
      '[v]',
      '-map',
      '1:a:0',
      '-vsync',
      '0',
      '-c:v',
      'libx265',
      '-preset',
      'fast',
      '-crf',
      '22',
      '-tag:v',
      'hvc1',
      '-x265-params',
      'log-level=error',
      '-pix_fmt',
      'yuv420p10le',
      '-c:a',
      'copy',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      '/out/v.mp4',
    ]);
  });

  it('vp9 + Opus in WebM (no pre-roll), interpolated to 60000/1001 by blending', () => {
    expect(
      encodeVideoArgs({
        fps: parseFps('24000/1001'),
        codec: 'vp9',
        crf: 32,
        preset: 'fast',
        pixelFormat: 'yuv420p',
        post: { interpolate: { fps: parseFps('60000/1001'), mode: 'blend', frameCount: 2412 }, upscale: null },
        audio: { ...SONG, prerollSamples: 0, bitrateKbps: 160 },
        outPath: '/out/v.webm',
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      ...PNG_PIPE,
      '-i',
      '/music/song.flac',
      '-filter_complex',
      '[0:v]format=yuv444p,minterpolate=fps=60000/1001:mi_mode=blend,trim=end_frame=2412[v];[1:a]aresample=48000,apad,atrim=end_sample=1931588[a]',
      '-map',
      '[v]',
      '-map',
      '[a]',
      '-vsync',
      '0',
      '-c:v',
      'libvpx-vp9',
      '-crf',
      '32',
      '-b:v',
      '0',
      '-deadline',
      'good',
      '-cpu-used',
      '4',
      '-row-mt',
      '1',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'libopus',
      '-b:a',
      '160k',
      '-f',
      'webm',
      '/out/v.webm',
    ]);
  });

  it.each([
    ['ultrafast', '5'],
    ['medium', '3'],
    ['veryslow', '0'],
  ] as const)('vp9 preset %s is -cpu-used %s', (preset, cpuUsed) => {
    const args = videoCodecArgs({ codec: 'vp9', crf: 31, preset, pixelFormat: 'yuv420p' });
    expect(args[args.indexOf('-cpu-used') + 1]).toBe(cpuUsed);
  });

  it('post steps: motion interpolation then upscale, or nothing', () => {
    expect(
      videoFilter({
        interpolate: { fps: parseFps('24'), mode: 'motion', frameCount: 240 },
        upscale: { width: 1024, height: 1024 },
      }),
    ).toBe(
      'format=yuv444p,minterpolate=fps=24:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1,trim=end_frame=240,scale=1024:1024:flags=lanczos',
    );
    expect(videoFilter({ interpolate: null, upscale: null })).toBeNull();
  });

  it('the audio chain without pre-roll, and adelay milliseconds that truncate to the right sample count', () => {
    expect(
      audioFilter(
        { path: 's.mp3', sampleRateHz: 48000, sampleCount: 480000, prerollSamples: 0, bitrateKbps: 192 },
        '0:a',
        'out',
      ),
    ).toBe('[0:a]aresample=48000,apad,atrim=end_sample=480000[out]');
    for (const preroll of [1, 333, 690, 1023]) {
      const ms = Number(
        /adelay=([\d.]+)/.exec(
          audioFilter(
            { path: 's', sampleRateHz: 48000, sampleCount: 1, prerollSamples: preroll, bitrateKbps: 1 },
            'a',
            'b',
          ),
        )![1],
      );
      // adelay computes samples as ms · rate / 1000 and truncates (2018 source).
      expect(Math.floor((ms * 48000) / 1000)).toBe(preroll);
    }
  });

  it('the audio track alone, for the run directory', () => {
    expect(
      encodeAudioTrackArgs(
        { path: '/music/song.mp3', sampleRateHz: 48000, sampleCount: 302400, prerollSamples: 704, bitrateKbps: 192 },
        'h264',
        '/run/.a.m4a.tmp',
      ),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-i',
      '/music/song.mp3',
      '-filter_complex',
      '[0:a]aresample=48000,apad,atrim=end_sample=302400,adelay=14.677083|14.677083|14.677083|14.677083|14.677083|14.677083|14.677083|14.677083,asetpts=PTS-704/SR/TB[a]',
      '-map',
      '[a]',
      '-c:a',
      'aac',
      '-b:a',
      '192k',
      '-f',
      'mp4',
      '/run/.a.m4a.tmp',
    ]);
    expect(
      encodeAudioTrackArgs(
        { path: 'a.wav', sampleRateHz: 48000, sampleCount: 96000, prerollSamples: 0, bitrateKbps: 128 },
        'vp9',
        'a.webm',
      ),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-i',
      'a.wav',
      '-filter_complex',
      '[0:a]aresample=48000,apad,atrim=end_sample=96000[a]',
      '-map',
      '[a]',
      '-c:a',
      'libopus',
      '-b:a',
      '128k',
      '-f',
      'webm',
      'a.webm',
    ]);
  });

  it('a PNG sequence, one file per frame from 0, optionally upscaled', () => {
    expect(
      encodeFramesArgs({
        fps: parseFps('8'),
        post: { interpolate: null, upscale: { width: 128, height: 128 } },
        pattern: '/f/.tmp/frame-%06d.png',
      }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-f',
      'image2pipe',
      '-framerate',
      '8',
      '-c:v',
      'png',
      '-i',
      'pipe:0',
      '-vf',
      'scale=128:128:flags=lanczos',
      '-vsync',
      '0',
      '-c:v',
      'png',
      '-pix_fmt',
      'rgb24',
      '-start_number',
      '0',
      '-f',
      'image2',
      '/f/.tmp/frame-%06d.png',
    ]);
  });

  it('decoders for measuring: timestamps + small grey frames, and RGB frames', () => {
    expect(inspectVideoArgs('/v.mp4', 32, 32)).toEqual([
      '-hide_banner',
      '-nostdin',
      '-i',
      '/v.mp4',
      '-map',
      '0:v:0',
      '-vf',
      'showinfo,scale=32:32:flags=area,format=gray',
      '-vsync',
      '0',
      '-f',
      'rawvideo',
      'pipe:1',
    ]);
    expect(decodeVideoFramesArgs('/v.mp4')).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-i',
      '/v.mp4',
      '-map',
      '0:v:0',
      '-vsync',
      '0',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      'pipe:1',
    ]);
  });
});

describe('reading what ffmpeg says about a stream', () => {
  const STDERR = `Input #0, ogg, from 'song.ogg':
  Duration: 00:01:06.83, start: 0.000000, bitrate: 137 kb/s
    Stream #0:0: Audio: vorbis, 44100 Hz, stereo, fltp, 160 kb/s
Stream mapping:
  Stream #0:0 -> #0:0 (vorbis (native) -> pcm_f32le (native))
Output #0, f32le, to 'pipe:1':
  Metadata:
    encoder         : Lavf58.24.100
    Stream #0:0: Audio: pcm_f32le, 22050 Hz, mono, flt, 705 kb/s
`;
  it('finds the source codec, rate and channel layout', () => {
    expect(parseDecodeHeader(STDERR)).toEqual({ channels: 2, sourceSampleRateHz: 44100, codec: 'vorbis' });
  });
  it('waits until the output stream line has arrived', () => {
    expect(parseDecodeHeader(STDERR.slice(0, STDERR.indexOf('Output #0')))).toBeUndefined();
  });
  it.each([
    ['mono', 1],
    ['stereo', 2],
    ['5.1(side)', 6],
    ['7.1', 8],
    ['3 channels', 3],
    ['weird', undefined],
  ])('layout %s has %s channels', (layout, channels) => {
    expect(channelsOfLayout(layout)).toBe(channels);
  });
  it('reads float32 bytes as samples, aligned or not', () => {
    const bytes = Buffer.from(new Float32Array([0.5, -0.25, 1]).buffer);
    expect(Array.from(floatSamples(bytes))).toEqual([0.5, -0.25, 1]);
    const shifted = Buffer.concat([Buffer.alloc(1), bytes]).subarray(1);
    expect(shifted.byteOffset % 4).not.toBe(0);
    expect(Array.from(floatSamples(shifted))).toEqual([0.5, -0.25, 1]);
  });
});

describe('reading what showinfo says', () => {
  it('finds each frame timestamp and the stream time base', () => {
    expect(
      parseShowinfoPts(
        '[Parsed_showinfo_0 @ 0x3c965380] n:   1 pts:    256 pts_time:0.0166667 pos:    15407 fmt:yuv420p',
      ),
    ).toBe(256);
    expect(parseShowinfoPts('[Parsed_showinfo_0 @ 0x1] n:12345 pts:-512 pts_time:-0.03')).toBe(-512);
    expect(parseShowinfoPts('    Stream #0:0(und): Video: h264')).toBeUndefined();
    expect(
      parseTimeBaseHz(
        '    Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 64x64 [SAR 1:1 DAR 1:1], 80 kb/s, 60 fps, 60 tbr, 15360 tbn, 120 tbc (default)',
      ),
    ).toBe(15360);
    expect(
      parseTimeBaseHz(
        '    Stream #0:0: Video: vp9 (Profile 0), yuv420p(tv), 128x128, SAR 1:1 DAR 1:1, 29.97 fps, 29.97 tbr, 1k tbn, 1k tbc (default)',
      ),
    ).toBe(1000);
    expect(parseTimeBaseHz('    Stream #0:1: Audio: aac (LC), 48000 Hz, stereo')).toBeUndefined();
  });
});
