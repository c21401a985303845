import { describe, expect, it } from 'vitest';
import { decodeAudioArgs, encodeVideoArgs } from '../src/ffmpeg/args.js';
import { channelsOfLayout, floatSamples, parseDecodeHeader } from '../src/ffmpeg/decode-audio.js';
import { parseFps } from '../src/keyframes/time.js';

describe('ffmpeg command lines', () => {
  it('decodes the first audio stream to mono float PCM, downmixed at unity gain, in 32 KiB writes', () => {
    expect(decodeAudioArgs('song.mp3', 22050)).toEqual([
      '-hide_banner', '-nostdin', '-i', 'song.mp3', '-map', '0:a:0', '-vn', '-sn', '-dn',
      '-af', 'aresample=22050:filter_size=16:rematrix_maxval=1,aformat=channel_layouts=mono',
      '-flush_packets', '0', '-f', 'f32le', '-acodec', 'pcm_f32le', 'pipe:1',
    ]);
  });

  it('encodes raw frames with the song cut to its exact duration', () => {
    expect(
      encodeVideoArgs({
        width: 512,
        height: 288,
        fps: parseFps('24000/1001'),
        audioPath: '/music/song.flac',
        duration: { sampleCount: 887323, sampleRateHz: 22050 },
        codec: 'h264',
        crf: 18,
        preset: 'medium',
        pixelFormat: 'yuv420p',
        audioBitrateKbps: 192,
        outPath: '/out/.v.mp4.tmp',
      }),
    ).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'error',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '512x288', '-r', '24000/1001', '-i', 'pipe:0',
      '-t', '40.241406', '-i', '/music/song.flac',
      '-map', '0:v:0', '-map', '1:a:0',
      '-c:v', 'libx264', '-preset', 'medium', '-crf', '18',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '192k', '-movflags', '+faststart', '-f', 'mp4',
      '/out/.v.mp4.tmp',
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
