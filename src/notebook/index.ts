// What the notebooks display: inline plotly, digits, training with progress, the source of
// what they teach (showCode) and visible checks (check, checkBetween).
export * from './display.js';
export * from './show-code.js';
export * from './check.js';
export * from './live-training.js';
export * from './experiments.js';
export * from './seeds.js';
