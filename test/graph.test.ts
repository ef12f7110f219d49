import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../src/data/batches.js';
import { loadMnist } from '../src/data/mnist.js';
import {
  disposeDeviceSplit,
  gatherBatch,
  toDevice,
  type DeviceSplit,
} from '../src/data/device-split.js';
import { attr, GraphBuilder } from '../src/graph/graph-builder.js';
import { GraphSession, openSessionCount } from '../src/graph/saved-model.js';
import { createNetwork, disposeNetwork, namedVariables, type Network } from '../src/nn/network.js';
import { countNativeOps, hasNativeOps } from '../src/train/native-ops.js';
import { createTrainingStep } from '../src/train/steps.js';
import type { TrainingStep } from '../src/train/step.js';
import { forwardEvaluate } from '../src/train/evaluation.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

describe('the graph builder', () => {
  test('names are unique within a scope, as in TensorFlow', () => {
    const g = new GraphBuilder();
    const x = g.placeholder('x', 'float32', [-1, 2]);
    const names = g.scope('layer', () => [
      g.op('Relu', [x], { T: attr.type('float32') }).node,
      g.op('Relu', [x], { T: attr.type('float32') }).node,
    ]);
    assert.deepEqual(names, ['layer/Relu', 'layer/Relu_1']);
  });

  test('control dependencies become ^inputs of every node made inside, and only those', () => {
    const g = new GraphBuilder();
    const x = g.placeholder('x', 'float32', []);
    const update = g.op('NoOp', [], {}, { name: 'update' });
    g.addToCollection('UPDATE_OPS', update);
    const inside = g.controlDependencies(g.collection('UPDATE_OPS'), () =>
      g.op('Identity', [x], { T: attr.type('float32') }, { name: 'inside' }),
    );
    const outside = g.op('Identity', [x], { T: attr.type('float32') }, { name: 'outside' });
    const inputs = (name: string) => g.nodes.find((n) => n.name === name)!.inputs;
    assert.deepEqual(inputs(inside.node), ['x:0', '^update']);
    assert.deepEqual(inputs(outside.node), ['x:0']);
  });
});

describe('the guide graph in a TensorFlow session', () => {
  let data: { train: DeviceSplit; test: DeviceSplit };
  let native = false;
  before(async () => {
    await setUpBackend();
    native = hasNativeOps();
    const mnist = loadMnist('small', 0);
    data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  });
  after(() => {
    disposeDeviceSplit(data.train);
    disposeDeviceSplit(data.test);
  });

  async function trained(
    model: Network,
    steps: number,
    updateMovingAverages = true,
  ): Promise<TrainingStep> {
    const step = await createTrainingStep('graph', model, {
      batchSize: 100,
      learningRate: 0.01,
      updateMovingAverages,
    });
    const sampler = new BatchSampler(data.train.count, 100, 'graph-test');
    for (let i = 0; i < steps; i++) {
      const { x, y } = gatherBatch(data.train, sampler.nextBatch());
      step.run(x, y);
      tf.dispose([x, y]);
    }
    step.syncNetwork();
    return step;
  }

  const values = (model: Network) =>
    new Map(namedVariables(model).map(([name, v]) => [name, [...v.dataSync()]]));

  test("the guide's trap: without the control dependency the moving averages never move", async (t) => {
    if (!native) return t.skip('the graph needs the tensorflow backend');
    const model = createNetwork({ placement: 'pre', seed: 3 });
    const initial = values(model);
    const step = await trained(model, 50, false);
    for (const [name, v] of namedVariables(model)) {
      if (name.endsWith('moving_mean'))
        assert.ok(
          v.dataSync().every((m) => m === 0),
          name,
        );
      if (name.endsWith('moving_variance'))
        assert.ok(
          v.dataSync().every((m) => m === 1),
          name,
        );
      // The weights did train: every kernel moved well away from where it started.
      if (name.endsWith('kernel')) {
        const moved = maxAbsDiff(v.dataSync(), initial.get(name)!);
        assert.ok(moved > 1e-3, `${name} moved only ${moved}`);
      }
    }
    step.dispose();
    const fixed = await trained(model, 50, true);
    const mean = namedVariables(model).find(([n]) => n === 'layer1/bn/moving_mean')![1];
    assert.ok(
      mean.dataSync().some((m) => Math.abs(m) > 1e-3),
      'with the dependency the averages move',
    );
    fixed.dispose();
    disposeNetwork(model);
  });

  test('evaluating in either phase changes no variable', async (t) => {
    if (!native) return t.skip('the graph needs the tensorflow backend');
    const model = createNetwork({ placement: 'post', seed: 4 });
    const step = await trained(model, 20);
    const before = values(model);
    const training = step.evaluate(data.train, 'training');
    const inference = step.evaluate(data.test, 'inference');
    step.syncNetwork();
    assert.deepEqual(values(model), before);
    // After 20 steps the batch statistics already classify far above chance (0.1).
    assert.ok(training.accuracy > 0.5, JSON.stringify(training));
    // The session's numbers are the network's: tfjs ops on the synced variables agree.
    for (const [split, phase, session] of [
      [data.train, 'training', training],
      [data.test, 'inference', inference],
    ] as const) {
      const reference = forwardEvaluate(model, split, phase);
      assert.ok(
        Math.abs(session.loss - reference.loss) < 1e-4,
        `${phase} loss: ${session.loss} vs ${reference.loss}`,
      );
      assert.ok(
        Math.abs(session.accuracy - reference.accuracy) <= 1 / split.count,
        `${phase} accuracy`,
      );
    }
    step.dispose();
    disposeNetwork(model);
  });

  test('a step is one call into TensorFlow: one session run', async (t) => {
    if (!native) return t.skip('the graph needs the tensorflow backend');
    const model = createNetwork({ placement: 'pre', seed: 6 });
    const step = await trained(model, 1);
    const batch = gatherBatch(data.train, new BatchSampler(data.train.count, 100, 'n').nextBatch());
    assert.equal(
      countNativeOps(() => step.run(batch.x, batch.y)),
      1,
    );
    tf.dispose([batch.x, batch.y]);
    step.dispose();
    disposeNetwork(model);
  });

  test('the tensor count stays flat across steps, and a session closes with its step', async (t) => {
    if (!native) return t.skip('the graph needs the tensorflow backend');
    const sessionsBefore = openSessionCount();
    const tensorsBefore = tf.memory().numTensors;
    for (let round = 0; round < 2; round++) {
      const model = createNetwork({ placement: 'pre', seed: 5 });
      const step = await trained(model, 5);
      assert.equal(openSessionCount(), sessionsBefore + 1);
      const counts: number[] = [];
      const batch = gatherBatch(
        data.train,
        new BatchSampler(data.train.count, 100, 'c').nextBatch(),
      );
      for (let i = 0; i < 20; i++) {
        step.run(batch.x, batch.y);
        counts.push(tf.memory().numTensors);
      }
      assert.equal(new Set(counts).size, 1, `tensors per step: ${counts.join(', ')}`);
      tf.dispose([batch.x, batch.y]);
      step.dispose();
      disposeNetwork(model);
    }
    assert.equal(
      openSessionCount(),
      sessionsBefore,
      'the same graph loaded twice leaks no session',
    );
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });

  test('a bad graph fails in one line that names the node', async (t) => {
    if (!native) return t.skip('the graph needs the tensorflow backend');
    const x = (g: GraphBuilder) => g.placeholder('x', 'float32', [-1, 3]);
    const spec = (g: GraphBuilder, tensor = x(g)) => ({
      inputs: {},
      outputs: { out: { tensor, dtype: 'float32' as const, shape: [-1, 3] } },
    });

    const unknown = new GraphBuilder();
    const made = unknown.op(
      'Frobnicate',
      [x(unknown)],
      { T: attr.type('float32') },
      { name: 'layer1/odd' },
    );
    await assert.rejects(
      GraphSession.open(unknown, { main: spec(unknown, made) }, unknown.initialization()),
      (error: Error) => {
        assert.equal(error.message.split('\n').length, 1, error.message);
        assert.match(error.message, /layer1\/odd/);
        assert.match(error.message, /Frobnicate/);
        return true;
      },
    );

    const shapes = new GraphBuilder();
    const w = shapes.variable('w', {
      dtype: 'float32',
      shape: [4, 2],
      values: new Array(8).fill(0),
    });
    const product = shapes.op(
      'MatMul',
      [x(shapes), w.value],
      { T: attr.type('float32'), transpose_a: false, transpose_b: false },
      { name: 'layer1/product' },
    );
    await assert.rejects(
      GraphSession.open(shapes, { main: spec(shapes, product) }, shapes.initialization()),
      (error: Error) => {
        assert.equal(error.message.split('\n').length, 1, error.message);
        assert.match(error.message, /layer1\/product/);
        return true;
      },
    );
    assert.equal(openSessionCount(), 0, 'a failed load leaves no session');
  });
});
