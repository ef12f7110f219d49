import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { hasNativeBinding } from './helpers.js';

// tfjs-node 4.22 calls util.isNullOrUndefined, which Node 23 removed. Deleting it here makes
// any Node look like Node 23+; --throw-deprecation turns Node 22's warnings into failures.
const SCRIPT = `
import util from 'node:util';
delete util.isNullOrUndefined;
const { useBackend, tf } = await import('./src/runtime/index.ts');
const { nativeOps } = await import('./src/train/native-ops.ts');
const active = await useBackend('tensorflow');
const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync();
// Products the size of the guide's layers, through both of TensorFlow's matrix-product paths.
const product = tf.matMul(tf.ones([100, 784]), tf.ones([784, 100])).dataSync()[0];
const fusedProduct = tf.fused.matMul({ a: tf.ones([100, 784]), b: tf.ones([784, 100]), bias: tf.ones([100]), activation: 'relu' }).dataSync()[0];
const top = tf.topk(tf.tensor1d([3, 9, 1]), 2);
const ops = nativeOps();
const bn = ops.fusedBatchNorm(
  tf.tensor4d([1, 3], [2, 1, 1, 1]), tf.ones([1]), tf.zeros([1]), tf.zeros([1]), tf.ones([1]),
  { epsilon: 0, training: true },
);
console.log(JSON.stringify({
  backend: active.name,
  sum: [...sum],
  top: [...top.values.dataSync()],
  normalized: [...bn.y.dataSync()],
  products: [product, fusedProduct],
  onednn: process.env.TF_ENABLE_ONEDNN_OPTS,
}));
`;

test(
  'native TensorFlow runs ops on a Node without util.isNullOrUndefined, with no deprecation and no oneDNN',
  { skip: !hasNativeBinding() && 'tfjs-node is not installed here' },
  () => {
    const child = spawnSync(
      process.execPath,
      ['--throw-deprecation', '--import', 'tsx', '--input-type=module', '-e', SCRIPT],
      {
        encoding: 'utf8',
        timeout: 120_000,
        // oneDNN announces itself and each of its calls with this set.
        env: {
          ...process.env,
          ONEDNN_VERBOSE: 'all',
          TF_ENABLE_ONEDNN_OPTS: '',
          TENSORFLOW_USE_CUSTOM_CONTRACTION_KERNEL: '',
        },
      },
    );
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(out['backend'], 'tensorflow');
    assert.deepEqual(out['sum'], [4, 6]);
    assert.deepEqual(out['top'], [9, 3]);
    // Mean 2 and biased variance 1 over the batch: (1 - 2) / 1 and (3 - 2) / 1.
    assert.deepEqual(out['normalized'], [-1, 1]);
    assert.deepEqual(out['products'], [784, 785]);
    // An empty value counts as unset: the project's default applies.
    assert.equal(out['onednn'], '0');
    assert.doesNotMatch(child.stderr, /DeprecationWarning|DEP00/);
    // oneDNN's JIT sgemm corrupts the heap when a signal lands in it (src/runtime/native-env.ts).
    assert.doesNotMatch(child.stdout + child.stderr, /onednn_verbose/, 'no oneDNN code ran');
  },
);
