// What the notebooks display: inline plotly, digits, training with progress.
export * from './display.js';
