// Code that serves one notebook each: the gradient check (02), the pitfall experiments (03),
// the second stream of digits and the activation histograms (04, 06), the loss landscape, the
// update-to-data ratio, the shifting noise, ghost batches and weight decay (05), recalibrating,
// folding and saving batch norm (06), folding it into convolutions (08), and the layer-by-layer
// diagnosis of deep networks (09).
export * from './gradient-check.js';
export * from './pitfalls.js';
export * from './two-streams.js';
export * from './activation-histograms.js';
export * from './landscape.js';
export * from './update-ratio.js';
export * from './shifting-noise.js';
export * from './ghost-batch.js';
export * from './weight-decay.js';
export * from './deployment.js';
export * from './model-files.js';
export * from './conv-folding.js';
export * from './deep-diagnostics.js';
