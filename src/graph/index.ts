// The guide's TensorFlow 1 graph, written in TypeScript: a graph builder (placeholders,
// variables, ops, control dependencies, collections), the SavedModel that carries it into
// TensorFlow's session, and the guide's model built with them. Tensorflow backends only.
export * from './graph-builder.js';
export * from './saved-model.js';
export * from './guide-graph.js';
