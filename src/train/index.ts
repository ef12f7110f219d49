// Training: the settings, the three implementations of the step (fused, lean, tf.layers),
// the per-epoch loop with the guide's two evaluations, the three-model experiment, its results
// schema, and the run profiles of the notebooks.
export * from './config.js';
export * from './metrics.js';
export * from './steps.js';
export * from './lean-step.js';
export * from './fused-step.js';
export * from './native-ops.js';
export * from './layers-step.js';
export * from './trainer.js';
export * from './experiment.js';
export * from './profiles.js';
export * from './results.js';
export * from './graph-step.js';
