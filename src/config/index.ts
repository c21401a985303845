export * from './load-mapping.js';
export * from './mapping-schema.js';
export * from './units.js';
export * from './parse-yaml.js';
export * from './render-values.js';
