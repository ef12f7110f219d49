import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../src/data/batches.js';
import { loadMnist } from '../src/data/mnist.js';
import {
  disposeDeviceSplit,
  gatherBatch,
  toDevice,
  type DeviceSplit,
} from '../src/data/device-split.js';
import { PLACEMENTS } from '../src/nn/layers.js';
import { createNetwork, disposeNetwork, namedVariables, type Network } from '../src/nn/network.js';
import { hasNativeOps } from '../src/train/native-ops.js';
import { createTrainingStep } from '../src/train/steps.js';
import type { StepKind } from '../src/train/step.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

let train: DeviceSplit;
before(async () => {
  await setUpBackend();
  train = toDevice(loadMnist('small', 0).train);
});
after(() => disposeDeviceSplit(train));

/** Trains a fresh seed-11 model for 50 steps with one step kind; the batches are the same for every kind. */
async function trainFiftySteps(
  kind: StepKind,
  placement: (typeof PLACEMENTS)[number],
): Promise<Network> {
  const model = createNetwork({ placement, seed: 11 });
  const step = await createTrainingStep(kind, model, { batchSize: 100, learningRate: 0.01 });
  const sampler = new BatchSampler(train.count, 100, 'equivalence');
  for (let i = 0; i < 50; i++) {
    const { x, y } = gatherBatch(train, sampler.nextBatch());
    step.run(x, y);
    tf.dispose([x, y]);
  }
  step.syncNetwork();
  step.dispose();
  return model;
}

for (const placement of PLACEMENTS) {
  test(`graph, fused, lean, autodiff and tf.layers steps agree after 50 steps (${placement})`, async (t) => {
    const kinds: StepKind[] = hasNativeOps()
      ? ['graph', 'fused', 'lean', 'autodiff', 'layers']
      : ['lean', 'autodiff', 'layers'];
    if (!hasNativeOps())
      t.diagnostic(
        'graph and fused need the tensorflow backend; comparing lean, autodiff and layers',
      );
    const models: Network[] = [];
    for (const kind of kinds) models.push(await trainFiftySteps(kind, placement));
    const [reference, ...others] = models.map((m) => namedVariables(m));
    others.forEach((variables, k) => {
      variables.forEach(([name, variable], i) => {
        const diff = maxAbsDiff(variable.dataSync(), reference![i]![1].dataSync());
        assert.ok(
          diff <= 1e-4,
          `${kinds[k + 1]} vs ${kinds[0]}, ${name}: max abs difference ${diff}`,
        );
      });
    });
    // Every model actually trained: the weights moved far more than the tolerance, moving statistics included.
    const initial = createNetwork({ placement, seed: 11 });
    for (const [name, variable] of namedVariables(initial)) {
      const travel = maxAbsDiff(
        variable.dataSync(),
        reference!.find(([n]) => n === name)![1].dataSync(),
      );
      if (name.endsWith('kernel') || name.includes('moving'))
        assert.ok(travel > 1e-3, `${name} moved only ${travel}`);
    }
    disposeNetwork(initial);
    models.forEach(disposeNetwork);
  });
}
