import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ghostBatchNorm, GhostBatchNorm } from '../src/lessons/ghost-batch.js';
import { BatchNormLayer } from '../src/nn/batchnorm-layer.js';
import { registerNormalization } from '../src/nn/normalizations.js';
import { train } from '../src/train/trainer.js';
import { disposeNetwork, variableOf } from '../src/nn/network.js';
import { maxAbsDiff, smallMnistOnDevice } from './helpers.js';

// Sets up the backend too, before any test.
const small = smallMnistOnDevice();

const settings = { decay: 0.9, epsilon: 1e-3, streams: ['default'], seed: 0, layer: 1 };

/** Float64 reference: each group of `size` rows normalized with its own mean and biased variance. */
function ghostReference(rows: number[][], size: number, epsilon: number) {
  const out: number[][] = [];
  const means: number[][] = [];
  const variances: number[][] = [];
  for (let start = 0; start < rows.length; start += size) {
    const group = rows.slice(start, start + size);
    const units = group[0]!.length;
    const mean = Array.from(
      { length: units },
      (_, j) => group.reduce((s, r) => s + r[j]!, 0) / size,
    );
    const variance = Array.from(
      { length: units },
      (_, j) => group.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / size,
    );
    means.push(mean);
    variances.push(variance);
    for (const r of group)
      out.push(r.map((v, j) => (v - mean[j]!) / Math.sqrt(variance[j]! + epsilon)));
  }
  const average = (list: number[][]) =>
    list[0]!.map((_, j) => list.reduce((s, m) => s + m[j]!, 0) / list.length);
  return { out, meanOfMeans: average(means), meanOfVariances: average(variances) };
}

test('ghost batch norm normalizes each group of rows with its own statistics, and folds their mean into the moving averages', () => {
  const x = tf.tidy(
    () => tf.add(tf.mul(tf.randomNormal([20, 3], 0, 1, 'float32', 5), 3), 1) as tf.Tensor2D,
  );
  const rows = x.arraySync();
  const layer = new GhostBatchNorm(3, settings, 5);
  const reference = ghostReference(rows, 5, 1e-3);
  const before = tf.memory().numTensors;
  const y = tf.tidy(() => {
    const { y, saved } = layer.forward(x, { phase: 'training' });
    layer.update(saved);
    return y.dataSync();
  });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(maxAbsDiff(y, reference.out.flat()) < 1e-5);
  // One update with decay 0.9 from the initial mean 0 and variance 1.
  const [movingMean, movingVariance] = layer.variables
    .filter(([name]) => name.startsWith('moving'))
    .map(([, v]) => Array.from(v.dataSync()));
  assert.ok(
    maxAbsDiff(
      movingMean!,
      reference.meanOfMeans.map((m) => 0.1 * m),
    ) < 1e-5,
  );
  assert.ok(
    maxAbsDiff(
      movingVariance!,
      reference.meanOfVariances.map((v) => 0.9 + 0.1 * v),
    ) < 1e-5,
  );
  // Inference is batch norm's with the moving statistics: no groups.
  const plain = new BatchNormLayer(3, settings);
  plain.movingMean().assign(tf.tensor1d(movingMean!));
  plain.movingVariance().assign(tf.tensor1d(movingVariance!));
  const [ghostOut, plainOut] = [layer, plain].map((l) => l.forward(x, { phase: 'inference' }).y);
  assert.ok(maxAbsDiff(ghostOut!.dataSync(), plainOut!.dataSync()) === 0);
  tf.dispose([x, ghostOut!, plainOut!]);
  layer.dispose();
  plain.dispose();
});

test('a ghost batch as large as the batch is batch norm; a batch that does not split refuses in one line', () => {
  const x = tf.randomNormal([12, 4], 2, 3, 'float32', 9) as tf.Tensor2D;
  const ghost = new GhostBatchNorm(4, settings, 12);
  const plain = new BatchNormLayer(4, settings);
  const [a, b] = [ghost, plain].map((l) => l.forward(x, { phase: 'training' }));
  assert.ok(maxAbsDiff(a!.y.dataSync(), b!.y.dataSync()) < 1e-5);
  assert.throws(
    () => new GhostBatchNorm(4, settings, 5).forward(x, { phase: 'training' }),
    /^Error: ghost batches of 5 need a batch that is a multiple of 5, got 12$/,
  );
  assert.throws(() => ghostBatchNorm(1), /^Error: a ghost batch needs at least 2 rows, got 1$/);
  tf.dispose([x, a!.y, b!.y]);
  ghost.dispose();
  plain.dispose();
});

test('the network trains with ghost batches through the one loop, without leaking tensors', async () => {
  registerNormalization(ghostBatchNorm(10));
  const config = {
    placement: 'pre' as const,
    normalization: 'ghost10',
    epochs: 2,
    stepsPerEpoch: 40,
    batchSize: 50,
    learningRate: 0.1,
    seed: 1,
    decay: 0.9,
    epsilon: 1e-3,
  };
  const first = await train(small.data, config);
  assert.equal(first.step, 'autodiff');
  const after = tf.memory().numTensors;
  disposeNetwork(first.network);
  const second = await train(small.data, config);
  assert.equal(tf.memory().numTensors, after, 'a second run holds as many tensors as the first');
  // 80 steps of 50 digits: far above chance (0.1).
  assert.ok(second.history.at(-1)!.testAccuracy > 0.7, String(second.history.at(-1)!.testAccuracy));
  assert.ok(
    variableOf(second.network, 'layer1/bn/moving_mean')
      .dataSync()
      .some((v) => v !== 0),
  );
  disposeNetwork(second.network);
});
