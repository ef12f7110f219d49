import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  BatchNormLayer,
  GroupNormLayer,
  LENET_CONV,
  LENET_DENSE,
  LayerNormLayer,
  createNetwork,
  disposeNetwork,
  summarizeNetwork,
  namedVariables,
  forward,
} from '../src/nn/index.js';
import {
  disposeFoldedNetwork,
  foldConvNetwork,
  foldedNetworkLogits,
  foldedNetworkModel,
  loadModelFiles,
  saveModelFiles,
} from '../src/lessons/index.js';
import { hasNativeOps, nativeOps } from '../src/train/native-ops.js';
import { resolveStepKind } from '../src/train/step.js';
import { createTrainingStep } from '../src/train/steps.js';
import { train } from '../src/train/trainer.js';
import { maxAbsDiff, smallMnistOnDevice } from './helpers.js';
import { useBackend } from '../src/runtime/backend.js';

const small = smallMnistOnDevice();

// A map [N, H, W, C] = [4, 3, 3, 4] whose channels have different means and scales.
const SHAPE = [4, 3, 3, 4] as const;
const VALUES = Array.from({ length: 4 * 3 * 3 * 4 }, (_, i) => {
  const channel = i % 4;
  return Math.sin(i * 1.7) * (channel + 1) + channel * 3;
});
const at = (n: number, h: number, w: number, c: number) => VALUES[((n * 3 + h) * 3 + w) * 4 + c]!;

/** Normalizes, in float64, every set of (n, h, w, c) that `key` maps to the same group. */
function normalizeBy(key: (n: number, h: number, w: number, c: number) => string, eps: number) {
  const groups = new Map<string, number[]>();
  const each = (f: (n: number, h: number, w: number, c: number) => void) => {
    for (let n = 0; n < 4; n++)
      for (let h = 0; h < 3; h++)
        for (let w = 0; w < 3; w++) for (let c = 0; c < 4; c++) f(n, h, w, c);
  };
  each((n, h, w, c) =>
    groups.set(key(n, h, w, c), [...(groups.get(key(n, h, w, c)) ?? []), at(n, h, w, c)]),
  );
  const out: number[] = [];
  each((n, h, w, c) => {
    const members = groups.get(key(n, h, w, c))!;
    const mean = members.reduce((s, v) => s + v, 0) / members.length;
    const variance = members.reduce((s, v) => s + (v - mean) ** 2, 0) / members.length;
    out.push((at(n, h, w, c) - mean) / Math.sqrt(variance + eps));
  });
  return out;
}

test('batch norm on a map normalizes each channel over the batch and every position', () => {
  const layer = new BatchNormLayer(4, { decay: 0.9, epsilon: 1e-3 });
  const x = tf.tensor4d(VALUES, [...SHAPE]);
  const { y, saved } = layer.forwardMap(x, { phase: 'training' });
  const expected = normalizeBy((_n, _h, _w, c) => `${c}`, 1e-3);
  assert.ok(maxAbsDiff(y.dataSync(), expected) < 1e-5);
  // The update op folds the per-channel batch means in: moving = 0.9 * 0 + 0.1 * mean.
  layer.update(saved!);
  const means = [0, 1, 2, 3].map((c) => {
    let sum = 0;
    for (let i = c; i < VALUES.length; i += 4) sum += VALUES[i]!;
    return (0.1 * sum) / 36;
  });
  assert.ok(maxAbsDiff(layer.movingMean().dataSync(), means) < 1e-5);
  tf.dispose([x, y]);
  layer.dispose();
});

test('GroupNorm on a map normalizes each example over its channel group and every position; LayerNorm over all', () => {
  const x = tf.tensor4d(VALUES, [...SHAPE]);
  const group = new GroupNormLayer(4, 1e-3, 2);
  const layer = new LayerNormLayer(4, 1e-3);
  const grouped = group.forwardMap(x).y;
  const whole = layer.forwardMap(x).y;
  const byGroup = normalizeBy((n, _h, _w, c) => `${n}/${Math.floor(c / 2)}`, 1e-3);
  const byExample = normalizeBy((n) => `${n}`, 1e-3);
  assert.ok(maxAbsDiff(grouped.dataSync(), byGroup) < 1e-5);
  assert.ok(maxAbsDiff(whole.dataSync(), byExample) < 1e-5);
  // The two differ: the check above could not pass for both with one computation.
  assert.ok(maxAbsDiff(byGroup, byExample) > 0.1);
  tf.dispose([x, grouped, whole]);
  group.dispose();
  layer.dispose();
});

test('the map form matches tf.layers.batchNormalization on NHWC, forward and backward', () => {
  const start = tf.memory().numTensors;
  const ours = new BatchNormLayer(4, { decay: 0.9, epsilon: 1e-3 });
  const library = tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.9 });
  tf.tidy(() => {
    const x = tf.tensor4d(VALUES, [...SHAPE]);
    const dy = tf.sin(tf.range(0, VALUES.length).reshape([...SHAPE]));
    library.apply(x); // builds gamma and beta (1 and 0, as ours start)
    const loss = (f: (input: tf.Tensor4D) => tf.Tensor) => (input: tf.Tensor) =>
      f(input as tf.Tensor4D)
        .mul(dy)
        .sum();
    const forwardOurs = (input: tf.Tensor4D) => ours.forwardMap(input, { phase: 'training' }).y;
    const forwardLibrary = (input: tf.Tensor4D) =>
      library.apply(input, { training: true }) as tf.Tensor;
    assert.ok(maxAbsDiff(forwardOurs(x).dataSync(), forwardLibrary(x).dataSync()) < 1e-5);
    const dxOurs = tf.grad(loss(forwardOurs))(x);
    const dxLibrary = tf.grad(loss(forwardLibrary))(x);
    assert.ok(maxAbsDiff(dxOurs.dataSync(), dxLibrary.dataSync()) < 1e-5);
    // A map-sized gradient that is not zero: the check above compares something.
    assert.ok(tf.abs(dxOurs).max().dataSync()[0]! > 0.01);
  });
  library.dispose();
  ours.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('the map form matches FusedBatchNormV3 on NHWC', (t) => {
  if (!hasNativeOps()) return t.skip('needs the tensorflow backend');
  console.log(tf.getBackend());
  const layer = new BatchNormLayer(4, { decay: 0.9, epsilon: 1e-3 });
  tf.tidy(() => {
    const x = tf.tensor4d(VALUES, [...SHAPE]);
    const fused = nativeOps().fusedBatchNorm(
      x,
      layer.gamma!,
      layer.beta!,
      tf.zeros([4]),
      tf.ones([4]),
      {
        epsilon: 1e-3,
        training: true,
        averagingFactor: 1,
      },
    );
    const ours = layer.forwardMap(x, { phase: 'training' }).y;
    assert.ok(maxAbsDiff(ours.dataSync(), fused.y.dataSync()) < 1e-5);
  });
  layer.dispose();
});

test('LeNet: one line per layer, parameters counted as by hand', () => {
  const network = createNetwork({
    placement: 'pre',
    convolutional: LENET_CONV,
    hiddenUnits: LENET_DENSE,
  });
  const lines = summarizeNetwork(network);
  disposeNetwork(network);
  // conv1 5*5*1*6 + 6 and 4*6 BN; conv2 5*5*6*16 + 16 and 4*16; dense 400*120 + 120 and 4*120;
  // 120*84 + 84 and 4*84; logits 84*10 + 10.
  const counts = [156 + 24, 2416 + 64, 48120 + 480, 10164 + 336, 850];
  assert.deepEqual(
    lines.slice(0, 5).map((line) => Number(/; (\d+) parameters/.exec(line)![1])),
    counts,
  );
  assert.match(
    lines[0]!,
    /^conv1: 28x28x1 -> 14x14x6 {2}\(5x5 conv -> BatchNorm -> relu -> 2x2 max-pool;/,
  );
  assert.match(lines[1]!, /^conv2: 14x14x6 -> 5x5x16 /);
  assert.equal(lines.at(-1), `total: ${counts.reduce((s, c) => s + c, 0)} parameters`);
});

test('the dense-only steps refuse a convolutional network in one line', () => {
  const network = {
    normalization: 'batch',
    placement: 'pre' as const,
    streams: ['default'],
    conv: [{}],
  };
  for (const kind of ['lean', ...(hasNativeOps() ? ['graph', 'fused'] : [])] as const)
    assert.throws(
      () => resolveStepKind(kind as 'lean', { network }),
      new RegExp(
        `^Error: the ${kind} step runs dense networks only; convolutional ones train with the autodiff or layers step$`,
      ),
    );
  assert.equal(resolveStepKind(undefined, { network }), 'autodiff');
});

// One step, not fifty as for the MLP: after a few steps the two drift apart by 1e-3 and more,
// because near-ties in the max-pool windows (blank regions normalize to near-equal values)
// send the gradient to other positions once float32 rounding differs.
test('LeNet with batch norm: one autodiff step and one tf.layers step agree, the update op included', async () => {
  const start = tf.memory().numTensors;
  const options = {
    placement: 'pre' as const,
    convolutional: LENET_CONV,
    hiddenUnits: LENET_DENSE,
    seed: 3,
    decay: 0.9,
  };
  const initial = createNetwork(options);
  const trained = [];
  for (const kind of ['autodiff', 'layers'] as const) {
    const network = createNetwork(options);
    const step = await createTrainingStep(kind, network, { batchSize: 50, learningRate: 0.1 });
    const { x, y } = small.data.train;
    tf.tidy(() => step.run(x.slice([0, 0], [50, -1]), y.slice([0, 0], [50, -1])));
    step.syncNetwork();
    trained.push(namedVariables(network).map(([name, v]) => [name, v.dataSync().slice()] as const));
    step.dispose();
    disposeNetwork(network);
  }
  const [autodiff, layers] = trained;
  const before = new Map(namedVariables(initial).map(([name, v]) => [name, v.dataSync()]));
  disposeNetwork(initial);
  autodiff!.forEach(([name, values], i) => {
    // A bias right before batch norm has a zero gradient (the mean subtracts it): what each
    // implementation adds to it is float32 rounding of a sum over every position, about 1e-5.
    if (name.endsWith('/bias') && !name.startsWith('logits')) {
      assert.ok(maxAbsDiff(values, before.get(name)!) < 1e-3, name);
      assert.ok(maxAbsDiff(layers![i]![1], before.get(name)!) < 1e-3, name);
    } else assert.ok(maxAbsDiff(values, layers![i]![1]) < 1e-5, name);
  });
  // The step moved the kernels, gamma and the moving statistics (the update op ran).
  for (const name of [
    'conv1/conv/kernel',
    'conv2/bn/gamma',
    'conv1/bn/moving_mean',
    'conv1/bn/moving_variance',
  ])
    assert.ok(maxAbsDiff(new Map(autodiff!).get(name)!, before.get(name)!) > 1e-4, name);
  assert.equal(tf.memory().numTensors, start);
});

test('LeNet trains through the one loop, and no tensor is left', async () => {
  const start = tf.memory().numTensors;
  const run = await train(small.data, {
    placement: 'pre',
    convolutional: LENET_CONV,
    hiddenUnits: LENET_DENSE,
    epochs: 2,
    stepsPerEpoch: 60,
    batchSize: 50,
    learningRate: 0.1,
    seed: 1,
    decay: 0.9,
    epsilon: 1e-3,
    trainSetEvaluation: 'never',
  });
  assert.equal(run.step, 'autodiff');
  const [first, second] = run.history;
  // 120 steps of 50 digits: chance is 0.1, and a conv net with BN is far past it.
  assert.ok(second!.testAccuracy > 0.8, `test accuracy ${second!.testAccuracy}`);
  assert.ok(second!.testLoss < first!.testLoss);
  assert.ok(Number.isNaN(second!.trainLoss));
  disposeNetwork(run.network);
  assert.equal(tf.memory().numTensors, start);
});

test('batch norm folds into the convolutions: the folded LeNet and its saved LayersModel give the inference logits', async () => {
  const start = tf.memory().numTensors;
  const run = await train(small.data, {
    placement: 'pre',
    convolutional: LENET_CONV,
    hiddenUnits: LENET_DENSE,
    epochs: 1,
    stepsPerEpoch: 30,
    batchSize: 50,
    learningRate: 0.1,
    seed: 2,
    decay: 0.9,
    epsilon: 1e-3,
    trainSetEvaluation: 'never',
  });
  const folded = foldConvNetwork(run.network);
  const model = foldedNetworkModel(folded);
  const dir = mkdtempSync(join(tmpdir(), 'folded-lenet-'));
  await saveModelFiles(model, dir);
  const loaded = await loadModelFiles(dir);
  tf.tidy(() => {
    const x = small.data.test.x.slice([0, 0], [64, -1]) as tf.Tensor2D;
    const reference = forward(run.network, x, 'inference').logits.dataSync();
    // The moving statistics moved: folding them differs from folding the initial 0 and 1.
    assert.ok(maxAbsDiff(reference, forward(run.network, x, 'training').logits.dataSync()) > 1e-2);
    assert.ok(maxAbsDiff(foldedNetworkLogits(folded, x).dataSync(), reference) < 1e-4);
    assert.ok(maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), reference) < 1e-4);
    assert.deepEqual(
      (loaded.predict(x) as tf.Tensor).dataSync(),
      (model.predict(x) as tf.Tensor).dataSync(),
    );
  });
  rmSync(dir, { recursive: true });
  assert.throws(
    () => foldConvNetwork({ ...run.network, placement: 'post' }),
    /^Error: batch norm after the ReLU sits before a max-pool and a padded convolution: it does not fold there$/,
  );
  for (const m of [model, loaded]) m.dispose();
  disposeFoldedNetwork(folded);
  disposeNetwork(run.network);
  assert.equal(tf.memory().numTensors, start);
});

/** dL/dW of L = sum(conv2d(x, W) * dy), stride 1, in float64: sum over n, h, w of x patch times dy. */
function kernelGradientByHand(
  x: number[][][][],
  dy: number[][][][],
  k: number,
  pad: number,
): number[] {
  const [channels, filters] = [x[0]![0]![0]!.length, dy[0]![0]![0]!.length];
  const at = (n: number, h: number, w: number, c: number) => x[n]![h - pad]?.[w - pad]?.[c] ?? 0; // zero outside the map: the padding
  const out: number[] = [];
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++)
      for (let c = 0; c < channels; c++)
        for (let f = 0; f < filters; f++) {
          let sum = 0;
          dy.forEach((rows, n) =>
            rows.forEach((cols, h) =>
              cols.forEach((d, w) => (sum += at(n, h + i, w + j, c) * d[f]!)),
            ),
          );
          out.push(sum);
        }
  return out;
}

for (const backend of ['the test backend', 'wasm'] as const)
  test(`the kernel gradient of a convolution on ${backend} matches the float64 sum, both paddings`, async () => {
    const before = tf.getBackend();
    if (backend === 'wasm') await useBackend('wasm', () => {});
    try {
      for (const padding of ['valid', 'same'] as const) {
        const x = tf.randomNormal([2, 5, 5, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
        const kernel = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
        const side = padding === 'same' ? 5 : 3;
        const dy = tf.randomNormal([2, side, side, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
        const dW = tf.grad((w) =>
          tf
            .conv2d(x, w as tf.Tensor4D, 1, padding)
            .mul(dy)
            .sum(),
        )(kernel);
        const reference = kernelGradientByHand(
          x.arraySync(),
          dy.arraySync(),
          3,
          padding === 'same' ? 1 : 0,
        );
        assert.ok(maxAbsDiff(dW.dataSync(), reference) < 1e-4, padding);
        // Ten more gradients leave no tensor and no byte behind.
        const memory = tf.memory();
        for (let i = 0; i < 10; i++)
          tf.tidy(() => {
            tf.grad((w) =>
              tf
                .conv2d(x, w as tf.Tensor4D, 1, padding)
                .mul(dy)
                .sum(),
            )(kernel);
          });
        assert.deepEqual(
          [tf.memory().numTensors, tf.memory().numBytes],
          [memory.numTensors, memory.numBytes],
        );
        tf.dispose([x, kernel, dy, dW]);
      }
    } finally {
      if (backend === 'wasm') await tf.setBackend(before);
    }
  });
