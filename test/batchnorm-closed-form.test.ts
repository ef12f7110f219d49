import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { batchNormBackward, normalizeWithBatchStats } from '../src/nn/batchnorm-closed-form.js';
import { BatchNormLayer } from '../src/nn/batchnorm-layer.js';
import { DEFAULT_STREAM } from '../src/nn/norm-layer.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

before(setUpBackend);

const EPS = 1e-3;

/** Batch norm of a row-major [n, d] matrix in double precision, written out longhand. */
function referenceBatchNorm(
  x: number[][],
  gamma: number[],
  beta: number[],
  eps: number,
): { y: number[][]; mean: number[]; variance: number[] } {
  const n = x.length;
  const d = x[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => x.reduce((s, row) => s + row[j]!, 0) / n);
  const variance = Array.from(
    { length: d },
    (_, j) => x.reduce((s, row) => s + (row[j]! - mean[j]!) ** 2, 0) / n,
  );
  const y = x.map((row) =>
    row.map((v, j) => (gamma[j]! * (v - mean[j]!)) / Math.sqrt(variance[j]! + eps) + beta[j]!),
  );
  return { y, mean, variance };
}

const X = [
  [0.5, -1.0, 3.0],
  [1.5, 0.0, 2.0],
  [-0.5, 2.0, 2.5],
  [2.5, 1.0, 0.5],
  [1.0, -3.0, 1.0],
];
const GAMMA = [1.5, 0.5, -2.0];
const BETA = [0.1, -0.2, 0.3];

test('training-phase forward pass matches the batch-norm formula', () => {
  const expected = referenceBatchNorm(X, GAMMA, BETA, EPS);
  tf.tidy(() => {
    const { y, cache } = normalizeWithBatchStats(
      tf.tensor2d(X),
      tf.tensor1d(GAMMA),
      tf.tensor1d(BETA),
      EPS,
    );
    const { stats } = cache;
    assert.ok(maxAbsDiff(y.dataSync(), expected.y.flat()) < 1e-5);
    assert.ok(maxAbsDiff(stats.mean.dataSync(), expected.mean) < 1e-6);
    // The stored variance is the biased (divide-by-n) one.
    assert.ok(maxAbsDiff(stats.variance.dataSync(), expected.variance) < 1e-5);
  });
});

test('inference-phase forward pass uses the moving statistics, row by row', () => {
  const bn = new BatchNormLayer(3, { decay: 0.999, epsilon: EPS });
  const movingMean = [0.2, -0.4, 1.0];
  const movingVariance = [4.0, 0.25, 1.0];
  tf.tidy(() => {
    bn.movingMean().assign(tf.tensor1d(movingMean));
    bn.movingVariance().assign(tf.tensor1d(movingVariance));
    bn.gamma!.assign(tf.tensor1d(GAMMA));
    bn.beta!.assign(tf.tensor1d(BETA));
  });
  const inference = (x: number[][]) =>
    bn.forward(tf.tensor2d(x), { phase: 'inference', stream: DEFAULT_STREAM }).y.dataSync();
  const expected = X.map((row) =>
    row.map(
      (v, j) => (GAMMA[j]! * (v - movingMean[j]!)) / Math.sqrt(movingVariance[j]! + EPS) + BETA[j]!,
    ),
  );
  tf.tidy(() => {
    assert.ok(maxAbsDiff(inference(X), expected.flat()) < 1e-5);
    // A row's output does not depend on the rest of the batch.
    assert.ok(maxAbsDiff(inference([X[3]!]), expected[3]!) < 1e-5);
  });
  bn.dispose();
});

test('moving averages after N updates on constant input follow the closed form', () => {
  const bn = new BatchNormLayer(2, { decay: 0.999, epsilon: EPS });
  const c = [3.0, -2.0];
  const n = 500;
  const batch = tf.tensor2d(Array.from({ length: 10 }, () => c));
  const training = { phase: 'training', stream: DEFAULT_STREAM } as const;
  for (let i = 0; i < n; i++)
    tf.tidy(() => bn.update(bn.forward(batch, training).saved!, DEFAULT_STREAM));
  // From 0 and 1: mean -> c (1 - d^N); the batch variance is 0, so variance -> d^N.
  const remaining = 0.999 ** n;
  assert.ok(Math.abs(remaining - 0.6064) < 1e-4); // the guide's epoch 1 ends with 61% of the initial statistics
  assert.ok(
    maxAbsDiff(
      bn.movingMean().dataSync(),
      c.map((v) => v * (1 - remaining)),
    ) < 1e-4,
  );
  assert.ok(maxAbsDiff(bn.movingVariance().dataSync(), [remaining, remaining]) < 1e-4);
  batch.dispose();
  bn.dispose();
});

test('the closed-form gradient matches finite differences of the formula', () => {
  // Loss = sum(w * BN(x)); finite differences in double precision, independent of tfjs.
  const w = X.map((row, i) => row.map((_, j) => Math.sin(1 + i * 3 + j)));
  const loss = (x: number[][], gamma: number[], beta: number[]) =>
    referenceBatchNorm(x, gamma, beta, EPS).y.reduce(
      (s, row, i) => s + row.reduce((t, v, j) => t + v * w[i]![j]!, 0),
      0,
    );
  const h = 1e-6;
  const fdX = X.map((row, i) =>
    row.map((_, j) => {
      const plus = X.map((r) => [...r]);
      const minus = X.map((r) => [...r]);
      plus[i]![j]! += h;
      minus[i]![j]! -= h;
      return (loss(plus, GAMMA, BETA) - loss(minus, GAMMA, BETA)) / (2 * h);
    }),
  );
  const fdGamma = GAMMA.map((_, j) => {
    const plus = [...GAMMA];
    const minus = [...GAMMA];
    plus[j]! += h;
    minus[j]! -= h;
    return (loss(X, plus, BETA) - loss(X, minus, BETA)) / (2 * h);
  });
  const fdBeta = BETA.map((_, j) => w.reduce((s, row) => s + row[j]!, 0));

  const [dx, dGamma, dBeta] = tf.tidy(() => {
    const gamma = tf.tensor1d(GAMMA);
    const { cache } = normalizeWithBatchStats(tf.tensor2d(X), gamma, tf.tensor1d(BETA), EPS);
    // The loss's gradient with respect to BN's output is w itself.
    const grads = batchNormBackward(tf.tensor2d(w), cache, gamma);
    return [grads.dx, grads.dGamma, grads.dBeta].map((t) => t.dataSync());
  });
  const relative = (a: ArrayLike<number>, b: number[]) =>
    maxAbsDiff(a, b) / Math.max(...b.map(Math.abs));
  assert.ok(relative(dx!, fdX.flat()) < 1e-3, `dx relative error ${relative(dx!, fdX.flat())}`);
  assert.ok(
    relative(dGamma!, fdGamma) < 1e-3,
    `dgamma relative error ${relative(dGamma!, fdGamma)}`,
  );
  assert.ok(relative(dBeta!, fdBeta) < 1e-5);
});
