import * as tf from '@tensorflow/tfjs';
import { disposeModel, forward, updateOps, type Mlp } from '../nn/mlp.js';
import { train, type EpochRecord, type TrainCallbacks } from '../train/trainer.js';
import type { DeviceSplit, TrainTest } from '../data/device-split.js';
import { type TrainConfig } from '../train/config.js';

/**
 * What `apply(x, {training: true})` does to a tf.layers model during evaluation: every batch
 * of the evaluated data is normalized with its own statistics and folded into the moving
 * averages, as if it were training data.
 */
export function pollutingEvaluation(model: Mlp, split: DeviceSplit, batchSize = 100): void {
  for (let start = 0; start + batchSize <= split.count; start += batchSize) {
    tf.tidy(() => {
      const x = split.x.slice([start, 0], [batchSize, -1]) as tf.Tensor2D;
      for (const update of updateOps(model, forward(model, x, 'training').cache)) update();
    });
  }
}

/** Layer-1 moving mean, averaged over units: one number to follow the statistics' drift. */
export function meanOfMovingMeans(model: Mlp): number {
  const bn = model.hidden[0]!.bn;
  if (!bn) throw new Error('the model has no batch norm');
  return tf.tidy(() => tf.mean(bn.movingMean).dataSync()[0]!);
}

export interface MovingMeanTrace {
  step: number[];
  /** Layer-1 moving mean of the tracked unit. */
  moving: number[];
  /** The same unit's mean pre-activation over the reference examples, with the current weights. */
  population: number[];
}

/**
 * Trains a BN-before-ReLU model and follows one unit of layer 1: its moving mean against
 * the mean it estimates (the unit's pre-activation mean over `reference`, recomputed as
 * the weights change).
 */
export async function traceMovingMean(
  data: TrainTest,
  config: TrainConfig,
  reference: tf.Tensor2D,
  unit = 0,
  every = 10,
  callbacks: TrainCallbacks = {},
): Promise<{ trace: MovingMeanTrace; history: EpochRecord[] }> {
  const trace: MovingMeanTrace = { step: [], moving: [], population: [] };
  const record = (step: number, model: Mlp) => {
    const layer = model.hidden[0]!;
    const [moving, population] = tf.tidy(() => {
      const z = tf.fused.matMul({ a: reference, b: layer.dense.kernel, bias: layer.dense.bias });
      return [layer.bn!.movingMean.dataSync()[unit]!, tf.mean(z, 0).dataSync()[unit]!];
    });
    trace.step.push(step);
    trace.moving.push(moving);
    trace.population.push(population);
  };
  const run = await train(
    data,
    { ...config, placement: 'pre' },
    {
      ...callbacks,
      progressEvery: every,
      onStep: (step, total, model) => {
        record(step, model);
        callbacks.onStep?.(step, total, model);
      },
    },
  );
  disposeModel(run.model);
  return { trace, history: run.history };
}

/** Logits of single examples sent one at a time through a model in the training phase. */
export function singleExampleTrainingLogits(
  model: Mlp,
  split: DeviceSplit,
  count: number,
): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < count; i++) {
    rows.push(
      tf.tidy(() => [
        ...forward(
          model,
          split.x.slice([i, 0], [1, -1]) as tf.Tensor2D,
          'training',
        ).logits.dataSync(),
      ]),
    );
  }
  return rows;
}
