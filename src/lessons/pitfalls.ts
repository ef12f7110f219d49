import * as tf from '@tensorflow/tfjs';
import { BatchNormLayer } from '../nn/batchnorm-layer.js';
import { disposeNetwork, forward, updateOps, type Network } from '../nn/network.js';
import { train, type EpochRecord, type TrainHooks } from '../train/trainer.js';
import type { DeviceSplit, TrainTest } from '../data/device-split.js';
import { type TrainConfig } from '../train/config.js';

/**
 * What `apply(x, {training: true})` does to a tf.layers model during evaluation: every batch
 * of the evaluated data is normalized with its own statistics and folded into the moving
 * averages, as if it were training data.
 */
export function pollutingEvaluation(network: Network, split: DeviceSplit, batchSize = 100): void {
  for (let start = 0; start + batchSize <= split.count; start += batchSize) {
    tf.tidy(() => {
      const x = split.x.slice([start, 0], [batchSize, -1]) as tf.Tensor2D;
      for (const update of updateOps(network, forward(network, x, 'training').cache)) update();
    });
  }
}

/** Layer i's batch norm (from 0); one line where the network has none there. */
export function batchNormOf(network: Network, layer = 0): BatchNormLayer {
  const norm = network.hidden[layer]?.norm;
  if (!(norm instanceof BatchNormLayer))
    throw new Error(`layer ${layer + 1} of the network has no batch norm`);
  return norm;
}

/** Layer-1 moving mean, averaged over units: one number to follow the statistics' drift. */
export function meanOfMovingMeans(network: Network): number {
  const bn = batchNormOf(network);
  return tf.tidy(() => tf.mean(bn.movingMean()).dataSync()[0]!);
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
  callbacks: TrainHooks = {},
): Promise<{ trace: MovingMeanTrace; history: EpochRecord[] }> {
  const trace: MovingMeanTrace = { step: [], moving: [], population: [] };
  const record = (step: number, network: Network) => {
    const layer = network.hidden[0]!;
    const [moving, population] = tf.tidy(() => {
      const z = tf.fused.matMul({ a: reference, b: layer.dense.kernel, bias: layer.dense.bias });
      return [batchNormOf(network).movingMean().dataSync()[unit]!, tf.mean(z, 0).dataSync()[unit]!];
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
      onStep: (step, total, network) => {
        record(step, network);
        callbacks.onStep?.(step, total, network);
      },
    },
  );
  disposeNetwork(run.network);
  return { trace, history: run.history };
}

/** Logits of single examples sent one at a time through a model in the training phase. */
export function singleExampleTrainingLogits(
  network: Network,
  split: DeviceSplit,
  count: number,
): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < count; i++) {
    rows.push(
      tf.tidy(() => [
        ...forward(
          network,
          split.x.slice([i, 0], [1, -1]) as tf.Tensor2D,
          'training',
        ).logits.dataSync(),
      ]),
    );
  }
  return rows;
}
