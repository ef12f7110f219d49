import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../data/batches.js';
import { gatherBatch, type DeviceSplit, type TrainTest } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import { createModel, disposeModel, type Mlp } from '../nn/mlp.js';
import { yieldToEventLoop } from '../runtime/event-loop.js';
import { validateConfig, type TrainConfig } from './config.js';
import { fusedLossAndAccuracy } from './fused-step.js';
import { accuracy, crossEntropy } from './metrics.js';
import {
  createTrainingStep,
  logitsFor,
  resolveStepKind,
  type StepKind,
  type TrainingStep,
} from './steps.js';

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
  /** The step implementation that ran. */
  step: StepKind;
  stopped: boolean;
  seconds: number;
}

/**
 * Loss and accuracy on a whole split in one pass. In the training phase the model normalizes
 * with the split's own batch statistics, as the guide's phase=1 evaluation did, and nothing
 * is written: moving averages change only inside the training step. `kind` picks the
 * kernels (fused where the backend has them, by default).
 */
export function evaluate(
  model: Mlp,
  split: DeviceSplit,
  phase: Phase,
  kind: StepKind = resolveStepKind(),
): { loss: number; accuracy: number } {
  const [loss, acc] = tf.tidy(() => {
    const logits = logitsFor(kind, model, split.x, phase);
    return kind === 'fused' || kind === 'graph'
      ? fusedLossAndAccuracy(logits, split.y)
      : [crossEntropy(logits, split.y), accuracy(logits, split.y)];
  });
  const values = { loss: loss.dataSync()[0]!, accuracy: acc.dataSync()[0]! };
  tf.dispose([loss, acc]);
  return values;
}

/**
 * Trains one of the guide's models and records the guide's per-epoch history:
 * train metrics on the whole training set in the training phase, test metrics in inference.
 */
export async function train(
  data: TrainTest,
  config: TrainConfig,
  callbacks: TrainCallbacks = {},
): Promise<TrainResult> {
  validateConfig(config, data.train.count);
  const kind = resolveStepKind(config.step);
  const { onStep, onEpoch, signal, progressEvery = 50 } = callbacks;
  const started = performance.now();
  const model = createModel({
    placement: config.placement,
    seed: config.seed,
    decay: config.decay,
    epsilon: config.epsilon,
    initScale: config.initScale,
  });
  const sampler = new BatchSampler(data.train.count, config.batchSize, `batches-${config.seed}`);
  const totalSteps = config.epochs * config.stepsPerEpoch;
  const history: EpochRecord[] = [];
  let step = 0;
  let stopped = false;
  let trainingStep: TrainingStep | undefined;
  try {
    trainingStep = await createTrainingStep(kind, model, config);
    for (let epoch = 1; epoch <= config.epochs && !stopped; epoch++) {
      const epochStart = performance.now();
      for (let i = 0; i < config.stepsPerEpoch; i++) {
        if (signal?.aborted) {
          stopped = true;
          break;
        }
        const { x, y } = gatherBatch(data.train, sampler.nextBatch());
        trainingStep.run(x, y);
        tf.dispose([x, y]);
        step++;
        if (step % progressEvery === 0 || step === totalSteps) {
          if (onStep) {
            // The callback may look at the model, so it must hold the current values.
            trainingStep.syncModel();
            onStep(step, totalSteps, model);
          }
          await yieldToEventLoop();
        }
      }
      trainingStep.syncModel();
      if (stopped) break;
      const evalStart = performance.now();
      const measure = (split: DeviceSplit, phase: Phase) =>
        trainingStep!.evaluate?.(split, phase) ?? evaluate(model, split, phase, kind);
      const trainMetrics = measure(data.train, 'training');
      const testMetrics = measure(data.test, 'inference');
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
      await yieldToEventLoop();
    }
  } catch (error) {
    disposeModel(model);
    throw error;
  } finally {
    trainingStep?.dispose();
  }
  return { history, model, step: kind, stopped, seconds: (performance.now() - started) / 1000 };
}
