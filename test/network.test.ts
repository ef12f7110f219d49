import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../src/data/mnist.js';
import { disposeDeviceSplit, toDevice, type TrainTest } from '../src/data/device-split.js';
import { invertedDigits } from '../src/lessons/two-streams.js';
import {
  createMovingStatistics,
  updateMovingAverages,
  type MovingStatistics,
} from '../src/nn/batchnorm-state.js';
import { BLOCK_LAYOUTS } from '../src/nn/layers.js';
import type { NormContext, NormLayer, NormSettings } from '../src/nn/norm-layer.js';
import { normalizationKinds, registerNormalization } from '../src/nn/normalizations.js';
import {
  createNetwork,
  disposeNetwork,
  namedVariables,
  summarizeNetwork,
  variableOf,
  type NetworkOptions,
} from '../src/nn/network.js';
import { GUIDE_CONFIG, type TrainConfig } from '../src/train/config.js';
import { hasNativeOps } from '../src/train/native-ops.js';
import { resolveStepKind, STEP_KINDS } from '../src/train/step.js';
import { train } from '../src/train/trainer.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

let data: TrainTest;
let tensorsAtStart = 0;
before(async () => {
  await setUpBackend();
  const mnist = loadMnist('small', 0);
  data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  tensorsAtStart = tf.memory().numTensors;
});
after(() => {
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
});

/**
 * A toy normalization, written here to show that a new one is one entry: each feature centred
 * on its batch mean in training and on a moving mean in inference; no scale, no learned shift.
 */
class MeanCentring implements NormLayer {
  readonly kind = 'centre';
  readonly trainable: tf.Variable[] = [];
  private readonly moving: MovingStatistics;

  constructor(
    units: number,
    private readonly settings: NormSettings,
  ) {
    this.moving = createMovingStatistics(units);
  }

  get variables(): Array<[string, tf.Variable]> {
    return [['moving_mean', this.moving.mean]];
  }

  forward(x: tf.Tensor2D, { phase }: NormContext) {
    if (phase === 'inference') return { y: tf.sub(x, this.moving.mean) as tf.Tensor2D };
    const mean = tf.mean(x, 0) as tf.Tensor1D;
    return { y: tf.sub(x, mean) as tf.Tensor2D, saved: mean };
  }

  update(saved: unknown): void {
    const mean = saved as tf.Tensor1D;
    // The shared update op; the variance slot is left where it is.
    updateMovingAverages(
      this.moving,
      { mean, variance: this.moving.variance },
      this.settings.decay,
    );
  }

  dispose(): void {
    tf.dispose([this.moving.mean, this.moving.variance]);
  }
}

registerNormalization({
  kind: 'centre',
  label: 'mean centring',
  scope: 'centre',
  create: (units, settings) => new MeanCentring(units, settings),
});

const SHORT: Omit<TrainConfig, 'placement'> = {
  ...GUIDE_CONFIG,
  epochs: 2,
  stepsPerEpoch: 200,
  learningRate: 0.05,
  decay: 0.99,
};

test('a normalization registered in one entry trains through the one loop', async () => {
  assert.ok(normalizationKinds().includes('centre'));
  const counts: number[] = [];
  const run = await train(
    data,
    { ...SHORT, placement: 'pre', normalization: 'centre' },
    { onEpoch: () => counts.push(tf.memory().numTensors) },
  );
  assert.equal(run.step, 'autodiff', 'the step that runs any normalization is chosen');
  const last = run.history.at(-1)!;
  assert.ok(last.testAccuracy > 0.85, `test accuracy ${last.testAccuracy}`);
  assert.ok(run.history[1]!.trainLoss < run.history[0]!.trainLoss);
  assert.equal(new Set(counts).size, 1, `tensors per epoch: ${counts}`);
  // Its moving mean was updated by the step and is what inference subtracts.
  const moving = variableOf(run.network, 'layer1/centre/moving_mean').dataSync();
  assert.ok(Math.max(...moving.map(Math.abs)) > 0.01);
  assert.match(summarizeNetwork(run.network)[0]!, /dense -> mean centring -> relu/);
  disposeNetwork(run.network);
  assert.equal(tf.memory().numTensors, tensorsAtStart);
});

test('a step that cannot run a network says so in one line, naming the step and what it runs', () => {
  const network = (normalization: string, streams = ['default']) => ({
    normalization,
    placement: 'pre' as const,
    streams,
  });
  for (const kind of ['graph', 'fused', 'lean', 'layers'] as const) {
    if ((kind === 'graph' || kind === 'fused') && !hasNativeOps()) continue;
    assert.throws(
      () => resolveStepKind(kind, { network: network('layer') }),
      (error: Error) => {
        assert.equal(
          error.message,
          `the ${kind} step runs normalizations none, batch, not 'layer' (the autodiff step runs every one)`,
        );
        return true;
      },
    );
  }
  assert.equal(resolveStepKind(undefined, { network: network('group') }), 'autodiff');
  assert.equal(resolveStepKind('autodiff', { network: network('centre') }), 'autodiff');
  const twoStreams = network('batch', ['a', 'b']);
  assert.equal(resolveStepKind(undefined, { network: twoStreams }), 'lean');
  assert.throws(
    () => resolveStepKind('layers', { network: twoStreams }),
    /^Error: the layers step keeps one set of moving statistics; per-stream statistics need the lean or autodiff step$/,
  );
  assert.equal(
    resolveStepKind(undefined, { network: network('batch') }),
    hasNativeOps() ? 'graph' : 'lean',
  );
  assert.deepEqual([...STEP_KINDS], ['graph', 'fused', 'lean', 'autodiff', 'layers']);
});

test('the placement is data: each hidden block walks its layout', () => {
  assert.deepEqual(BLOCK_LAYOUTS, {
    none: ['dense', 'relu'],
    pre: ['dense', 'norm', 'relu'],
    post: ['dense', 'relu', 'norm'],
  });
  const network = createNetwork({ placement: 'post', normalization: 'layer', seed: 2 });
  assert.deepEqual(network.layout, ['dense', 'relu', 'norm']);
  assert.deepEqual(
    namedVariables(network).map(([name]) => name),
    [
      'layer1/dense/kernel',
      'layer1/dense/bias',
      'layer1/ln/gamma',
      'layer1/ln/beta',
      'layer2/dense/kernel',
      'layer2/dense/bias',
      'layer2/ln/gamma',
      'layer2/ln/beta',
      'logits/kernel',
      'logits/bias',
    ],
  );
  // 784*100+100 + 200 per LayerNorm; 100*100+100 + 200; 100*10+10.
  assert.equal(summarizeNetwork(network).at(-1), 'total: 90010 parameters');
  disposeNetwork(network);
  // No normalization means no normalization stage, whatever the placement asked.
  const plain = createNetwork({ placement: 'pre', normalization: 'none' });
  assert.deepEqual([plain.placement, plain.layout], ['none', ['dense', 'relu']]);
  disposeNetwork(plain);
});

test('one seeding rule: the same seed starts every normalization from the same dense weights', () => {
  const kernels = ['none', 'batch', 'group', 'renorm'].map((normalization) => {
    const network = createNetwork({ placement: 'pre', normalization, seed: 4 });
    const values = namedVariables(network)
      .filter(([name]) => name.endsWith('kernel'))
      .map(([, v]) => [...v.dataSync()]);
    disposeNetwork(network);
    return values.flat();
  });
  for (const other of kernels.slice(1)) assert.equal(maxAbsDiff(other, kernels[0]!), 0);
  const another = createNetwork({ placement: 'pre', seed: 5 });
  assert.ok(
    maxAbsDiff(variableOf(another, 'layer1/dense/kernel').dataSync(), kernels[0]!.slice(0, 78400)) >
      0.01,
  );
  disposeNetwork(another);
});

test('a network that cannot be built fails in one line and leaves no tensor', () => {
  const before = tf.memory().numTensors;
  const cases: Array<[Omit<NetworkOptions, 'placement'>, RegExp]> = [
    [
      { normalization: 'whitening' },
      /^unknown normalization 'whitening' \(known: none, batch, renorm, layer, group/,
    ],
    [{ normalization: 'group', groups: 7 }, /^100 features do not split into 7 equal groups$/],
    [
      { normalization: 'renorm', streams: ['a', 'b'] },
      /^Batch Renorm keeps no per-stream statistics/,
    ],
    [{ hiddenUnits: [100, 0] }, /^hidden layer sizes must be positive integers, got \[100, 0\]$/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => createNetwork({ placement: 'pre', ...options }),
      (error: Error) => {
        assert.match(error.message, message);
        assert.equal(error.message.split('\n').length, 1);
        return true;
      },
    );
  }
  assert.equal(tf.memory().numTensors, before);
});

test('two streams: per-stream statistics, alternating or mixed batches, each stream evaluated', async () => {
  const mnist = loadMnist('small', 0);
  const inverted = invertedDigits(mnist);
  const streams = { streams: { original: data, inverted } };
  // Decay 0.9: each stream's statistics forget their start within its 150 updates.
  const config = { ...SHORT, placement: 'pre' as const, epochs: 1, stepsPerEpoch: 300, decay: 0.9 };
  const perStream = await train(streams, { ...config, statistics: 'per-stream' });
  assert.equal(perStream.step, 'lean');
  const record = perStream.history[0]!;
  for (const name of ['original', 'inverted']) {
    assert.ok(record.streams![name]!.testAccuracy > 0.8, JSON.stringify(record.streams));
    // Each stream's statistics were trained by its own batches only.
    const mean = variableOf(perStream.network, `layer1/bn/${name}/moving_mean`).dataSync();
    assert.ok(Math.max(...mean.map(Math.abs)) > 0.01);
  }
  const { original, inverted: inv } = record.streams!;
  assert.ok(
    Math.abs(record.testAccuracy - (original!.testAccuracy + inv!.testAccuracy) / 2) < 1e-6,
  );
  disposeNetwork(perStream.network);
  const mixed = await train(streams, { ...config, streamBatches: 'mixed' });
  assert.ok(mixed.history[0]!.testAccuracy > 0.8, JSON.stringify(mixed.history[0]));
  disposeNetwork(mixed.network);
  await assert.rejects(
    train(streams, { ...config, streamBatches: 'mixed', statistics: 'per-stream' }),
    /^Error: mixed batches hold every stream, so they need shared statistics$/,
  );
  await assert.rejects(
    train(streams, { ...config, streamBatches: 'mixed', batchSize: 99 }),
    /^Error: mixed batches need a batch size divisible by the 2 streams, got 99$/,
  );
  disposeDeviceSplit(inverted.train);
  disposeDeviceSplit(inverted.test);
  assert.equal(tf.memory().numTensors, tensorsAtStart);
});
