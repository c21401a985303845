export * from './engine.js';
export * from './registry.js';
export { createPreviewEngine } from './preview/preview-engine.js';
export * from './comfyui/index.js';
