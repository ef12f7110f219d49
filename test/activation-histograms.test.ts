import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNetwork, disposeNetwork, variableOf } from '../src/nn/index.js';
import { histogram, layer2Activations } from '../src/lessons/activation-histograms.js';
import { updateToDataRatios } from '../src/lessons/update-ratio.js';
import { tf } from '../src/runtime/index.js';
import { setUpBackend } from './helpers.js';

await setUpBackend();

test('layer2Activations: inference maps the dense output through the averages at 0 and 1', () => {
  const network = createNetwork({ placement: 'pre', seed: 3 });
  const x = tf.randomUniform([20, 784], 0, 1, 'float32', 4) as tf.Tensor2D;
  const { dense, normalized } = layer2Activations(network, x, 'inference');
  assert.equal(dense.length, 20 * 100);
  // Moving averages at their start (0 and 1), gamma 1 and beta 0: y = z / sqrt(1 + eps).
  const scale = 1 / Math.sqrt(1 + 1e-3);
  assert.ok(normalized);
  for (let i = 0; i < dense.length; i++)
    assert.ok(Math.abs(normalized[i]! - dense[i]! * scale) < 1e-5, `value ${i}`);
  // The dense output is not trivially zero: layer 1's ReLU passes about half its units.
  assert.ok(Math.max(...dense.map(Math.abs)) > 0.1);
  x.dispose();
  disposeNetwork(network);
});

test('layer2Activations: in training, each unit of the BN output has batch mean 0, variance 1', () => {
  const network = createNetwork({ placement: 'post', seed: 3 });
  const x = tf.randomUniform([50, 784], 0, 1, 'float32', 6) as tf.Tensor2D;
  const { normalized } = layer2Activations(network, x, 'training');
  assert.ok(normalized);
  // Column by column in float64: (z - mean) / sqrt(var + eps) has variance var / (var + eps).
  for (let unit = 0; unit < 100; unit++) {
    const column = Array.from({ length: 50 }, (_, row) => normalized[row * 100 + unit]!);
    const mean = column.reduce((s, v) => s + v, 0) / 50;
    const variance = column.reduce((s, v) => s + (v - mean) ** 2, 0) / 50;
    assert.ok(Math.abs(mean) < 1e-5, `unit ${unit}: mean ${mean}`);
    // A unit that ReLU silenced for the whole batch normalizes to all zeros.
    assert.ok(
      variance < 1e-9 || Math.abs(variance - 1) < 0.05,
      `unit ${unit}: variance ${variance}`,
    );
  }
  x.dispose();
  disposeNetwork(network);
});

test('layer2Activations: no normalization, no normalized values, no tensor left', () => {
  const network = createNetwork({ placement: 'none', seed: 3 });
  const x = tf.randomUniform([5, 784], 0, 1, 'float32', 5) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const values = layer2Activations(network, x, 'training');
  assert.equal(tf.memory().numTensors, before);
  assert.equal(values.normalized, undefined);
  assert.equal(values.dense.length, 5 * 100);
  x.dispose();
  disposeNetwork(network);
});

test('histogram: counts by hand, values outside the range left out', () => {
  const h = histogram([0, 0.1, 0.5, 0.99, 1, -0.1], 0, 1, 2);
  assert.deepEqual(h.edges, [0, 0.5, 1]);
  assert.deepEqual(h.counts, [2, 2]);
});

test('updateToDataRatios: scaling the weights in front of BN by c moves layer 1 by -2 log10(c)', () => {
  const network = createNetwork({ placement: 'pre', seed: 5, epsilon: 1e-9 });
  const x = tf.randomUniform([64, 784], 0, 1, 'float32', 7) as tf.Tensor2D;
  const y = tf
    .oneHot(
      tf.tensor1d(
        [...Array(64).keys()].map((i) => i % 10),
        'int32',
      ),
      10,
    )
    .toFloat() as tf.Tensor2D;
  const before = updateToDataRatios(network, x, y, 0.1);
  // Scale invariance: the gradient shrinks by c and the weights grow by c, so the ratio falls by c^2.
  const kernel = variableOf(network, 'layer1/dense/kernel');
  kernel.assign(kernel.mul(10));
  const after = updateToDataRatios(network, x, y, 0.1);
  assert.ok(Math.abs(after[0]! - before[0]! + 2) < 1e-3, `${after[0]} vs ${before[0]}`);
  // The layers above see the same inputs and outputs: their ratios do not move.
  assert.ok(Math.abs(after[1]! - before[1]!) < 1e-3);
  assert.ok(Math.abs(after[2]! - before[2]!) < 1e-3);
  // The learning rate enters once: ten times the rate, one more in log10.
  const faster = updateToDataRatios(network, x, y, 1);
  assert.ok(Math.abs(faster[2]! - after[2]! - 1) < 1e-6);
  tf.dispose([x, y]);
  disposeNetwork(network);
});
