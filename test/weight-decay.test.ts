import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { lossAndGradients } from '../src/lessons/landscape.js';
import { equilibriumAngle, kernelTracker, rmsAngle } from '../src/lessons/weight-decay.js';
import {
  createNetwork,
  disposeNetwork,
  kernelVariables,
  namedVariables,
  variableOf,
  type Network,
} from '../src/nn/network.js';
import { autodiffStep } from '../src/train/autodiff-step.js';
import { validateConfig, GUIDE_CONFIG } from '../src/train/config.js';
import { leanStep } from '../src/train/lean-step.js';
import { resolveStepKind } from '../src/train/step.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

before(setUpBackend);

const batch = () =>
  tf.tidy(() => {
    const x = tf.randomNormal([40, 784], 0, 1, 'float32', 11) as tf.Tensor2D;
    const labels = tf.tensor1d(
      Array.from({ length: 40 }, (_, i) => i % 10),
      'int32',
    );
    return { x, y: tf.oneHot(labels, 10).toFloat() as tf.Tensor2D };
  });

const valuesOf = (network: Network) =>
  new Map(namedVariables(network).map(([name, v]) => [name, Array.from(v.dataSync())]));

for (const [name, step] of [
  ['lean', leanStep],
  ['autodiff', autodiffStep],
] as const)
  test(`${name} step: weight decay shrinks each kernel by η λ W before the step, and nothing else`, () => {
    const { x, y } = batch();
    const [eta, lambda] = [0.5, 0.02];
    const make = () => createNetwork({ placement: 'pre', seed: 4, hiddenUnits: [16, 8] });
    const [plain, decayed] = [make(), make()];
    const start = valuesOf(plain);
    const kernels = new Set(kernelVariables(plain).map((v) => v.name));
    const before = tf.memory().numTensors;
    step(plain, { learningRate: eta }, x, y);
    step(decayed, { learningRate: eta, weightDecay: lambda }, x, y);
    assert.equal(tf.memory().numTensors, before);
    // W_decayed - W_plain = ((1 - η λ) W0 - η g) - (W0 - η g) = -η λ W0, exactly.
    const [after, afterDecayed] = [valuesOf(plain), valuesOf(decayed)];
    const names = namedVariables(plain).map(([n, v]) => [n, kernels.has(v.name)] as const);
    assert.equal(names.filter(([, isKernel]) => isKernel).length, 3);
    for (const [n, isKernel] of names) {
      const expected = after
        .get(n)!
        .map((v, i) => v - (isKernel ? eta * lambda * start.get(n)![i]! : 0));
      assert.ok(maxAbsDiff(afterDecayed.get(n)!, expected) < 1e-6, n);
    }
    tf.dispose([x, y]);
    disposeNetwork(plain);
    disposeNetwork(decayed);
  });

test('with batch norm after it, a kernel grows by the step and shrinks by the decay: |W1|² = (1 - ηλ)²|W|² + η²|g|²', () => {
  // The gradient of a kernel that batch norm follows is orthogonal to it (notebook 05), so the
  // decayed step's two parts add in squares. A tiny epsilon makes the invariance exact.
  const { x, y } = batch();
  const [eta, lambda] = [2, 0.05];
  const network = createNetwork({ placement: 'pre', seed: 2, hiddenUnits: [16, 8], epsilon: 1e-9 });
  const kernel = variableOf(network, 'layer1/dense/kernel');
  const { loss, gradients } = lossAndGradients(network, x, y);
  const index = kernelVariables(network).indexOf(kernel);
  assert.equal(index, 0);
  const squared = (t: tf.Tensor) => tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]!);
  const [w2, g2] = [squared(kernel), squared(gradients[0]!)];
  const cosine = tf.tidy(
    () => tf.sum(tf.mul(kernel, gradients[0]!)).dataSync()[0]! / Math.sqrt(w2 * g2),
  );
  assert.ok(Math.abs(cosine) < 1e-4, `cosine ${cosine}`);
  leanStep(network, { learningRate: eta, weightDecay: lambda }, x, y);
  const expected = (1 - eta * lambda) ** 2 * w2 + eta ** 2 * g2;
  assert.ok(eta ** 2 * g2 > 1e-3 * expected, 'the step is large enough to be seen');
  assert.ok(Math.abs(squared(kernel) / expected - 1) < 1e-4, `${squared(kernel)} vs ${expected}`);
  tf.dispose([x, y, loss, ...gradients]);
  disposeNetwork(network);
});

test('the steps without weight decay refuse it in one line; the default step falls back to lean', () => {
  const request = { weightDecay: 1e-4 };
  for (const kind of ['graph', 'fused', 'layers'] as const)
    assert.throws(
      () => resolveStepKind(kind, request),
      (error: Error) =>
        new RegExp(`^the ${kind} step|native`).test(error.message) && !error.message.includes('\n'),
    );
  assert.throws(
    () => resolveStepKind('layers', request),
    /^Error: the layers step has no weight decay; the lean and autodiff steps apply it$/,
  );
  assert.equal(resolveStepKind(undefined, request), 'lean');
  assert.equal(resolveStepKind('autodiff', request), 'autodiff');
  assert.throws(
    () => validateConfig({ ...GUIDE_CONFIG, weightDecay: -0.1 }, 60000),
    /^Error: weightDecay must be a number >= 0, got -0.1$/,
  );
  assert.doesNotThrow(() => validateConfig({ ...GUIDE_CONFIG, weightDecay: 0 }, 60000));
});

test('the equilibrium angle: a float64 simulation of SGD with decay on a scale-invariant weight settles there', () => {
  // W <- (1 - ηλ) W - η g with g orthogonal to W and |g| = c / |W|, the gradient of a weight
  // that batch norm follows; g's direction is random at each step, as a batch's is.
  const random = (() => {
    let state = 12345;
    return () => ((state = (state * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
  })();
  const gaussian = () => Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  for (const [eta, lambda] of [
    [1, 0.003],
    [0.1, 0.05],
  ] as const) {
    let w = Array.from({ length: 50 }, () => 3 * gaussian());
    const squares: number[] = [];
    for (let step = 0; step < 6000; step++) {
      const r = w.map(() => gaussian());
      const along = dot(r, w) / dot(w, w);
      const g = r.map((v, i) => v - along * w[i]!);
      const scale = 0.5 / Math.sqrt(dot(w, w)) / Math.sqrt(dot(g, g));
      const next = w.map((v, i) => (1 - eta * lambda) * v - eta * scale * g[i]!);
      const cosine = dot(w, next) / Math.sqrt(dot(w, w) * dot(next, next));
      if (step >= 3000) squares.push(Math.acos(Math.min(1, cosine)) ** 2);
      w = next;
    }
    const rms = Math.sqrt(squares.reduce((s, v) => s + v, 0) / squares.length);
    const expected = equilibriumAngle(eta, lambda);
    assert.ok(Math.abs(rms / expected - 1) < 0.03, `η ${eta}, λ ${lambda}: ${rms} vs ${expected}`);
    assert.ok(Math.abs(expected / Math.sqrt(2 * eta * lambda) - 1) < 0.01);
  }
});

test('the kernel tracker records the angle each step turns a kernel through, and its norm', () => {
  const network = createNetwork({ placement: 'pre', seed: 1, hiddenUnits: [6] });
  const kernel = variableOf(network, 'layer1/dense/kernel');
  const tracker = kernelTracker('layer1/dense/kernel');
  const norm = () => tf.tidy(() => tf.norm(kernel).dataSync()[0]!);
  tracker.record(network, 1);
  // Doubling turns nothing; adding an orthogonal part as long as the kernel turns it by 45°.
  kernel.assign(tf.tidy(() => tf.mul(kernel, 2)));
  tracker.record(network, 2);
  const orthogonal = tf.tidy(() => {
    const r = tf.randomNormal(kernel.shape, 0, 1, 'float32', 3);
    const along = tf.div(tf.sum(tf.mul(r, kernel)), tf.sum(tf.square(kernel)));
    const part = tf.sub(r, tf.mul(along, kernel));
    return tf.mul(part, tf.div(tf.norm(kernel), tf.norm(part)));
  });
  const before = norm();
  kernel.assign(tf.tidy(() => tf.add(kernel, orthogonal)));
  tracker.record(network, 3);
  assert.deepEqual(tracker.trace.step, [2, 3]);
  assert.ok(tracker.trace.angle[0]! < 1e-3);
  assert.ok(Math.abs(tracker.trace.angle[1]! - Math.PI / 4) < 1e-3, String(tracker.trace.angle[1]));
  assert.ok(Math.abs(tracker.trace.norm[1]! / (Math.SQRT2 * before) - 1) < 1e-5);
  assert.ok(Math.abs(rmsAngle(tracker.trace, 3) - Math.PI / 4) < 1e-3);
  assert.throws(() => rmsAngle(tracker.trace, 4), /^Error: no step recorded from step 4 on$/);
  tf.dispose(orthogonal);
  tracker.dispose();
  disposeNetwork(network);
});
