import * as tf from '@tensorflow/tfjs';
import type { BatchStats } from './batchnorm-state.js';

/**
 * Batch norm's training phase as two functions: the forward pass with the batch's own
 * statistics, and its backward pass derived by hand (closed form) rather than by autodiff.
 * Both are built from differentiable tfjs ops, so autodiff can run through the forward too.
 */

/** What the backward pass needs from a training-phase forward pass. */
export interface BatchNormCache {
  stats: BatchStats;
  /** The normalized input, (x - mean) / sqrt(var + eps). */
  xHat: tf.Tensor2D;
  invStd: tf.Tensor1D;
}

/**
 * Normalizes with the batch's own statistics: y = gamma * (x - mean) / sqrt(var + eps) + beta.
 * Without gamma (beta) the scale (shift) is left out.
 */
export function normalizeWithBatchStats(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D | undefined,
  beta: tf.Tensor1D | undefined,
  epsilon: number,
): { y: tf.Tensor2D; cache: BatchNormCache } {
  const mean = tf.mean(x, 0) as tf.Tensor1D;
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), 0) as tf.Tensor1D;
  const invStd = tf.rsqrt(tf.add(variance, epsilon)) as tf.Tensor1D;
  const xHat = tf.mul(centered, invStd) as tf.Tensor2D;
  const scaled = gamma ? tf.mul(xHat, gamma) : xHat;
  const y = (beta ? tf.add(scaled, beta) : scaled) as tf.Tensor2D;
  return { y, cache: { stats: { mean, variance }, xHat, invStd } };
}

/**
 * The batch-norm gradient in closed form, for a batch of m rows. The batch statistics depend on
 * every row of x, which is where the two correction terms come from:
 *   dBeta = sum(dy), dGamma = sum(dy * xHat),
 *   dx = gamma / sqrt(var + eps) / m * (m * dy - dBeta - xHat * dGamma).
 */
export function batchNormBackward(
  dy: tf.Tensor2D,
  cache: BatchNormCache,
  gamma: tf.Tensor1D | undefined,
): { dx: tf.Tensor2D; dGamma: tf.Tensor1D; dBeta: tf.Tensor1D } {
  const m = dy.shape[0];
  const dBeta = tf.sum(dy, 0) as tf.Tensor1D;
  const dGamma = tf.sum(tf.mul(dy, cache.xHat), 0) as tf.Tensor1D;
  const inner = dy.mul(m).sub(dBeta).sub(cache.xHat.mul(dGamma));
  const perFeature = tf.div(cache.invStd, m);
  const dx = tf.mul(inner, gamma ? tf.mul(gamma, perFeature) : perFeature) as tf.Tensor2D;
  return { dx, dGamma, dBeta };
}
