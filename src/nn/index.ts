// The network: batch norm (its shared state, the closed-form functions the MLP runs, and a
// layer with autodiff gradients and per-stream statistics), dense layers, the guide's MLP, and
// what replaces batch norm where batch statistics fail (LayerNorm, GroupNorm, Batch Renorm).
export * from './batchnorm-state.js';
export * from './batchnorm-closed-form.js';
export * from './batchnorm-autodiff.js';
export * from './layers.js';
export * from './mlp.js';
export * from './alternatives.js';
