import * as tf from '@tensorflow/tfjs';

/**
 * What replaces batch norm where batch statistics fail, each as a function of one [batch,
 * features] tensor: LayerNorm and GroupNorm normalize each example over its own features,
 * so they have no batch statistics and no phase; Batch Renormalization keeps batch norm's
 * moving statistics but corrects every batch towards them.
 */

/**
 * LayerNorm (Ba et al., 2016): each row normalized with its own mean and variance over the
 * features, then scaled and shifted: y = gamma * (x - mean_row) / sqrt(var_row + eps) + beta.
 */
export function layerNorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-3,
): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, 1, true);
  return x.sub(mean).div(variance.add(epsilon).sqrt()).mul(gamma).add(beta);
}

/**
 * GroupNorm (Wu and He, 2018): the features of each row split into `groups` equal groups, each
 * normalized with its own mean and variance. One group is LayerNorm.
 */
export function groupNorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
  epsilon = 1e-3,
): tf.Tensor2D {
  const [rows, features] = x.shape;
  if (features % groups !== 0)
    throw new Error(`${features} features do not split into ${groups} equal groups`);
  const grouped = tf.reshape(x, [rows, groups, features / groups]);
  const { mean, variance } = tf.moments(grouped, 2, true);
  const normalized = grouped.sub(mean).div(variance.add(epsilon).sqrt());
  return (normalized.reshape([rows, features]) as tf.Tensor2D).mul(gamma).add(beta);
}

/**
 * GroupNorm on a feature map [batch, height, width, channels], as Wu and He define it for
 * convolutions: each example's channels split into `groups`, each group normalized over its
 * channels and every position; gamma and beta per channel. One group is LayerNorm on the map.
 */
export function groupNormMap(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  groups: number,
  epsilon = 1e-3,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new Error(`${c} channels do not split into ${groups} equal groups`);
  const grouped = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 3], true);
  const normalized = grouped.sub(mean).div(variance.add(epsilon).sqrt());
  return (normalized.reshape([n, h, w, c]) as tf.Tensor4D).mul(gamma).add(beta);
}

/** Stops the gradient: the identity forward, zero backward (TensorFlow's stop_gradient). */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor;
    return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  },
) as (x: tf.Tensor) => tf.Tensor;

/** Batch Renorm's limits on its two corrections; (1, 0) is plain batch norm. */
export interface RenormLimits {
  rMax: number;
  dMax: number;
}

/**
 * Batch Renormalization (Ioffe, 2017), training phase. It normalizes with the batch statistics,
 * then corrects towards the moving ones with r = sigma_B / sigma and d = (mu_B - mu) / sigma,
 * clipped to [1/rMax, rMax] and [-dMax, dMax] and treated as constants by the gradient:
 *   y = gamma * ((x - mu_B) / sigma_B * r + d) + beta.
 * Unclipped, that is (x - mu) / sigma: the inference-phase output, whatever the batch.
 */
export function batchRenorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  moving: { mean: tf.Tensor1D; variance: tf.Tensor1D },
  limits: RenormLimits,
  epsilon = 1e-3,
): { y: tf.Tensor2D; batch: { mean: tf.Tensor1D; variance: tf.Tensor1D } } {
  const { mean, variance } = tf.moments(x, 0);
  const sigmaBatch = variance.add(epsilon).sqrt();
  const sigma = moving.variance.add(epsilon).sqrt();
  const r = stopGradient(sigmaBatch.div(sigma).clipByValue(1 / limits.rMax, limits.rMax));
  const d = stopGradient(mean.sub(moving.mean).div(sigma).clipByValue(-limits.dMax, limits.dMax));
  const xHat = x.sub(mean).div(sigmaBatch).mul(r).add(d);
  return {
    y: xHat.mul(gamma).add(beta),
    batch: { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D },
  };
}
