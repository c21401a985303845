export * from './analysis-schema.js';
export * from './analyze.js';
export { computeFrameFeatures, type FrameFeatures } from './features.js';
