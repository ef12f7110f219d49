import { GUIDE_DECAY, GUIDE_EPSILON } from '../nn/batchnorm-state.js';
import type { Placement } from '../nn/layers.js';
import { isStepKind, STEP_KINDS, type StepKind } from './steps.js';

export interface TrainConfig {
  placement: Placement;
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the initial weights and the batch order. */
  seed: number;
  decay: number;
  epsilon: number;
  /** Run the moving-average updates in each step (default true); false shows what forgetting them does. */
  updateMovingAverages?: boolean;
  /** Which implementation of the step runs; by default the backend decides (`defaultStepKind`). */
  step?: StepKind;
  /** Multiplies the initial kernels (default 1, the guide's Glorot-uniform start). */
  initScale?: number;
}

/** The guide's procedure: SGD 0.01, batches of 100, 30 epochs of 500 steps. */
export const GUIDE_CONFIG: Omit<TrainConfig, 'placement'> = {
  epochs: 30,
  stepsPerEpoch: 500,
  batchSize: 100,
  learningRate: 0.01,
  seed: 0,
  decay: GUIDE_DECAY,
  epsilon: GUIDE_EPSILON,
};

/** Throws one line naming the first setting that cannot train. */
export function validateConfig(config: TrainConfig, trainCount: number): void {
  const positiveInts: Array<keyof TrainConfig> = ['epochs', 'stepsPerEpoch', 'batchSize'];
  for (const key of positiveInts) {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`${key} must be a positive integer, got ${value}`);
  }
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) {
    throw new Error(`learningRate must be a positive number, got ${config.learningRate}`);
  }
  if (!(config.decay >= 0 && config.decay < 1))
    throw new Error(`decay must be in [0, 1), got ${config.decay}`);
  if (!(config.epsilon > 0)) throw new Error(`epsilon must be positive, got ${config.epsilon}`);
  if (!Number.isInteger(config.seed))
    throw new Error(`seed must be an integer, got ${config.seed}`);
  if (config.batchSize > trainCount) {
    throw new Error(
      `batchSize ${config.batchSize} is larger than the ${trainCount} training examples`,
    );
  }
  if (
    config.initScale !== undefined &&
    !(config.initScale > 0 && Number.isFinite(config.initScale))
  )
    throw new Error(`initScale must be a positive number, got ${config.initScale}`);
  if (config.step !== undefined && !isStepKind(config.step)) {
    throw new Error(`step must be one of ${STEP_KINDS.join(', ')}, got '${String(config.step)}'`);
  }
}
