export * from './engine-config.js';
export * from './load-mapping.js';
export * from './mapping-schema.js';
export * from './units.js';
