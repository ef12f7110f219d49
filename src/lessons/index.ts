// Code that serves one notebook each: the gradient check (02), the pitfall experiments (03),
// the two-stream model and the activation histograms (04).
export * from './gradient-check.js';
export * from './pitfalls.js';
export * from './two-streams.js';
export * from './activation-histograms.js';
export * from './normalized-mlp.js';
export * from './landscape.js';
export * from './deployment.js';
