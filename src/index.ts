// The project's public surface: what the notebooks, the CLI and the tests share.
export * as tf from '@tensorflow/tfjs';
export * from './backend.js';
export * from './batchnorm.js';
export * from './data/batches.js';
export * from './data/idx.js';
export * from './data/mnist.js';
export * from './experiment.js';
export * from './layers.js';
export * from './model.js';
export * from './profile.js';
export * from './reference.js';
export * from './report/figures.js';
export * from './report/html.js';
export * from './report/style.js';
export * from './results.js';
export * from './trainer.js';
export * from './notebook.js';
