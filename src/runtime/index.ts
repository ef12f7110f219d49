// Plumbing: the backend and its fallback, run profiles, seeded randomness, results files,
// and `tf`, the one TensorFlow.js instance everything here runs on.
export * as tf from '@tensorflow/tfjs';
export * from './backend.js';
export * from './profile.js';
export * from './random.js';
export * from './results.js';
export * from './event-loop.js';
