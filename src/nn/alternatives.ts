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
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gamma), beta);
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
  const normalized = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(tf.reshape(normalized, [rows, features]), gamma), beta);
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
  const normalized = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(tf.reshape(normalized, [n, h, w, c]), gamma), beta);
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
  const sigmaBatch = tf.sqrt(tf.add(variance, epsilon));
  const sigma = tf.sqrt(tf.add(moving.variance, epsilon));
  const r = stopGradient(tf.clipByValue(tf.div(sigmaBatch, sigma), 1 / limits.rMax, limits.rMax));
  const d = stopGradient(
    tf.clipByValue(tf.div(tf.sub(mean, moving.mean), sigma), -limits.dMax, limits.dMax),
  );
  const xHat = tf.add(tf.mul(tf.div(tf.sub(x, mean), sigmaBatch), r), d);
  return {
    y: tf.add(tf.mul(xHat, gamma), beta) as tf.Tensor2D,
    batch: { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D },
  };
}
