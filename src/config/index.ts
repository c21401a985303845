export * from './engine-config.js';
export * from './load-mapping.js';
export * from './mapping-json-schema.js';
export * from './mapping-schema.js';
export * from './units.js';
export * from './prompt-texts.js';
export * from './render-values.js';
export * from './yaml-file.js';
