import { describe, expect, it } from 'vitest';
import {
  ffmpegDuration,
  formatFps,
  frameAtSec,
  frameCountFor,
  frameStartSample,
  frameStartSec,
  nearestFrame,
  parseFps,
} from '../src/shared/media-time.js';
import { beatPositionAt, secAtBeatPosition } from '../src/keyframes/beat-grid.js';
import { BeatloomError } from '../src/shared/errors.js';

describe('parseFps', () => {
  it.each([
    ['8', { num: 8, den: 1 }],
    ['24', { num: 24, den: 1 }],
    ['24000/1001', { num: 24000, den: 1001 }],
    ['30000/1001', { num: 30000, den: 1001 }],
    ['60/2', { num: 30, den: 1 }],
    ['29.97', { num: 2997, den: 100 }],
    ['12.5', { num: 25, den: 2 }],
    [' 25 ', { num: 25, den: 1 }],
  ])('%s → %o', (text, expected) => {
    expect(parseFps(text)).toEqual(expected);
  });

  it.each(['0', 'abc', '24/0', '-8', '1.5/2', '', '300', '0.5'])('rejects %j with a usage error', (text) => {
    expect(() => parseFps(text)).toThrow(BeatloomError);
    try {
      parseFps(text);
    } catch (error) {
      expect((error as BeatloomError).kind).toBe('usage');
      expect((error as BeatloomError).message).toContain(`'${text}'`);
    }
  });

  it('formats back', () => {
    expect(formatFps(parseFps('24000/1001'))).toBe('24000/1001');
    expect(formatFps(parseFps('8'))).toBe('8');
  });
});

describe('frameCountFor: ceil(D · fps), exactly', () => {
  it.each([
    // sampleCount, rate, fps, frames
    [22050, 22050, '8', 8],
    [22051, 22050, '8', 9],
    [887323, 22050, '8', 322], // 40.241… s
    [441000, 44100, '24000/1001', 240], // 10 s · 23.976 = 239.76 → 240
    [44100 * 3600, 44100, '30000/1001', 107893], // one hour at 29.97: 107892.107… → 107893
    [48000 * 3600, 48000, '24000/1001', 86314], // 86313.686… → 86314
    [1, 22050, '60', 1],
    [0, 22050, '8', 0],
  ])('%i samples @ %i Hz, %s fps → %i frames', (sampleCount, sampleRateHz, fps, frames) => {
    expect(frameCountFor({ sampleCount, sampleRateHz }, parseFps(fps))).toBe(frames);
  });

  it('never drifts: frame starts at 30000/1001 over an hour are exact', () => {
    const fps = parseFps('30000/1001');
    expect(frameStartSec(107892, fps)).toBe((107892 * 1001) / 30000);
    expect(frameStartSample(107892, fps, 48000)).toBe(172799827); // floor(107892 · 1001 · 48000 / 30000) = floor(172799827.2)
    expect(frameAtSec(frameStartSec(1_000_000, fps), fps)).toBe(1_000_000);
  });
});

describe('frame lookups', () => {
  const fps = parseFps('8');
  it.each([
    [0, 0],
    [0.124, 0],
    [0.125, 1],
    [0.3, 2],
    [1.0, 8],
    [0.9999999999999999, 8],
  ])('frameAtSec(%f) = %i', (sec, frame) => {
    expect(frameAtSec(sec, fps)).toBe(frame);
  });
  it('nearestFrame rounds', () => {
    expect(nearestFrame(0.06, fps)).toBe(0);
    expect(nearestFrame(0.07, fps)).toBe(1);
  });
});

describe('ffmpegDuration', () => {
  it.each([
    [22050, 22050, '1.000000'],
    [887323, 22050, '40.241406'], // 40.2414058… rounded up
    [1, 44100, '0.000023'],
    [44100 * 3600, 44100, '3600.000000'],
  ])('%i @ %i → %s', (sampleCount, sampleRateHz, text) => {
    expect(ffmpegDuration({ sampleCount, sampleRateHz })).toBe(text);
  });
});

describe('beat positions follow the tempo map', () => {
  const beats = [1, 1.5, 2, 2.4, 2.8]; // 120 BPM then 150 BPM
  it.each([
    [1, 0],
    [1.25, 0.5],
    [2, 2],
    [2.2, 2.5],
    [2.8, 4],
    [3.0, 4.5],
    [0.5, -1],
  ])('beatPositionAt(%f) = %f', (sec, position) => {
    expect(beatPositionAt(beats, sec)).toBeCloseTo(position, 12);
    expect(secAtBeatPosition(beats, position)).toBeCloseTo(sec, 12);
  });
  it('is NaN without a tempo', () => {
    expect(beatPositionAt([1], 2)).toBeNaN();
  });
});
