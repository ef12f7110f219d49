import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { activationBackward } from '../src/nn/layers.js';
import {
  createNetwork,
  disposeNetwork,
  forward,
  namedVariables,
  summarizeNetwork,
} from '../src/nn/network.js';
import { hasNativeOps } from '../src/train/native-ops.js';
import { resolveStepKind } from '../src/train/step.js';
import { createTrainingStep } from '../src/train/steps.js';
import { maxAbsDiff, smallMnistOnDevice } from './helpers.js';
import { deepUnits, diagnoseLayers } from '../src/lessons/deep-diagnostics.js';

const small = smallMnistOnDevice();
const DEEP = { hiddenUnits: [64, 64, 64, 64, 64, 64], activation: 'tanh' as const, seed: 4 };

test("tanh's gradient from its output is 1 - tanh^2, as autodiff finds it", () => {
  tf.tidy(() => {
    const z = tf.linspace(-3, 3, 13).reshape([1, 13]) as tf.Tensor2D;
    const dy = tf.ones([1, 13]) as tf.Tensor2D;
    const byHand = activationBackward(dy, tf.tanh(z), 'tanh').dataSync();
    // d/dz tanh(z) = 1 / cosh(z)^2, in float64.
    const closedForm = Array.from(z.dataSync(), (v) => 1 / Math.cosh(v) ** 2);
    assert.ok(maxAbsDiff(byHand, closedForm) < 1e-6);
    assert.ok(
      maxAbsDiff(
        byHand,
        tf
          .grad((x) => tf.tanh(x))(z)
          .dataSync(),
      ) < 1e-6,
    );
  });
});

test('a deep tanh network: the lean, autodiff and tf.layers steps agree after 20 steps', async () => {
  const start = tf.memory().numTensors;
  for (const placement of ['none', 'pre', 'post'] as const) {
    const results: Float32Array[][] = [];
    for (const kind of ['lean', 'autodiff', 'layers'] as const) {
      const network = createNetwork({ ...DEEP, placement, decay: 0.9 });
      const step = await createTrainingStep(kind, network, { batchSize: 50, learningRate: 0.1 });
      const { x, y } = small.data.train;
      for (let i = 0; i < 20; i++)
        tf.tidy(() => step.run(x.slice([i * 50, 0], [50, -1]), y.slice([i * 50, 0], [50, -1])));
      step.syncNetwork();
      results.push(namedVariables(network).map(([, v]) => v.dataSync() as Float32Array));
      step.dispose();
      disposeNetwork(network);
    }
    const [lean, autodiff, layers] = results;
    lean!.forEach((values, i) => {
      assert.ok(maxAbsDiff(values, autodiff![i]!) < 1e-4, `${placement}: autodiff ${i}`);
      assert.ok(maxAbsDiff(values, layers![i]!) < 1e-4, `${placement}: tf.layers ${i}`);
    });
  }
  assert.equal(tf.memory().numTensors, start);
});

test('the network applies tanh where the layout says, and the summary names it', () => {
  const network = createNetwork({ ...DEEP, placement: 'pre' });
  tf.tidy(() => {
    const { cache } = forward(network, small.data.test.x.slice([0, 0], [20, -1]), 'training');
    // Each block's last stage is the tanh: every value strictly inside (-1, 1).
    for (const block of cache.hidden) {
      const h = block.outputs.at(-1)!;
      assert.ok(tf.abs(h).max().dataSync()[0]! < 1);
      assert.ok(tf.abs(h).max().dataSync()[0]! > 0.5);
    }
  });
  assert.match(summarizeNetwork(network)[0]!, /\(dense -> BatchNorm -> tanh; /);
  assert.equal(summarizeNetwork(network).length, 6 + 2);
  disposeNetwork(network);
});

test('the graph and fused steps refuse a tanh network in one line', (t) => {
  if (!hasNativeOps()) return t.skip('needs the tensorflow backend');
  const network = { normalization: 'batch', placement: 'pre' as const, streams: ['default'] };
  for (const kind of ['graph', 'fused'] as const)
    assert.throws(
      () => resolveStepKind(kind, { network: { ...network, activation: 'tanh' } }),
      new RegExp(
        `^Error: the ${kind} step runs ReLU networks only; tanh ones train with the lean, autodiff or layers step$`,
      ),
    );
  assert.equal(resolveStepKind(undefined, { network: { ...network, activation: 'tanh' } }), 'lean');
});

test('diagnoseLayers: the last layer gets (softmax - y) / N times the logits kernel, and BN layers start at std 0.584', () => {
  const start = tf.memory().numTensors;
  const x = small.data.train.x.slice([0, 0], [500, -1]) as tf.Tensor2D;
  const y = small.data.train.y.slice([0, 0], [500, -1]) as tf.Tensor2D;
  const ranges = {
    activations: [0, 2] as [number, number],
    gradients: [-1e-3, 1e-3] as [number, number],
  };
  const plain = createNetwork({ placement: 'none', hiddenUnits: deepUnits(3), seed: 2 });
  const [, , last] = diagnoseLayers(plain, x, y, ranges);
  // By hand: the mean cross-entropy's gradient at the logits, pulled back through the kernel.
  const byHand = tf.tidy(() => {
    const { logits, cache } = forward(plain, x, 'training');
    const dLogits = tf.div(tf.sub(tf.softmax(logits), y), 500);
    const dh = tf.matMul(dLogits, plain.logits.kernel, false, true);
    return { std: tf.moments(dh).variance.sqrt().dataSync()[0]!, h: cache.lastHidden.dataSync() };
  });
  assert.ok(
    Math.abs(last!.gradientStd / byHand.std - 1) < 1e-3,
    `${last!.gradientStd} vs ${byHand.std}`,
  );
  const zeros = byHand.h.filter((v) => v === 0).length / byHand.h.length;
  assert.ok(Math.abs(last!.saturated - zeros) < 1e-6); // a float32 mean
  // Every histogram bin counts values; the total is the values inside the range.
  assert.ok(last!.activations.counts.reduce((a, b) => a + b, 0) <= 500 * 100);
  disposeNetwork(plain);
  const normalized = createNetwork({ placement: 'pre', hiddenUnits: deepUnits(4), seed: 2 });
  // relu of a standard normal: sqrt(1/2 - 1/(2 pi)) = 0.5838, half of it at 0.
  for (const layer of diagnoseLayers(normalized, x, y, ranges)) {
    assert.ok(Math.abs(layer.std - Math.sqrt(0.5 - 1 / (2 * Math.PI))) < 0.02, `${layer.std}`);
    assert.ok(Math.abs(layer.saturated - 0.5) < 0.03, `${layer.saturated}`);
  }
  disposeNetwork(normalized);
  tf.dispose([x, y]);
  assert.equal(tf.memory().numTensors, start);
});
