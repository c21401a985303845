export * from './build-keyframes.js';
export * from './keyframes-schema.js';
export * from './plan-segments.js';
export * from './signals.js';
export * from './time.js';
