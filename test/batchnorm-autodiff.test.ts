import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { batchNormGradientCheck } from '../src/lessons/gradient-check.js';
import {
  createModel,
  disposeModel,
  forward,
  weightsFromJSON,
  weightsToJSON,
} from '../src/nn/mlp.js';
import { AutodiffBatchNorm } from '../src/nn/batchnorm-autodiff.js';
import {
  createStreamModel,
  disposeStreamModel,
  streamTrainingStep,
} from '../src/lessons/two-streams.js';
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

test('the from-scratch AutodiffBatchNorm matches tf.layers.batchNormalization within 1e-5', () => {
  const ours = new AutodiffBatchNorm({ units: 6, decay: 0.9 });
  const theirs = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
  const gamma = tf.tensor1d([0.5, 1, 1.5, 2, -1, 0.25]);
  const beta = tf.tensor1d([0, 0.1, -0.2, 0.3, 1, -1]);
  theirs.build([null, 6]);
  theirs.setWeights([gamma, beta, tf.zeros([6]), tf.ones([6])]);
  ours.gamma!.assign(gamma);
  ours.beta!.assign(beta);
  for (let step = 0; step < 5; step++) {
    const x = randomBatch(32, 6, step, 3);
    const mine = ours.apply(x, 'training');
    ours.updateMovingAverages(mine.stats!);
    const reference = theirs.apply(x, { training: true }) as tf.Tensor;
    assert.ok(maxAbsDiff(mine.y.dataSync(), reference.dataSync()) < 1e-5);
    tf.dispose([x, mine.y, mine.stats!.mean, mine.stats!.variance, reference]);
  }
  const [, , movingMean, movingVariance] = theirs.getWeights();
  assert.ok(maxAbsDiff(ours.movingMean().dataSync(), movingMean!.dataSync()) < 1e-5);
  assert.ok(maxAbsDiff(ours.movingVariance().dataSync(), movingVariance!.dataSync()) < 1e-5);
  const x = randomBatch(10, 6, 99);
  const inference = ours.apply(x, 'inference').y;
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
  const layer = new AutodiffBatchNorm({ units: 3, scale: false, center: false });
  assert.equal(layer.trainableVariables.length, 0);
  const x = tf.tensor2d([
    [1, 2, 3],
    [3, 6, 9],
  ]);
  const { y } = layer.apply(x, 'training');
  // Two rows: each normalizes to -1 and +1, up to epsilon.
  const expected = [-1, -1, -1, 1, 1, 1].map(
    (v, i) => v * Math.sqrt([1, 4, 9][i % 3]! / ([1, 4, 9][i % 3]! + 1e-3)),
  );
  assert.ok(maxAbsDiff(y.dataSync(), expected) < 1e-5);
  tf.dispose([x, y]);
  layer.dispose();
});

test('moving statistics change only when update is called', () => {
  const layer = new AutodiffBatchNorm({ units: 4 });
  const x = randomBatch(16, 4, 1, 5);
  const { stats } = layer.apply(x, 'training');
  layer.apply(x, 'inference');
  assert.deepEqual([...layer.movingMean().dataSync()], [0, 0, 0, 0]);
  assert.deepEqual([...layer.movingVariance().dataSync()], [1, 1, 1, 1]);
  layer.updateMovingAverages(stats!);
  const batchMean = stats!.mean.dataSync();
  assert.ok(
    maxAbsDiff(
      layer.movingMean().dataSync(),
      [...batchMean].map((m) => 0.001 * m),
    ) < 1e-6,
  );
  tf.dispose([x, stats!.mean, stats!.variance]);
  layer.dispose();
});

test('per-stream statistics stay separate; gamma and beta are shared', () => {
  const layer = new AutodiffBatchNorm({ units: 2, decay: 0.5, streams: ['original', 'inverted'] });
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
    const { stats } = layer.apply(x, 'training', stream);
    layer.updateMovingAverages(stats!, stream);
  }
  assert.deepEqual([...layer.movingMean('original').dataSync()], [1, 1]);
  assert.deepEqual([...layer.movingMean('inverted').dataSync()], [-3, -3]);
  assert.equal(layer.trainableVariables.length, 2);
  tf.dispose([a, b]);
  layer.dispose();
});

test('an unknown stream is rejected by name', () => {
  const layer = new AutodiffBatchNorm({ units: 2, streams: ['original', 'inverted'] });
  const x = tf.zeros([2, 2]) as tf.Tensor2D;
  assert.throws(
    () => layer.apply(x, 'inference', 'rotated'),
    /unknown batch-norm stream 'rotated' \(known: original, inverted\)/,
  );
  assert.throws(() => layer.movingMean(), /unknown batch-norm stream 'default'/);
  x.dispose();
  layer.dispose();
});

test('a stream model trains each stream into its own statistics', () => {
  const model = createStreamModel(['a', 'b'], 'per-stream', { seed: 1, hiddenUnits: [8] });
  const optimizer = tf.train.sgd(0.1);
  const x = randomBatch(20, 784, 4, 1);
  const y = cyclicLabels(20);
  const before = tf.memory().numTensors;
  streamTrainingStep(model, optimizer, x, y, 'a');
  assert.equal(tf.memory().numTensors, before);
  const bn = model.hidden[0]!.bn;
  assert.ok(
    bn
      .movingMean('a')
      .dataSync()
      .some((v) => v !== 0),
  );
  assert.ok(
    bn
      .movingMean('b')
      .dataSync()
      .every((v) => v === 0),
  );
  tf.dispose([x, y]);
  optimizer.dispose();
  disposeStreamModel(model);
});

test('a JSON round trip of the weights gives identical predictions', () => {
  const trained = createModel({ placement: 'post', seed: 5 });
  const x = randomBatch(50, 784, 7, 0.5);
  const y = cyclicLabels(50);
  for (let i = 0; i < 5; i++) leanStep(trained, 0.05, x, y);
  const json = JSON.parse(JSON.stringify(weightsToJSON(trained)));
  const fresh = createModel({ placement: 'post', seed: 6 });
  weightsFromJSON(fresh, json);
  const predict = (m: typeof trained) =>
    tf.tidy(() => forward(m, x, 'inference').logits.dataSync());
  assert.deepEqual(predict(fresh), predict(trained));
  const scratch = new AutodiffBatchNorm({ units: 3, streams: ['s1', 's2'] });
  const copy = new AutodiffBatchNorm({ units: 3, streams: ['s2', 's1'] });
  scratch.movingMean('s2').assign(tf.tensor1d([1, 2, 3]));
  copy.loadJSON(JSON.parse(JSON.stringify(scratch.toJSON())));
  assert.deepEqual([...copy.movingMean('s2').dataSync()], [1, 2, 3]);
  assert.throws(
    () => new AutodiffBatchNorm({ units: 3 }).loadJSON(scratch.toJSON()),
    /saved streams \[s1, s2\] differ/,
  );
  assert.throws(
    () => weightsFromJSON(fresh, { ...json, 'layer9/x': { shape: [1], values: [0] } }),
    /names this model lacks: layer9\/x/,
  );
  tf.dispose([x, y]);
  scratch.dispose();
  copy.dispose();
  disposeModel(trained);
  disposeModel(fresh);
});
