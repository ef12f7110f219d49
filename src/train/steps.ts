import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import { forward, type Mlp } from '../nn/mlp.js';
import { FusedStep, fusedLogits } from './fused-step.js';
import { hasNativeOps, noNativeOpsReason } from './native-ops.js';
import { leanStep } from './lean-step.js';
import {
  copyWeightsFromLayersModel,
  copyWeightsToLayersModel,
  createLayersModel,
  layersTrainingStep,
} from './layers-step.js';

/**
 * The four implementations of the guide's training step. They compute the same update
 * (a test holds them to 1e-4 after 50 steps) with different numbers of calls:
 * - `graph`: the guide's TF1 graph in TensorFlow's session, one call per step (tensorflow only);
 * - `fused`: TensorFlow's fused batch-norm and loss kernels, op by op (tensorflow only);
 * - `lean`: tfjs ops with backprop written out, on any backend;
 * - `layers`: tf.layers with autodiff and `optimizer.minimize`, the usual tfjs way.
 */
export const STEP_KINDS = ['graph', 'fused', 'lean', 'layers'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export function isStepKind(value: string): value is StepKind {
  return (STEP_KINDS as readonly string[]).includes(value);
}

/** The backend decides: the graph where TensorFlow's session can run it, lean elsewhere. */
export function defaultStepKind(): StepKind {
  return hasNativeOps() ? 'graph' : 'lean';
}

/** The kind to run: the one asked for, if this backend has it (else one line saying why), or the default. */
export function resolveStepKind(requested?: StepKind): StepKind {
  if (requested === undefined) return defaultStepKind();
  if (!isStepKind(requested))
    throw new Error(
      `unknown step '${String(requested)}' (expected one of: ${STEP_KINDS.join(', ')})`,
    );
  if ((requested === 'fused' || requested === 'graph') && !hasNativeOps())
    throw new Error(noNativeOpsReason(requested));
  return requested;
}

/** One model's training step, with the forward pass its evaluations use. */
export interface TrainingStep {
  readonly kind: StepKind;
  /** One SGD step on a batch, moving-average updates included unless switched off. */
  run(x: tf.Tensor2D, y: tf.Tensor2D): void;
  /** Logits in either phase; writes nothing. Call `syncModel` first after training. */
  logits(x: tf.Tensor2D, phase: Phase): tf.Tensor2D;
  /** Loss and accuracy on a whole split, where the step has its own way (the graph's session). */
  evaluate?(split: DeviceSplit, phase: Phase): { loss: number; accuracy: number };
  /** Brings the trained values into the Mlp where the step trains a copy (tf.layers, the graph). */
  syncModel(): void;
  dispose(): void;
}

export interface StepSettings {
  batchSize: number;
  learningRate: number;
  updateMovingAverages?: boolean;
}

/** Logits of a split with the given step kind's forward pass, without building a step. */
export function logitsFor(kind: StepKind, model: Mlp, x: tf.Tensor2D, phase: Phase): tf.Tensor2D {
  // Without a session, the graph's model is evaluated on the fused kernels it is built from.
  return kind === 'fused' || kind === 'graph'
    ? fusedLogits(model, x, phase)
    : tf.tidy(() => forward(model, x, phase).logits);
}

export async function createTrainingStep(
  kind: StepKind,
  model: Mlp,
  settings: StepSettings,
): Promise<TrainingStep> {
  const { batchSize, learningRate, updateMovingAverages = true } = settings;
  const resolved = resolveStepKind(kind);
  if (resolved === 'graph') {
    // Loaded on demand: it writes files and talks to tfjs-node, which a browser has neither of.
    const { GraphStep } = await import('./graph-step.js');
    return GraphStep.create(model, { learningRate, updateMovingAverages });
  }
  if (resolved === 'fused') {
    const fused = new FusedStep(model, batchSize, learningRate, updateMovingAverages);
    return {
      kind: resolved,
      run: (x, y) => fused.run(x, y),
      logits: (x, phase) => fusedLogits(model, x, phase),
      syncModel: () => {},
      dispose: () => fused.dispose(),
    };
  }
  if (resolved === 'lean') {
    return {
      kind: resolved,
      run: (x, y) => leanStep(model, learningRate, x, y, updateMovingAverages),
      logits: (x, phase) => logitsFor('lean', model, x, phase),
      syncModel: () => {},
      dispose: () => {},
    };
  }
  if (!updateMovingAverages)
    throw new Error(
      'the layers step always updates the moving averages; use the lean or fused step to skip them',
    );
  const layersModel = createLayersModel(model.placement, {
    decay: model.hidden[0]?.bn?.decay,
    epsilon: model.hidden[0]?.bn?.epsilon,
    hiddenUnits: model.hidden.map((layer) => layer.dense.bias.shape[0]),
  });
  copyWeightsToLayersModel(model, layersModel);
  const optimizer = tf.train.sgd(learningRate);
  return {
    kind: resolved,
    run: (x, y) => layersTrainingStep(layersModel, optimizer, x, y),
    // Evaluating through the layers model in training mode would move its moving averages
    // (a tfjs pitfall), so evaluations run the Mlp's forward pass on the synced values.
    logits: (x, phase) => logitsFor('lean', model, x, phase),
    syncModel: () => copyWeightsFromLayersModel(layersModel, model),
    dispose: () => {
      optimizer.dispose();
      layersModel.dispose();
    },
  };
}
