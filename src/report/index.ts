// Figures and pages: plotly figure builders, the offline HTML report, the colours.
export * from './figures.js';
export * from './html.js';
export * from './style.js';
export * from './report.js';
export * from './results-table.js';
