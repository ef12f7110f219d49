// Plumbing: the backend and its fallback, native TensorFlow's environment, seeded randomness,
// atomic file writes, and `tf`, the one TensorFlow.js instance everything here runs on.
export * as tf from '@tensorflow/tfjs';
export * from './backend.js';
export * from './random.js';
export * from './files.js';
export * from './event-loop.js';
export * from './native-env.js';
