import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { batchRenorm, groupNorm, layerNorm } from '../src/nn/alternatives.js';
import { createNetwork, disposeNetwork, forward, type Network } from '../src/nn/network.js';
import { foldBatchNorm, foldedLayersModel, foldedLogits } from '../src/lessons/deployment.js';
import { lossAndGradients } from '../src/lessons/landscape.js';
import { loadModelFiles, saveModelFiles } from '../src/lessons/model-files.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';
import { tempDir } from './temp-dirs.js';

let tensorsAtStart = 0;
before(async () => {
  await setUpBackend();
  tensorsAtStart = tf.memory().numTensors;
});

const EPS = 1e-3;

// Two rows of six features: small enough to work out by hand, uneven enough to catch a wrong axis.
const X = [
  [0.5, -1.0, 3.0, 2.0, -0.5, 1.5],
  [4.0, 1.0, -2.0, 0.0, 2.5, -1.0],
];
const GAMMA = [1.5, 0.5, -2.0, 1.0, 0.25, 3.0];
const BETA = [0.1, -0.2, 0.3, 0.0, 1.0, -0.5];

const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
const variance = (v: number[]) => mean(v.map((a) => (a - mean(v)) ** 2));

/** Normalizes `values` with their own mean and biased variance, in double precision. */
const standardize = (values: number[], eps: number) =>
  values.map((v) => (v - mean(values)) / Math.sqrt(variance(values) + eps));

/** GroupNorm written out: each row cut into `groups` runs of features, each run standardized. */
function referenceGroupNorm(x: number[][], groups: number, eps: number): number[][] {
  return x.map((row) => {
    const size = row.length / groups;
    const normalized = Array.from({ length: groups }, (_, g) =>
      standardize(row.slice(g * size, (g + 1) * size), eps),
    ).flat();
    return normalized.map((v, j) => GAMMA[j]! * v + BETA[j]!);
  });
}

const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const columns = (x: number[][]) => x[0]!.map((_, j) => x.map((row) => row[j]!));

test('LayerNorm normalizes each row over its features, as worked out by hand', () => {
  // Row 1 by hand: mean 5.5 / 6, biased variance from the six squared deviations.
  const row = X[0]!;
  const m = 5.5 / 6;
  const v = row.reduce((s, a) => s + (a - m) ** 2, 0) / 6;
  const expectedFirst = (GAMMA[0]! * (0.5 - m)) / Math.sqrt(v + EPS) + BETA[0]!;
  const expected = X.map((r) => standardize(r, EPS).map((s, j) => GAMMA[j]! * s + BETA[j]!));
  assert.ok(Math.abs(expected[0]![0]! - expectedFirst) < 1e-12);
  tf.tidy(() => {
    const y = layerNorm(tf.tensor2d(X), tf.tensor1d(GAMMA), tf.tensor1d(BETA), EPS);
    assert.ok(maxAbsDiff(y.dataSync(), expected.flat()) < 1e-5);
  });
});

test('LayerNorm agrees with tf.layers.layerNormalization', () => {
  const reference = tf.sequential({
    layers: [tf.layers.layerNormalization({ axis: -1, epsilon: EPS, inputShape: [6] })],
  });
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    reference.layers[0]!.setWeights([tf.tensor1d(GAMMA), tf.tensor1d(BETA)]);
    const x = tf.tensor2d(X);
    const ours = layerNorm(x, tf.tensor1d(GAMMA), tf.tensor1d(BETA), EPS);
    const theirs = reference.predict(x) as tf.Tensor2D;
    assert.ok(maxAbsDiff(ours.dataSync(), theirs.dataSync()) < 1e-5);
  });
  assert.equal(tf.memory().numTensors, before);
  reference.dispose();
});

test('GroupNorm normalizes each group of features in each row; one group is LayerNorm', () => {
  tf.tidy(() => {
    const [x, gamma, beta] = [tf.tensor2d(X), tf.tensor1d(GAMMA), tf.tensor1d(BETA)];
    for (const groups of [2, 3, 6]) {
      const y = groupNorm(x, gamma, beta, groups, EPS);
      assert.ok(
        maxAbsDiff(y.dataSync(), referenceGroupNorm(X, groups, EPS).flat()) < 1e-5,
        `${groups} groups`,
      );
    }
    const one = groupNorm(x, gamma, beta, 1, EPS);
    assert.ok(maxAbsDiff(one.dataSync(), layerNorm(x, gamma, beta, EPS).dataSync()) < 1e-6);
    // Six features in groups of one: each value is its own mean, so it normalizes to 0.
    const single = groupNorm(x, gamma, beta, 6, EPS);
    assert.ok(maxAbsDiff(single.dataSync(), [...BETA, ...BETA]) < 1e-6);
  });
  assert.throws(
    () => tf.tidy(() => groupNorm(tf.zeros([2, 6]) as tf.Tensor2D, tf.ones([6]), tf.zeros([6]), 4)),
    /^Error: 6 features do not split into 4 equal groups$/,
  );
});

// Batch Renorm on a batch of four, three features, with moving statistics chosen so that r
// clips at rMax in feature 0, d clips at -dMax in feature 1, and neither clips in feature 2.
const RX = [
  [1.0, 0.0, 2.0],
  [3.0, 0.5, 1.0],
  [-1.0, -0.5, 0.5],
  [5.0, 1.0, 2.5],
];
const MOVING_MEAN = [2.0, 4.0, 1.2];
const MOVING_VARIANCE = [0.25, 0.09, 0.81];
const LIMITS = { rMax: 2, dMax: 3 };
const RGAMMA = [1.5, -0.5, 2.0];
const RBETA = [0.1, 0.2, -0.3];

test('Batch Renorm corrects towards the moving statistics, with r and d clipped', () => {
  const expected = columns(RX).map((col, j) => {
    const sigmaBatch = Math.sqrt(variance(col) + EPS);
    const sigma = Math.sqrt(MOVING_VARIANCE[j]! + EPS);
    const r = clip(sigmaBatch / sigma, 1 / LIMITS.rMax, LIMITS.rMax);
    const d = clip((mean(col) - MOVING_MEAN[j]!) / sigma, -LIMITS.dMax, LIMITS.dMax);
    return {
      r,
      d,
      y: col.map((v) => RGAMMA[j]! * (((v - mean(col)) / sigmaBatch) * r + d) + RBETA[j]!),
    };
  });
  // The example exercises each case it claims to.
  assert.equal(expected[0]!.r, LIMITS.rMax);
  assert.equal(expected[1]!.d, -LIMITS.dMax);
  assert.ok(expected[2]!.r < LIMITS.rMax && Math.abs(expected[2]!.d) < LIMITS.dMax);
  tf.tidy(() => {
    const moving = { mean: tf.tensor1d(MOVING_MEAN), variance: tf.tensor1d(MOVING_VARIANCE) };
    const { y, batch } = batchRenorm(
      tf.tensor2d(RX),
      tf.tensor1d(RGAMMA),
      tf.tensor1d(RBETA),
      moving,
      LIMITS,
      EPS,
    );
    const rowMajor = RX.map((_, i) => expected.map((f) => f.y[i]!)).flat();
    assert.ok(maxAbsDiff(y.dataSync(), rowMajor) < 1e-5);
    assert.ok(maxAbsDiff(batch.mean.dataSync(), columns(RX).map(mean)) < 1e-6);
    assert.ok(maxAbsDiff(batch.variance.dataSync(), columns(RX).map(variance)) < 1e-5);
    // With limits that never clip, the training output is the inference output.
    const open = batchRenorm(
      tf.tensor2d(RX),
      tf.tensor1d(RGAMMA),
      tf.tensor1d(RBETA),
      moving,
      { rMax: 1e6, dMax: 1e6 },
      EPS,
    );
    const inference = RX.map((row) =>
      row.map(
        (v, j) =>
          (RGAMMA[j]! * (v - MOVING_MEAN[j]!)) / Math.sqrt(MOVING_VARIANCE[j]! + EPS) + RBETA[j]!,
      ),
    );
    assert.ok(maxAbsDiff(open.y.dataSync(), inference.flat()) < 1e-5);
  });
});

test("Batch Renorm's gradient is batch norm's, scaled by r: r and d count as constants", () => {
  // Loss = sum(W * y). With r, d constant, dL/dxhat = W * gamma * r, and the batch-norm backward
  // dL/dx = (G - mean(G) - xhat * mean(G * xhat)) / sigma_B, per feature over the batch.
  const W = [
    [0.3, -1.2, 0.7],
    [1.1, 0.4, -0.6],
    [-0.8, 0.9, 0.2],
    [0.5, -0.3, 1.4],
  ];
  const gradColumns = columns(RX).map((col, j) => {
    const sigmaBatch = Math.sqrt(variance(col) + EPS);
    const r = clip(sigmaBatch / Math.sqrt(MOVING_VARIANCE[j]! + EPS), 1 / LIMITS.rMax, LIMITS.rMax);
    const xHat = col.map((v) => (v - mean(col)) / sigmaBatch);
    const G = col.map((_, i) => W[i]![j]! * RGAMMA[j]! * r);
    const meanGxHat = mean(G.map((g, i) => g * xHat[i]!));
    return G.map((g, i) => (g - mean(G) - xHat[i]! * meanGxHat) / sigmaBatch);
  });
  const expected = RX.map((_, i) => gradColumns.map((c) => c[i]!)).flat();
  tf.tidy(() => {
    const moving = { mean: tf.tensor1d(MOVING_MEAN), variance: tf.tensor1d(MOVING_VARIANCE) };
    const loss = (x: tf.Tensor) =>
      tf.sum(
        tf.mul(
          batchRenorm(
            x as tf.Tensor2D,
            tf.tensor1d(RGAMMA),
            tf.tensor1d(RBETA),
            moving,
            LIMITS,
            EPS,
          ).y,
          tf.tensor2d(W),
        ),
      );
    const gradient = tf.grad(loss)(tf.tensor2d(RX));
    assert.ok(maxAbsDiff(gradient.dataSync(), expected) < 1e-4);
  });
});

test("in training, a LayerNorm or GroupNorm network's output for an example ignores the rest of its batch; batch norm's does not", () => {
  const x = tf.randomNormal([8, 784], 0, 1, 'float32', 3) as tf.Tensor2D;
  for (const normalization of ['layer', 'group', 'batch'] as const) {
    const network = createNetwork({ placement: 'pre', normalization, seed: 1 });
    const gap = tf.tidy(() => {
      const inBatch = forward(network, x, 'training').logits.slice([0, 0], [1, -1]);
      const alone = forward(network, x.slice([0, 0], [2, -1]) as tf.Tensor2D, 'training');
      return maxAbsDiff(inBatch.dataSync(), alone.logits.slice([0, 0], [1, -1]).dataSync());
    });
    if (normalization === 'batch') assert.ok(gap > 0.1, `batch norm: ${gap}`);
    else assert.ok(gap < 1e-5, `${normalization}: the batch moved the output by ${gap}`);
    disposeNetwork(network);
  }
  x.dispose();
});

/** Gives every batch-norm layer non-trivial gamma, beta and moving statistics. */
function perturbBatchNorm(model: Network): void {
  model.hidden.forEach((layer, i) => {
    const bn = layer.norm!.fusedKernel!();
    const units = bn.gamma.shape[0];
    const ramp = (lo: number, hi: number) =>
      tf.tidy(() => tf.add(lo, tf.mul(tf.range(0, units), (hi - lo) / units)) as tf.Tensor1D);
    for (const [variable, values] of [
      [bn.gamma, ramp(0.5, 1.5 + i)],
      [bn.beta, ramp(-0.3, 0.4)],
      [bn.movingMean, ramp(-0.2 * (i + 1), 0.3)],
      [bn.movingVariance, ramp(0.2, 2.5)],
    ] as const) {
      variable.assign(values);
      values.dispose();
    }
  });
}

for (const placement of ['pre', 'post'] as const) {
  test(`folding BN (${placement}) into the dense layers keeps the inference logits to 1e-5, and a saved LayersModel predicts the same`, async () => {
    const model = createNetwork({ placement, seed: 2 });
    perturbBatchNorm(model);
    const x = tf.randomUniform([16, 784], 0, 1, 'float32', 5) as tf.Tensor2D;
    const folded = foldBatchNorm(model);
    const before = tf.memory().numTensors;
    const [unfolded, foldedOut] = tf.tidy(() => [
      forward(model, x, 'inference').logits.dataSync(),
      foldedLogits(folded, x).dataSync(),
    ]);
    assert.equal(tf.memory().numTensors, before, 'foldedLogits keeps no tensor');
    assert.ok(
      maxAbsDiff(unfolded, foldedOut) < 1e-5,
      `differs by ${maxAbsDiff(unfolded, foldedOut)}`,
    );

    const layersModel = foldedLayersModel(folded);
    let saved: tf.io.ModelArtifacts | undefined;
    await layersModel.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const reloaded = tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync());
    assert.ok(maxAbsDiff(reloaded, foldedOut) < 1e-5);
    loaded.dispose();
    // The same through files, as notebook 06 deploys it, on whatever backend runs the tests.
    const dir = tempDir('folded-');
    await saveModelFiles(layersModel, dir);
    assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
    const fromFiles = await loadModelFiles(dir);
    const filed = tf.tidy(() => (fromFiles.predict(x) as tf.Tensor).dataSync());
    assert.equal(maxAbsDiff(filed, reloaded), 0);
    fromFiles.dispose();
    layersModel.dispose();
    tf.dispose([x, ...folded.flatMap((l) => [l.kernel, l.bias])]);
    disposeNetwork(model);
  });
}

test('scaling the weights in front of BN by c leaves the loss unchanged and scales their gradient by 1/c', () => {
  const c = 4;
  const x = tf.randomUniform([32, 784], 0, 1, 'float32', 7) as tf.Tensor2D;
  const y = tf.tidy(() =>
    tf.oneHot(
      tf.tensor1d(
        [...Array(32).keys()].map((i) => i % 10),
        'int32',
      ),
      10,
    ),
  ) as tf.Tensor2D;
  // A tiny epsilon: with the guide's 1e-3 the invariance holds only up to eps / variance.
  const model = createNetwork({ placement: 'pre', seed: 3, epsilon: 1e-8 });
  const at = () => {
    const { loss, gradients } = lossAndGradients(model, x, y);
    const values = { loss: loss.dataSync()[0]!, kernel: gradients[0]!.dataSync() };
    tf.dispose([loss, ...gradients]);
    return values;
  };
  const original = at();
  const kernel = model.hidden[0]!.dense.kernel;
  const bias = model.hidden[0]!.dense.bias;
  tf.tidy(() => {
    kernel.assign(tf.mul(kernel, c));
    bias.assign(tf.mul(bias, c));
  });
  const scaled = at();
  assert.ok(Math.abs(scaled.loss - original.loss) < 1e-5, `${scaled.loss} vs ${original.loss}`);
  const expected = Float32Array.from(original.kernel, (g) => g / c);
  const largest = Math.max(...original.kernel.map(Math.abs));
  assert.ok(maxAbsDiff(scaled.kernel, expected) < 1e-3 * largest);
  tf.dispose([x, y]);
  disposeNetwork(model);
});

test('the layers, the folding and the tests above leave no tensor behind', () => {
  assert.equal(tf.memory().numTensors, tensorsAtStart);
});
