export * from './args.js';
export * from './decode-audio.js';
export * from './ffmpeg-path.js';
export * from './run-process.js';
export * from './ffmpeg-version.js';
export * from './inspect-video.js';
