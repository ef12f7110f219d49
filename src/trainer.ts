import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from './data/batches.js';
import { NUM_CLASSES, type Split } from './data/mnist.js';
import { GUIDE_DECAY, GUIDE_EPSILON, type Phase } from './batchnorm.js';
import type { Placement } from './layers.js';
import { applyMovingAverageUpdates, backward, createModel, disposeModel, forward, trainableVariables, type Mlp } from './model.js';

/** A split as tensors on the backend: images [N, 784] and one-hot labels [N, 10]. */
export interface DeviceSplit {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  count: number;
}

export function toDevice(split: Split): DeviceSplit {
  return tf.tidy(() => ({
    x: tf.tensor2d(split.images, [split.count, split.images.length / split.count]),
    y: tf.oneHot(tf.tensor1d(split.labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D,
    count: split.count,
  }));
}

export function disposeDeviceSplit(split: DeviceSplit): void {
  tf.dispose([split.x, split.y]);
}

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

/** One row of the guide's history: [epoch, train loss, train acc, test loss, test acc]. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** Wall seconds of this epoch's training steps, and of its two evaluations. */
  trainSeconds: number;
  evalSeconds: number;
}

export interface TrainCallbacks {
  /** Called every `progressEvery` steps and after the last one; `step` counts from 1 over the whole run. */
  onStep?: (step: number, totalSteps: number, model: Mlp) => void;
  /** Called after each epoch's evaluations, with the model for any further inspection. */
  onEpoch?: (record: EpochRecord, model: Mlp) => void;
  /** Stops training between steps; the run returns what it has with `stopped: true`. */
  signal?: AbortSignal;
  progressEvery?: number;
}

export interface TrainResult {
  history: EpochRecord[];
  /** The trained model; the caller owns it (disposeModel). */
  model: Mlp;
  stopped: boolean;
  seconds: number;
}

/** Mean softmax cross-entropy of logits against one-hot labels. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

export function accuracy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(labels, 1)), 'float32')) as tf.Scalar);
}

/**
 * Loss and accuracy on a whole split in one pass. In the training phase the model normalizes
 * with the split's own batch statistics, as the guide's phase=1 evaluation did, and nothing
 * is written: moving averages change only inside the training step.
 */
export function evaluate(model: Mlp, split: DeviceSplit, phase: Phase): { loss: number; accuracy: number } {
  const [loss, acc] = tf.tidy(() => {
    const { logits } = forward(model, split.x, phase);
    return [crossEntropy(logits, split.y), accuracy(logits, split.y)];
  });
  const values = [loss.dataSync()[0]!, acc.dataSync()[0]!];
  tf.dispose([loss, acc]);
  return { loss: values[0]!, accuracy: values[1]! };
}

/**
 * One SGD step on a batch: forward in the training phase, the moving-average updates
 * (the counterpart of the guide's `tf.control_dependencies(update_ops)`: no other code
 * path moves them), backpropagation, and the update of every trainable variable.
 */
export function trainingStep(model: Mlp, learningRate: number, x: tf.Tensor2D, y: tf.Tensor2D, updateAverages = true): void {
  tf.tidy(() => {
    const { logits, cache } = forward(model, x, 'training');
    if (updateAverages) applyMovingAverageUpdates(model, cache);
    // The mean cross-entropy's gradient at the logits is (softmax - y) / n. Backprop is linear
    // in it, so seeding it with -learningRate makes every gradient below its own SGD step,
    // and each variable's update a single add.
    const seed = tf.mul(tf.sub(tf.softmax(logits), y), -learningRate / x.shape[0]) as tf.Tensor2D;
    const steps = backward(model, cache, seed);
    trainableVariables(model).forEach((variable, i) => variable.assign(tf.add(variable, steps[i]!)));
  });
}

/** Gathers a batch of examples from a split that already lives on the backend. */
export function gatherBatch(split: DeviceSplit, indices: Int32Array): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const idx = tf.tensor1d(indices, 'int32');
    return { x: tf.gather(split.x, idx), y: tf.gather(split.y, idx) };
  });
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

export function validateConfig(config: TrainConfig, trainCount: number): void {
  const positiveInts: Array<keyof TrainConfig> = ['epochs', 'stepsPerEpoch', 'batchSize'];
  for (const key of positiveInts) {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${key} must be a positive integer, got ${value}`);
  }
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) {
    throw new Error(`learningRate must be a positive number, got ${config.learningRate}`);
  }
  if (!(config.decay >= 0 && config.decay < 1)) throw new Error(`decay must be in [0, 1), got ${config.decay}`);
  if (!(config.epsilon > 0)) throw new Error(`epsilon must be positive, got ${config.epsilon}`);
  if (!Number.isInteger(config.seed)) throw new Error(`seed must be an integer, got ${config.seed}`);
  if (config.batchSize > trainCount) {
    throw new Error(`batchSize ${config.batchSize} is larger than the ${trainCount} training examples`);
  }
}

/**
 * Trains one of the guide's models and records the guide's per-epoch history:
 * train metrics on the whole training set in the training phase, test metrics in inference.
 */
export async function train(
  data: { train: DeviceSplit; test: DeviceSplit },
  config: TrainConfig,
  callbacks: TrainCallbacks = {},
): Promise<TrainResult> {
  validateConfig(config, data.train.count);
  const { onStep, onEpoch, signal, progressEvery = 50 } = callbacks;
  const started = performance.now();
  const model = createModel({ placement: config.placement, seed: config.seed, decay: config.decay, epsilon: config.epsilon });
  const sampler = new BatchSampler(data.train.count, config.batchSize, `batches-${config.seed}`);
  const totalSteps = config.epochs * config.stepsPerEpoch;
  const history: EpochRecord[] = [];
  let step = 0;
  let stopped = false;
  try {
    for (let epoch = 1; epoch <= config.epochs && !stopped; epoch++) {
      const epochStart = performance.now();
      for (let i = 0; i < config.stepsPerEpoch; i++) {
        if (signal?.aborted) {
          stopped = true;
          break;
        }
        const { x, y } = gatherBatch(data.train, sampler.nextBatch());
        trainingStep(model, config.learningRate, x, y, config.updateMovingAverages ?? true);
        tf.dispose([x, y]);
        step++;
        if (step % progressEvery === 0 || step === totalSteps) {
          onStep?.(step, totalSteps, model);
          // Let progress displays and interrupts through.
          await nextTick();
        }
      }
      if (stopped) break;
      const evalStart = performance.now();
      const trainMetrics = evaluate(model, data.train, 'training');
      const testMetrics = evaluate(model, data.test, 'inference');
      const record: EpochRecord = {
        epoch,
        trainLoss: trainMetrics.loss,
        trainAccuracy: trainMetrics.accuracy,
        testLoss: testMetrics.loss,
        testAccuracy: testMetrics.accuracy,
        trainSeconds: (evalStart - epochStart) / 1000,
        evalSeconds: (performance.now() - evalStart) / 1000,
      };
      history.push(record);
      onEpoch?.(record, model);
      await nextTick();
    }
  } catch (error) {
    disposeModel(model);
    throw error;
  }
  return { history, model, stopped, seconds: (performance.now() - started) / 1000 };
}
