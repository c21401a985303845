export * from './batch-events.js';
export * from './batch-schema.js';
export * from './engine-pool.js';
export * from './load-batch.js';
export * from './run-batch.js';
