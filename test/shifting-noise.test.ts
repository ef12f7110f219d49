import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  driftBetween,
  noiseDrift,
  NoisyBatchNorm,
  preActivationMoments,
} from '../src/lessons/shifting-noise.js';
import { BatchNormLayer } from '../src/nn/batchnorm-layer.js';
import { createNetwork, disposeNetwork } from '../src/nn/network.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

before(setUpBackend);

const settings = { decay: 0.99, epsilon: 1e-3, streams: ['default'], seed: 3, layer: 1 };

test('noisy batch norm: in training each unit is batch norm scaled in [1/2, 2] and shifted in [-1, 1]; inference is batch norm', () => {
  const x = tf.randomNormal([16, 5], 1, 2, 'float32', 4) as tf.Tensor2D;
  const noisy = new NoisyBatchNorm(5, settings, { maxScale: 2, maxShift: 1 });
  const plain = new BatchNormLayer(5, settings);
  const [y, bn] = tf.tidy(() => [
    noisy.forward(x, { phase: 'training' }).y.arraySync(),
    plain.forward(x, { phase: 'training' }).y.arraySync(),
  ]);
  for (let j = 0; j < 5; j++) {
    // Two rows give each unit's scale and shift; every other row must fit the same line.
    const scale = (y[0]![j]! - y[1]![j]!) / (bn[0]![j]! - bn[1]![j]!);
    const shift = y[0]![j]! - scale * bn[0]![j]!;
    assert.ok(scale >= 0.5 - 1e-4 && scale <= 2 + 1e-4, `unit ${j}: scale ${scale}`);
    assert.ok(Math.abs(shift) <= 1 + 1e-4, `unit ${j}: shift ${shift}`);
    for (let i = 2; i < 16; i++)
      assert.ok(Math.abs(y[i]![j]! - (scale * bn[i]![j]! + shift)) < 1e-4, `unit ${j}, row ${i}`);
  }
  const [a, b] = tf.tidy(() => [
    noisy.forward(x, { phase: 'inference' }).y.dataSync(),
    plain.forward(x, { phase: 'inference' }).y.dataSync(),
  ]);
  assert.equal(maxAbsDiff(a, b), 0);
  tf.dispose(x);
  noisy.dispose();
  plain.dispose();
});

test("the noise's per-step change: E|a - b| = 2m/3 for two draws from U[-m, m], against a simulation", () => {
  const { shift, logScale } = noiseDrift({ maxScale: 2, maxShift: 1 });
  assert.ok(Math.abs(shift - 2 / 3) < 1e-12);
  assert.ok(Math.abs(logScale - (2 * Math.log(2)) / 3) < 1e-12);
  let state = 7;
  const random = () => (state = (state * 16807) % 2147483647) / 2147483647;
  let sum = 0;
  const draws = 200000;
  for (let i = 0; i < draws; i++) sum += Math.abs(2 * random() - 1 - (2 * random() - 1));
  assert.ok(Math.abs(sum / draws - shift) < 0.005, String(sum / draws));
});

test('drift between two sets of moments: mean shift in units of the first std, and |log| of the std ratio', () => {
  const before = { mean: Float32Array.from([0, 1]), std: Float32Array.from([2, 1]) };
  const after = { mean: Float32Array.from([1, 0.5]), std: Float32Array.from([4, 0.5]) };
  const { shift, logScale } = driftBetween(before, after);
  // Unit 0: |1 - 0| / 2 = 0.5, |log 2|; unit 1: |0.5 - 1| / 1 = 0.5, |log 0.5|.
  assert.ok(Math.abs(shift - 0.5) < 1e-7);
  assert.ok(Math.abs(logScale - Math.log(2)) < 1e-7);
});

test("pre-activation moments: each hidden layer's dense output, per unit, against float64", () => {
  const network = createNetwork({ placement: 'none', seed: 2, hiddenUnits: [4, 3] });
  const x = tf.randomUniform([6, 784], 0, 1, 'float32', 8) as tf.Tensor2D;
  const moments = preActivationMoments(network, x);
  const rows = x.arraySync();
  const [w1, b1, w2, b2] = [
    network.hidden[0]!.dense.kernel.arraySync() as number[][],
    network.hidden[0]!.dense.bias.arraySync() as number[],
    network.hidden[1]!.dense.kernel.arraySync() as number[][],
    network.hidden[1]!.dense.bias.arraySync() as number[],
  ];
  const dense = (input: number[][], w: number[][], b: number[]) =>
    input.map((r) => b.map((bj, j) => r.reduce((s, v, i) => s + v * w[i]![j]!, bj)));
  const z1 = dense(rows, w1, b1);
  const z2 = dense(
    z1.map((r) => r.map((v) => Math.max(0, v))),
    w2,
    b2,
  );
  for (const [k, z] of [z1, z2].entries()) {
    const units = z[0]!.length;
    const mean = Array.from({ length: units }, (_, j) => z.reduce((s, r) => s + r[j]!, 0) / 6);
    const std = mean.map((m, j) => Math.sqrt(z.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / 6));
    assert.ok(maxAbsDiff(moments[k]!.mean, mean) < 1e-4, `layer ${k + 1} mean`);
    assert.ok(maxAbsDiff(moments[k]!.std, std) < 1e-4, `layer ${k + 1} std`);
  }
  tf.dispose(x);
  disposeNetwork(network);
});
