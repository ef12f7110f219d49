import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { disposeDeviceSplit, toDevice, type TrainTest } from '../src/data/device-split.js';
import { loadMnist } from '../src/data/mnist.js';
import type { Split } from '../src/data/mnist-format.js';
import { IMAGE_SIZE } from '../src/data/mnist-format.js';
import { runPlayground } from '../src/playground/run.js';
import {
  DEFAULT_SETTINGS,
  EXPLANATIONS,
  type PlaygroundSettings,
} from '../src/playground/settings.js';
import { setUpBackend } from './helpers.js';

// The playground tells its readers how to replay notebooks 05 and 06 (EXPLANATIONS). This runs
// those replays with the page's own code (runPlayground) on the page's own digits (the small
// source's first 4,000 training and 1,000 test digits, build-playground's defaults), so that
// the page promises only what its settings show.

const first = (split: Split, count: number): Split => ({
  count,
  images: split.images.subarray(0, count * IMAGE_SIZE),
  labels: split.labels.subarray(0, count),
});

let data: TrainTest;
before(async () => {
  await setUpBackend();
  const mnist = loadMnist('small', 0);
  data = { train: toDevice(first(mnist.train, 4000)), test: toDevice(first(mnist.test, 1000)) };
});
after(() => {
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
});

async function accuracies(settings: Partial<PlaygroundSettings>): Promise<Record<string, number>> {
  const runs = await runPlayground({ ...DEFAULT_SETTINGS, ...settings }, data);
  return Object.fromEntries(runs.map((run) => [run.placement, run.finalTestAccuracy]));
}

test("notebook 05's learning-rate finding replays: BN leads at 0.01; at 2 the plain network fails and BN trains", async (t) => {
  assert.match(EXPLANATIONS.learningRate.text, /train all three models at 0\.01, then at 2/);
  const slow = await accuracies({ learningRate: 0.01 });
  const fast = await accuracies({ learningRate: 2 });
  t.diagnostic(`rate 0.01: ${JSON.stringify(slow)}; rate 2: ${JSON.stringify(fast)}`);
  for (const placement of ['pre', 'post']) {
    assert.ok(slow[placement]! - slow['none']! > 0.02, `rate 0.01, ${placement}`);
    assert.ok(fast[placement]! > 0.8, `rate 2, ${placement}: ${fast[placement]}`);
  }
  assert.ok(fast['none']! < 0.3, `rate 2, no BN: ${fast['none']}`);
});

test("notebook 06's small-batch finding replays: at batch 2 BatchNorm falls behind, GroupNorm does not", async (t) => {
  assert.match(
    EXPLANATIONS.normalization.text,
    /set the batch size to 2 and the epochs to 1, and train once with BatchNorm and once with GroupNorm/,
  );
  const small = { batchSize: 2, epochs: 1 };
  const batch = await accuracies({ ...small, normalization: 'batch' });
  const group = await accuracies({ ...small, normalization: 'group', placements: ['pre', 'post'] });
  t.diagnostic(`batch 2: BatchNorm ${JSON.stringify(batch)}; GroupNorm ${JSON.stringify(group)}`);
  for (const placement of ['pre', 'post']) {
    assert.ok(batch['none']! - batch[placement]! > 0.05, `BatchNorm ${placement}`);
    assert.ok(group[placement]! - batch[placement]! > 0.05, `GroupNorm ${placement}`);
  }
});
