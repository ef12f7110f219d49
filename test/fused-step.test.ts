import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../src/data/batches.js';
import {
  disposeDeviceSplit,
  gatherBatch,
  toDevice,
  type TrainTest,
} from '../src/data/device-split.js';
import { IMAGE_SIZE, loadMnist } from '../src/data/mnist.js';
import { createNetwork, disposeNetwork, namedVariables, variableOf } from '../src/nn/network.js';
import { useBackend } from '../src/runtime/backend.js';
import { FusedStep } from '../src/train/fused-step.js';
import { countNativeOps, hasNativeOps } from '../src/train/native-ops.js';
import { resolveStepKind } from '../src/train/step.js';
import { createTrainingStep } from '../src/train/steps.js';
import { evaluate } from '../src/train/evaluation.js';
import { train as trainModel } from '../src/train/trainer.js';
import { GUIDE_CONFIG } from '../src/train/config.js';
import { setUpBackend } from './helpers.js';

let data: TrainTest;
let native = false;
before(async () => {
  native = (await setUpBackend()) === 'tensorflow';
  const mnist = loadMnist('small', 0);
  data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
});
after(() => {
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
});

const skipUnlessNative = (t: { skip: (reason: string) => void }) => {
  if (!native) t.skip('the fused step needs the tensorflow backend');
  return !native;
};

for (const placement of ['pre', 'post'] as const) {
  test(`fused moving averages follow the closed form with the biased variance (${placement})`, (t) => {
    if (skipUnlessNative(t)) return;
    // A learning rate too small to move any float32 weight keeps layer 1's batch-norm input
    // fixed, so its statistics can be worked out in float64 from the initial weights.
    const decay = 0.9;
    const steps = 20;
    const model = createNetwork({ placement, seed: 3, decay });
    const batch = gatherBatch(
      data.train,
      new BatchSampler(data.train.count, 100, 'closed-form').nextBatch(),
    );
    const xs = batch.x.dataSync();
    const w = model.hidden[0]!.dense.kernel.dataSync();
    const units = 100;
    const n = 100;
    const mean = new Float64Array(units);
    const meanSquare = new Float64Array(units);
    for (let r = 0; r < n; r++) {
      for (let u = 0; u < units; u++) {
        let z = 0; // the bias starts at 0
        for (let k = 0; k < IMAGE_SIZE; k++) z += xs[r * IMAGE_SIZE + k]! * w[k * units + u]!;
        const v = placement === 'post' ? Math.max(z, 0) : z;
        mean[u]! += v / n;
        meanSquare[u]! += (v * v) / n;
      }
    }
    const step = new FusedStep(model, n, 1e-12);
    for (let i = 0; i < steps; i++) step.run(batch.x, batch.y);
    step.dispose();
    const kept = decay ** steps;
    const movingMean = variableOf(model, 'layer1/bn/moving_mean').dataSync();
    const movingVariance = variableOf(model, 'layer1/bn/moving_variance').dataSync();
    let checked = 0;
    for (let u = 0; u < units; u++) {
      const biased = meanSquare[u]! - mean[u]! ** 2;
      if (biased < 1e-3) continue; // dead ReLU units carry no information about the bias
      const expectedVariance = kept * 1 + (1 - kept) * biased;
      const unbiasedWouldGive = kept * 1 + (1 - kept) * biased * (n / (n - 1));
      assert.ok(
        Math.abs(movingMean[u]! - (1 - kept) * mean[u]!) < 1e-5 + 1e-5 * Math.abs(mean[u]!),
        `unit ${u} mean`,
      );
      const error = Math.abs(movingVariance[u]! - expectedVariance);
      assert.ok(
        error < 1e-5 * expectedVariance + 1e-6,
        `unit ${u}: moving variance ${movingVariance[u]} vs closed form ${expectedVariance}`,
      );
      // The check can tell the two apart: the unbiased average is a hundred times further off.
      assert.ok(
        Math.abs(unbiasedWouldGive - expectedVariance) > 100 * error,
        `unit ${u}: the test could not tell biased from unbiased`,
      );
      checked++;
    }
    assert.ok(checked > 50, `only ${checked} units had variance to check`);
    tf.dispose([batch.x, batch.y]);
    disposeNetwork(model);
  });
}

test('the fused step runs in fewer than half the native ops of the lean step', async (t) => {
  if (skipUnlessNative(t)) return;
  const batch = gatherBatch(
    data.train,
    new BatchSampler(data.train.count, 100, 'count').nextBatch(),
  );
  const counts: Record<string, number> = {};
  for (const kind of ['fused', 'lean'] as const) {
    const model = createNetwork({ placement: 'pre', seed: 0 });
    const step = await createTrainingStep(kind, model, { batchSize: 100, learningRate: 0.01 });
    step.run(batch.x, batch.y);
    counts[kind] = countNativeOps(() => step.run(batch.x, batch.y));
    step.dispose();
    disposeNetwork(model);
  }
  // Forward: per hidden block MatMul, BiasAdd, two Reshapes, FusedBatchNormV3, Relu (12), and
  // the logits' MatMul and BiasAdd (14). Moving averages: two Muls per block, the variance
  // scaled into and out of the kernel (4). Backward: SoftmaxCrossEntropyWithLogits, the Mul that
  // seeds it, the logits' two MatMuls and BiasAddGrad (5); per block ReluGrad, two Reshapes,
  // FusedBatchNormGradV3, MatMul and BiasAddGrad, and a MatMul for dx in layer 2 only (13).
  // SGD: one AddV2 per variable (10).
  assert.equal(counts['fused'], 14 + 4 + 18 + 10);
  assert.ok(
    counts['fused']! * 2 < counts['lean']!,
    `fused ${counts['fused']} vs lean ${counts['lean']}`,
  );
  tf.dispose([batch.x, batch.y]);
});

test('the tensor count stays flat across fused steps and epochs, and returns to where it began', async (t) => {
  if (skipUnlessNative(t)) return;
  const before = tf.memory().numTensors;
  const perEpoch: number[] = [];
  const perStep: number[] = [];
  const run = await trainModel(
    data,
    { ...GUIDE_CONFIG, placement: 'pre', epochs: 3, stepsPerEpoch: 20, step: 'fused' },
    {
      progressEvery: 1,
      onStep: () => perStep.push(tf.memory().numTensors),
      onEpoch: () => perEpoch.push(tf.memory().numTensors),
    },
  );
  assert.equal(run.step, 'fused');
  assert.ok(
    perStep.every((c) => c === perStep[0]),
    `tensors per step: ${[...new Set(perStep)]}`,
  );
  assert.ok(
    perEpoch.every((c) => c === perEpoch[0]),
    `tensors per epoch: ${perEpoch}`,
  );
  disposeNetwork(run.network);
  assert.equal(tf.memory().numTensors, before);
});

test('fused evaluations leave every variable bit-identical, in both phases', async (t) => {
  if (skipUnlessNative(t)) return;
  const run = await trainModel(data, {
    ...GUIDE_CONFIG,
    placement: 'post',
    epochs: 1,
    stepsPerEpoch: 20,
    step: 'fused',
  });
  const snapshot = () =>
    namedVariables(run.network).map(([name, v]) => [name, v.dataSync().slice()] as const);
  const before = snapshot();
  const training = evaluate(run.network, data.train, 'training', 'fused');
  const inference = evaluate(run.network, data.test, 'inference', 'fused');
  assert.deepEqual(snapshot(), before);
  // The fused evaluation computes what the composite one does.
  const leanTraining = evaluate(run.network, data.train, 'training', 'lean');
  const leanInference = evaluate(run.network, data.test, 'inference', 'lean');
  assert.ok(
    Math.abs(training.loss - leanTraining.loss) < 1e-4,
    `${training.loss} vs ${leanTraining.loss}`,
  );
  assert.ok(
    Math.abs(inference.loss - leanInference.loss) < 1e-4,
    `${inference.loss} vs ${leanInference.loss}`,
  );
  assert.ok(Math.abs(inference.accuracy - leanInference.accuracy) <= 1 / data.test.count);
  disposeNetwork(run.network);
});

test('the fused step refuses a batch of another size', (t) => {
  if (skipUnlessNative(t)) return;
  const model = createNetwork({ placement: 'pre' });
  const step = new FusedStep(model, 100, 0.01);
  const batch = gatherBatch(data.train, new Int32Array([0, 1, 2]));
  assert.throws(
    () => step.run(batch.x, batch.y),
    /^Error: the fused step was built for batches of 100, got 3$/,
  );
  step.dispose();
  tf.dispose([batch.x, batch.y]);
  disposeNetwork(model);
});

test('the layers step cannot skip the moving-average update', async () => {
  const model = createNetwork({ placement: 'pre' });
  await assert.rejects(
    () =>
      createTrainingStep('layers', model, {
        batchSize: 100,
        learningRate: 0.01,
        updateMovingAverages: false,
      }),
    /the layers step always updates the moving averages/,
  );
  disposeNetwork(model);
});

test('asking for the fused step on a backend without TensorFlow kernels is a one-line error', async () => {
  const previous = tf.getBackend();
  await useBackend('cpu');
  try {
    assert.equal(hasNativeOps(), false);
    assert.equal(resolveStepKind(), 'lean', 'the backend decides: lean on cpu');
    assert.throws(
      () => resolveStepKind('fused'),
      (error: Error) => {
        assert.match(
          error.message,
          /^the fused step needs the tensorflow backend \(tfjs-node or tfjs-node-gpu\); the active backend is 'cpu'$/,
        );
        return true;
      },
    );
    assert.throws(() => resolveStepKind('turbo' as never), /unknown step 'turbo'/);
  } finally {
    await tf.setBackend(previous);
  }
});
