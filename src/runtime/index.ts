// Plumbing: the backend and its fallback, run profiles, seeded randomness, results files.
export * from './backend.js';
export * from './profile.js';
export * from './random.js';
export * from './results.js';
export * from './event-loop.js';
