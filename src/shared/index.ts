export * from './errors.js';
export * from './fs-atomic.js';
export * from './hash.js';
