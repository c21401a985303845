export * from './analysis-events.js';
export * from './analysis-schema.js';
export * from './analyze.js';
export { computeFrameFeatures, FeatureExtractor, type FrameFeatures } from './feature-extractor.js';
