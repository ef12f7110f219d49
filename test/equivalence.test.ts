import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../src/data/batches.js';
import { loadMnist } from '../src/data/mnist.js';
import { PLACEMENTS } from '../src/nn/layers.js';
import { createModel, disposeModel, namedVariables } from '../src/nn/mlp.js';
import { copyWeightsToLayersModel, createLayersModel, layersModelVariables, layersTrainingStep } from '../src/train/layers-step.js';
import { disposeDeviceSplit, gatherBatch, toDevice, type DeviceSplit } from '../src/data/device-split.js';
import { leanStep } from '../src/train/lean-step.js';
import { maxAbsDiff, setUpBackend } from './helpers.js';

let train: DeviceSplit;
before(async () => {
  await setUpBackend();
  train = toDevice(loadMnist('small', 0).train);
});
after(() => disposeDeviceSplit(train));

for (const placement of PLACEMENTS) {
  test(`lean step and tf.layers autodiff step agree after 50 steps (${placement})`, () => {
    const lean = createModel({ placement, seed: 11 });
    const reference = createLayersModel(placement);
    copyWeightsToLayersModel(lean, reference);
    const referenceOptimizer = tf.train.sgd(0.01);
    const sampler = new BatchSampler(train.count, 100, 'equivalence');
    for (let step = 0; step < 50; step++) {
      const { x, y } = gatherBatch(train, sampler.nextBatch());
      leanStep(lean, 0.01, x, y);
      layersTrainingStep(reference, referenceOptimizer, x, y);
      tf.dispose([x, y]);
    }
    const ours = namedVariables(lean);
    const theirs = layersModelVariables(reference);
    assert.equal(ours.length, theirs.length);
    let moved = 0;
    ours.forEach(([name, variable], i) => {
      const diff = maxAbsDiff(variable.dataSync(), theirs[i]!.dataSync());
      assert.ok(diff <= 1e-4, `${name}: max abs difference ${diff}`);
      moved = Math.max(moved, diff);
    });
    // Both actually trained: the weights moved far more than the tolerance.
    const initial = createModel({ placement, seed: 11 });
    const travel = maxAbsDiff(initial.logits.kernel.dataSync(), lean.logits.kernel.dataSync());
    assert.ok(travel > 1e-2, `logits kernel moved ${travel}`);
    disposeModel(initial);
    disposeModel(lean);
    reference.dispose();
    referenceOptimizer.dispose();
  });
}
