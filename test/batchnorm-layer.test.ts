import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { batchNormGradientCheck } from '../src/lessons/gradient-check.js';
import { BatchNormLayer } from '../src/nn/batchnorm-layer.js';
import { DEFAULT_STREAM } from '../src/nn/norm-layer.js';
import {
  createNetwork,
  disposeNetwork,
  forward,
  variableOf,
  type Network,
} from '../src/nn/network.js';
import { weightsFromJSON, weightsToJSON } from '../src/nn/weights-json.js';
import { autodiffStep } from '../src/train/autodiff-step.js';
import { leanStep } from '../src/train/lean-step.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

before(setUpBackend);

const randomBatch = (rows: number, cols: number, seed: number, shift = 0) =>
  tf.add(tf.randomNormal([rows, cols], 0, 2, 'float32', seed), shift) as tf.Tensor2D;

/** One-hot labels 0, 1, ..., 9, 0, 1, ... for `rows` examples. */
const cyclicLabels = (rows: number) =>
  tf.tidy(
    () =>
      tf
        .oneHot(
          tf.tensor1d(
            Array.from({ length: rows }, (_, i) => i % 10),
            'int32',
          ),
          10,
        )
        .toFloat() as tf.Tensor2D,
  );

const TRAINING = { phase: 'training', stream: DEFAULT_STREAM } as const;
const INFERENCE = { phase: 'inference', stream: DEFAULT_STREAM } as const;

test('the batch-norm layer matches tf.layers.batchNormalization within 1e-5', () => {
  const ours = new BatchNormLayer(6, { decay: 0.9, epsilon: 1e-3 });
  const theirs = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
  const gamma = tf.tensor1d([0.5, 1, 1.5, 2, -1, 0.25]);
  const beta = tf.tensor1d([0, 0.1, -0.2, 0.3, 1, -1]);
  theirs.build([null, 6]);
  theirs.setWeights([gamma, beta, tf.zeros([6]), tf.ones([6])]);
  ours.gamma!.assign(gamma);
  ours.beta!.assign(beta);
  for (let step = 0; step < 5; step++) {
    const x = randomBatch(32, 6, step, 3);
    tf.tidy(() => {
      const mine = ours.forward(x, TRAINING);
      ours.update(mine.saved!, DEFAULT_STREAM);
      const reference = theirs.apply(x, { training: true }) as tf.Tensor;
      assert.ok(maxAbsDiff(mine.y.dataSync(), reference.dataSync()) < 1e-5);
    });
    x.dispose();
  }
  const [, , movingMean, movingVariance] = theirs.getWeights();
  assert.ok(maxAbsDiff(ours.movingMean().dataSync(), movingMean!.dataSync()) < 1e-5);
  assert.ok(maxAbsDiff(ours.movingVariance().dataSync(), movingVariance!.dataSync()) < 1e-5);
  const x = randomBatch(10, 6, 99);
  const inference = ours.forward(x, INFERENCE).y;
  const referenceInference = theirs.apply(x, { training: false }) as tf.Tensor;
  assert.ok(maxAbsDiff(inference.dataSync(), referenceInference.dataSync()) < 1e-5);
  tf.dispose([x, inference, referenceInference, gamma, beta]);
  ours.dispose();
  // A layer applied only eagerly cannot be disposed as a layer; free its variables instead.
  for (const weight of theirs.weights) weight.dispose();
});

test('gradient check: closed-form and autodiff gradients match finite differences', () => {
  const check = batchNormGradientCheck({ seed: 3 });
  for (const [method, errors] of Object.entries(check)) {
    for (const [input, error] of Object.entries(errors as Record<string, number>))
      assert.ok(error < 1e-3, `${method} ${input}: relative error ${error}`);
  }
});

test('scale: false and center: false work in training', () => {
  const layer = new BatchNormLayer(3, { decay: 0.99, epsilon: 1e-3, scale: false, center: false });
  assert.equal(layer.trainable.length, 0);
  const x = tf.tensor2d([
    [1, 2, 3],
    [3, 6, 9],
  ]);
  const { y } = layer.forward(x, TRAINING);
  // Two rows: each normalizes to -1 and +1, up to epsilon.
  const expected = [-1, -1, -1, 1, 1, 1].map(
    (v, i) => v * Math.sqrt([1, 4, 9][i % 3]! / ([1, 4, 9][i % 3]! + 1e-3)),
  );
  assert.ok(maxAbsDiff(y.dataSync(), expected) < 1e-5);
  tf.dispose([x, y]);
  layer.dispose();
});

test('moving statistics change only when update is called', () => {
  const layer = new BatchNormLayer(4, { decay: 0.999, epsilon: 1e-3 });
  const x = randomBatch(16, 4, 1, 5);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const { saved } = layer.forward(x, TRAINING);
    layer.forward(x, INFERENCE);
    assert.deepEqual([...layer.movingMean().dataSync()], [0, 0, 0, 0]);
    assert.deepEqual([...layer.movingVariance().dataSync()], [1, 1, 1, 1]);
    layer.update(saved!, DEFAULT_STREAM);
  });
  assert.equal(tf.memory().numTensors, before, 'forward and update keep no tensor');
  const columnMeans = [0, 1, 2, 3].map((j) => {
    const values = Array.from(x.dataSync()).filter((_, i) => i % 4 === j);
    return values.reduce((s, v) => s + v, 0) / values.length;
  });
  assert.ok(
    maxAbsDiff(
      layer.movingMean().dataSync(),
      columnMeans.map((m) => 0.001 * m),
    ) < 1e-6,
  );
  x.dispose();
  layer.dispose();
});

test('per-stream statistics stay separate; gamma and beta are shared', () => {
  const layer = new BatchNormLayer(2, {
    decay: 0.5,
    epsilon: 1e-3,
    streams: ['original', 'inverted'],
  });
  const a = tf.tensor2d([
    [1, 1],
    [3, 3],
  ]); // mean 2
  const b = tf.tensor2d([
    [-5, -5],
    [-7, -7],
  ]); // mean -6
  for (const [x, stream] of [
    [a, 'original'],
    [b, 'inverted'],
  ] as const) {
    tf.tidy(() => layer.update(layer.forward(x, { phase: 'training', stream }).saved!, stream));
  }
  assert.deepEqual([...layer.movingMean('original').dataSync()], [1, 1]);
  assert.deepEqual([...layer.movingMean('inverted').dataSync()], [-3, -3]);
  assert.equal(layer.trainable.length, 2);
  tf.dispose([a, b]);
  layer.dispose();
});

test('an unknown stream is rejected by name', () => {
  const layer = new BatchNormLayer(2, {
    decay: 0.99,
    epsilon: 1e-3,
    streams: ['original', 'inverted'],
  });
  const x = tf.zeros([2, 2]) as tf.Tensor2D;
  assert.throws(
    () => layer.forward(x, { phase: 'inference', stream: 'rotated' }),
    /unknown batch-norm stream 'rotated' \(known: original, inverted\)/,
  );
  assert.throws(() => layer.movingMean(), /unknown batch-norm stream 'default'/);
  x.dispose();
  layer.dispose();
});

for (const [name, step] of [
  ['lean', leanStep],
  ['autodiff', autodiffStep],
] as const) {
  test(`a network with per-stream statistics: the ${name} step updates only its batch's stream`, () => {
    const network = createNetwork({
      placement: 'pre',
      seed: 1,
      hiddenUnits: [8],
      streams: ['a', 'b'],
    });
    const x = randomBatch(20, 784, 4, 1);
    const y = cyclicLabels(20);
    const before = tf.memory().numTensors;
    step(network, { learningRate: 0.1 }, x, y, true, 'a');
    assert.equal(tf.memory().numTensors, before);
    const mean = (stream: string) => variableOf(network, `layer1/bn/${stream}/moving_mean`);
    assert.ok(
      mean('a')
        .dataSync()
        .some((v) => v !== 0),
    );
    assert.ok(
      mean('b')
        .dataSync()
        .every((v) => v === 0),
    );
    // Inference with each stream's statistics differs; gamma and beta are one pair.
    const logits = (stream: string) =>
      tf.tidy(() => forward(network, x, 'inference', stream).logits.dataSync());
    assert.ok(maxAbsDiff(logits('a'), logits('b')) > 1e-3);
    assert.equal(network.hidden[0]!.norm!.trainable.length, 2);
    tf.dispose([x, y]);
    disposeNetwork(network);
  });
}

test('a JSON round trip of the weights gives identical predictions', () => {
  const trained = createNetwork({ placement: 'post', seed: 5 });
  const x = randomBatch(50, 784, 7, 0.5);
  const y = cyclicLabels(50);
  for (let i = 0; i < 5; i++) leanStep(trained, { learningRate: 0.05 }, x, y);
  const json = JSON.parse(JSON.stringify(weightsToJSON(trained)));
  const fresh = createNetwork({ placement: 'post', seed: 6 });
  weightsFromJSON(fresh, json);
  const predict = (m: Network) => tf.tidy(() => forward(m, x, 'inference').logits.dataSync());
  assert.deepEqual(predict(fresh), predict(trained));
  // Per-stream statistics have names of their own, and a network of other streams refuses them.
  const streams = createNetwork({ placement: 'pre', hiddenUnits: [3], streams: ['s1', 's2'] });
  variableOf(streams, 'layer1/bn/s2/moving_mean').assign(tf.tensor1d([1, 2, 3]));
  const copy = createNetwork({ placement: 'pre', hiddenUnits: [3], streams: ['s1', 's2'] });
  weightsFromJSON(copy, JSON.parse(JSON.stringify(weightsToJSON(streams))));
  assert.deepEqual([...variableOf(copy, 'layer1/bn/s2/moving_mean').dataSync()], [1, 2, 3]);
  const shared = createNetwork({ placement: 'pre', hiddenUnits: [3] });
  assert.throws(
    () => weightsFromJSON(shared, weightsToJSON(streams)),
    /names this network lacks: layer1\/bn\/s1\/moving_mean/,
  );
  assert.throws(
    () => weightsFromJSON(fresh, { ...json, 'layer9/x': { shape: [1], values: [0] } }),
    /names this network lacks: layer9\/x/,
  );
  tf.dispose([x, y]);
  for (const network of [trained, fresh, streams, copy, shared]) disposeNetwork(network);
});
