// The project's whole surface; the notebooks import from the folders' entry points
// (batchnorm-ts/nn, /train, /data, /lessons, /runtime, /report, /notebook, /graph).
export * from './data/index.js';
export * from './nn/index.js';
export * from './train/index.js';
export * from './lessons/index.js';
export * from './runtime/index.js';
export * from './report/index.js';
export * from './notebook/index.js';
export * from './graph/index.js';
