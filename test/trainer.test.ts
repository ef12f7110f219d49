import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { PLACEMENTS } from '../src/nn/layers.js';
import {
  createNetwork,
  disposeNetwork,
  forward,
  namedVariables,
  variableOf,
} from '../src/nn/network.js';
import { createLayersModel, copyWeightsToLayersModel } from '../src/train/layers-step.js';
import { evaluate } from '../src/train/evaluation.js';
import { train, type EpochRecord } from '../src/train/trainer.js';
import { GUIDE_CONFIG, type TrainConfig } from '../src/train/config.js';
import { leanStep } from '../src/train/lean-step.js';
import { smallMnistOnDevice } from './helpers.js';

const small = smallMnistOnDevice();

/** A short run that still learns: a larger rate and a faster decay than the guide's. */
const SHORT: Omit<TrainConfig, 'placement'> = {
  ...GUIDE_CONFIG,
  epochs: 2,
  stepsPerEpoch: 250,
  learningRate: 0.05,
  decay: 0.99,
};

const withoutTimings = (history: EpochRecord[]) =>
  history.map(({ trainSeconds, evalSeconds, ...rest }) => rest);

for (const placement of PLACEMENTS) {
  test(`the ${placement} model learns on the small source`, async () => {
    const run = await train(small.data, { ...SHORT, placement });
    disposeNetwork(run.network);
    const last = run.history.at(-1)!;
    assert.equal(run.history.length, 2);
    assert.ok(last.testAccuracy > 0.9, `test accuracy ${last.testAccuracy}`);
    assert.ok(run.history[1]!.trainLoss < run.history[0]!.trainLoss, 'train loss falls');
  });
}

test('the same seed gives the same history; another seed does not', async () => {
  const config: TrainConfig = { ...SHORT, placement: 'pre', stepsPerEpoch: 60 };
  const runs = [];
  for (const seed of [7, 7, 8]) {
    const run = await train(small.data, { ...config, seed });
    disposeNetwork(run.network);
    runs.push(withoutTimings(run.history));
  }
  assert.deepEqual(runs[0], runs[1]);
  assert.notDeepEqual(runs[0], runs[2]);
});

test('the tensor count stays flat across epochs and returns to where it began', async () => {
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const run = await train(
    small.data,
    { ...SHORT, placement: 'post', epochs: 4, stepsPerEpoch: 30 },
    { onEpoch: () => counts.push(tf.memory().numTensors) },
  );
  assert.equal(counts.length, 4);
  assert.ok(
    counts.every((c) => c === counts[0]),
    `tensors per epoch: ${counts}`,
  );
  disposeNetwork(run.network);
  assert.equal(tf.memory().numTensors, before);
});

test('training-mode evaluation leaves the moving averages bit-identical', async () => {
  const run = await train(small.data, { ...SHORT, placement: 'pre', epochs: 1, stepsPerEpoch: 20 });
  const snapshot = () =>
    namedVariables(run.network)
      .filter(([name]) => name.includes('moving'))
      .map(([name, v]) => [name, v.dataSync().slice()] as const);
  const beforeEval = snapshot();
  assert.equal(beforeEval.length, 4);
  evaluate(run.network, small.data.train, 'training');
  evaluate(run.network, small.data.test, 'training');
  tf.tidy(() => {
    forward(run.network, small.data.test.x, 'training');
  });
  assert.deepEqual(snapshot(), beforeEval);

  // The tf.layers way moves them: the pitfall this design avoids.
  const layers = createLayersModel({ placement: 'pre' });
  copyWeightsToLayersModel(run.network, layers);
  const movingOf = () => layers.layers[1]!.getWeights()[2]!.dataSync().slice();
  const layersBefore = movingOf();
  tf.tidy(() => {
    layers.apply(small.data.test.x, { training: true });
  });
  assert.notDeepEqual(movingOf(), layersBefore);
  layers.dispose();
  disposeNetwork(run.network);
});

test('the training step moves moving averages toward the batch statistics and leaves them when not called', () => {
  const model = createNetwork({ placement: 'pre', seed: 3 });
  const x = small.data.train.x.slice([0, 0], [100, -1]) as tf.Tensor2D;
  const y = small.data.train.y.slice([0, 0], [100, -1]) as tf.Tensor2D;
  const movingMean = variableOf(model, 'layer1/bn/moving_mean');
  // Batch mean of layer 1's pre-activations, computed before the step changes the weights.
  const batchMean = tf.tidy(() =>
    tf
      .mean(tf.add(tf.matMul(x, model.hidden[0]!.dense.kernel), model.hidden[0]!.dense.bias), 0)
      .dataSync(),
  );
  assert.ok(movingMean.dataSync().every((v) => v === 0));
  leanStep(model, { learningRate: 0.01 }, x, y);
  const after = movingMean.dataSync();
  after.forEach((v, j) =>
    assert.ok(
      Math.abs(v - 0.001 * batchMean[j]!) < 1e-6,
      `unit ${j}: ${v} vs ${0.001 * batchMean[j]!}`,
    ),
  );
  tf.tidy(() => {
    forward(model, x, 'inference');
  });
  assert.deepEqual(movingMean.dataSync(), after);
  tf.dispose([x, y]);
  disposeNetwork(model);
});

test('an abort signal stops training between steps', async () => {
  const stop = new AbortController();
  let steps = 0;
  const run = await train(
    small.data,
    { ...SHORT, placement: 'none', epochs: 3, stepsPerEpoch: 100 },
    {
      signal: stop.signal,
      progressEvery: 10,
      onStep: (step) => {
        steps = step;
        if (step === 50) stop.abort();
      },
    },
  );
  disposeNetwork(run.network);
  assert.equal(run.stopped, true);
  assert.equal(steps, 50);
  assert.equal(run.history.length, 0);
});

test('trainSetEvaluation last-epoch: the same run, the training set evaluated only at the end', async () => {
  const config: TrainConfig = { ...SHORT, placement: 'pre', epochs: 3, stepsPerEpoch: 40 };
  const every = await train(small.data, config);
  const last = await train(small.data, { ...config, trainSetEvaluation: 'last-epoch' });
  disposeNetwork(every.network);
  disposeNetwork(last.network);
  for (const [i, record] of last.history.entries()) {
    const reference = every.history[i]!;
    // Skipping an evaluation changes nothing in training: the test metrics are identical.
    assert.equal(record.testAccuracy, reference.testAccuracy);
    assert.equal(record.testLoss, reference.testLoss);
    if (i < 2) {
      assert.ok(Number.isNaN(record.trainLoss) && Number.isNaN(record.trainAccuracy));
    } else {
      assert.equal(record.trainLoss, reference.trainLoss);
      assert.equal(record.trainAccuracy, reference.trainAccuracy);
    }
  }
  const never = await train(small.data, { ...config, trainSetEvaluation: 'never' });
  disposeNetwork(never.network);
  assert.deepEqual(
    never.history.map((r) => [r.testAccuracy, Number.isNaN(r.trainLoss + r.trainAccuracy)]),
    every.history.map((r) => [r.testAccuracy, true]),
  );
});
