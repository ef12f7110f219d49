// Data: the IDX reader, the two MNIST sources, the seeded batch order, splits on the backend.
export * from './idx.js';
export * from './mnist.js';
export * from './batches.js';
export * from './device-split.js';
