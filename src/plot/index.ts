export * from './figure.js';
export * from './render-png.js';
export * from './render-svg.js';
