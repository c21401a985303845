export * from './render-plan.js';
export * from './render-segments.js';
export * from './render-song.js';
export * from './run-dir.js';
export * from './plan-song.js';
