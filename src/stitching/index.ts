export * from './stitch-video.js';
