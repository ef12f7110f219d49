// The network: batch norm's shared state and its closed-form functions, the normalization
// layers (batch norm, LayerNorm, GroupNorm, Batch Renorm) and their registry, dense layers and
// the block layouts, the one network built from them, and its weights as JSON.
export * from './batchnorm-state.js';
export * from './batchnorm-closed-form.js';
export * from './norm-layer.js';
export * from './batchnorm-layer.js';
export * from './alternatives.js';
export * from './alternative-layers.js';
export * from './normalizations.js';
export * from './layers.js';
export * from './network.js';
export * from './weights-json.js';
export * from './conv.js';
