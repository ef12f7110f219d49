// Training: the settings and their rules, the ways to run the network's step (graph, fused,
// lean, autodiff, and tf.layers for comparison), the one training loop with the guide's two
// evaluations, the three-model experiment, its results schema, and the notebooks' run profiles.
export * from './config.js';
export * from './metrics.js';
export * from './step.js';
export * from './steps.js';
export * from './lean-step.js';
export * from './autodiff-step.js';
export * from './fused-step.js';
export * from './native-ops.js';
export * from './layers-step.js';
export * from './evaluation.js';
export * from './training-data.js';
export * from './trainer.js';
export * from './experiment.js';
export * from './profiles.js';
export * from './results.js';
export * from './graph-step.js';
