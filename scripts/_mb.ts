import * as tf from '@tensorflow/tfjs';
import { useBackend, backendFromEnv } from '../src/runtime/backend.js';
import { normalizeWithBatchStats, batchNormBackward } from '../src/nn/index.js';
await useBackend(backendFromEnv(), () => {});
const x = tf.randomNormal([78400, 6]) as tf.Tensor2D;
const g = tf.ones([6]) as tf.Tensor1D;
const b = tf.zeros([6]) as tf.Tensor1D;
const dy = tf.randomNormal([78400, 6]) as tf.Tensor2D;
const A = () =>
  tf.tidy(() => {
    const [dx] = tf.grads((x, g, b) =>
      normalizeWithBatchStats(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3)
        .y.mul(dy)
        .sum(),
    )([x, g, b]);
    return dx!.dataSync();
  });
const custom = tf.customGrad((x: any, g: any, b: any, save: any) => {
  const { y, cache } = normalizeWithBatchStats(x, g, b, 1e-3);
  return {
    value: y,
    gradFunc: (d: any) => {
      const r = batchNormBackward(d, cache, g);
      return [r.dx, r.dGamma, r.dBeta];
    },
  };
}) as any;
const B = () =>
  tf.tidy(() => {
    const [dx] = tf.grads((x, g, b) => (custom(x, g, b) as tf.Tensor).mul(dy).sum())([x, g, b]);
    return dx!.dataSync();
  });
const C = () =>
  tf.tidy(() => {
    const [dx] = tf.grads((x, g, b) => {
      const { mean, variance } = tf.moments(x, 0);
      return tf
        .batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3)
        .mul(dy)
        .sum();
    })([x, g, b]);
    return dx!.dataSync();
  });
const D = () =>
  tf.tidy(() => {
    const x4 = x.reshape([100, 28, 28, 6]);
    const [dx] = tf.grads((x) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf
        .batchNorm(x, mean, variance, b, g, 1e-3)
        .mul(dy.reshape([100, 28, 28, 6]))
        .sum();
    })([x4]);
    return dx!.dataSync();
  });
const conv = () =>
  tf.tidy(() => {
    const inp = tf.randomNormal([100, 28, 28, 1]) as tf.Tensor4D;
    const k = tf.randomNormal([5, 5, 1, 6]) as tf.Tensor4D;
    const [dk] = tf.grads((k) => tf.conv2d(inp, k as tf.Tensor4D, 1, 'same').sum())([k]);
    return dk!.dataSync();
  });
for (const [n, f] of [
  ['A autodiff closed', A],
  ['C moments+batchNorm', C],
  ['D 4d moments', D],
  ['conv1 grad', conv],
] as const) {
  f();
  f();
  const t = performance.now();
  for (let i = 0; i < 10; i++) f();
  console.log(n, ((performance.now() - t) / 10).toFixed(1), 'ms');
}
