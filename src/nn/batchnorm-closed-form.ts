import * as tf from '@tensorflow/tfjs';
import {
  createMovingStatistics,
  createScaleAndShift,
  GUIDE_DECAY,
  GUIDE_EPSILON,
  type BatchStats,
  type MovingStatistics,
  type Phase,
} from './batchnorm-state.js';

/**
 * Batch norm as functions, with its backward pass derived by hand (closed form) rather than
 * by autodiff: what the lean step and the MLP run.
 */

export interface BatchNormParams {
  /** Learned scale (trainable). */
  gamma: tf.Variable<tf.Rank.R1>;
  /** Learned shift (trainable). */
  beta: tf.Variable<tf.Rank.R1>;
  /** Estimate of the population mean, updated only by the training step. */
  movingMean: tf.Variable<tf.Rank.R1>;
  /** Estimate of the population (biased) variance, updated only by the training step. */
  movingVariance: tf.Variable<tf.Rank.R1>;
  decay: number;
  epsilon: number;
}

/** What the backward pass needs from a training-phase forward pass. */
export interface BatchNormCache {
  stats: BatchStats;
  /** The normalized input, (x - mean) / sqrt(var + eps). */
  xHat: tf.Tensor2D;
  invStd: tf.Tensor1D;
}

export function createBatchNormParams(
  units: number,
  decay = GUIDE_DECAY,
  epsilon = GUIDE_EPSILON,
): BatchNormParams {
  const { gamma, beta } = createScaleAndShift(units);
  const moving = createMovingStatistics(units);
  return {
    gamma: gamma!,
    beta: beta!,
    movingMean: moving.mean,
    movingVariance: moving.variance,
    decay,
    epsilon,
  };
}

/** Normalizes with the batch's own statistics: y = gamma * (x - mean) / sqrt(var + eps) + beta. */
export function normalizeWithBatchStats(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor2D; cache: BatchNormCache } {
  const mean = tf.mean(x, 0) as tf.Tensor1D;
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), 0) as tf.Tensor1D;
  const invStd = tf.rsqrt(tf.add(variance, epsilon)) as tf.Tensor1D;
  const xHat = tf.mul(centered, invStd) as tf.Tensor2D;
  const y = tf.add(tf.mul(xHat, gamma), beta) as tf.Tensor2D;
  return { y, cache: { stats: { mean, variance }, xHat, invStd } };
}

/**
 * The batch-norm gradient in closed form. The batch statistics depend on every row of x,
 * which is where the two correction terms come from:
 *   dBeta = sum(dy), dGamma = sum(dy * xHat),
 *   dx = gamma / sqrt(var + eps) / n * (n * dy - dBeta - xHat * dGamma).
 */
export function batchNormBackward(
  dy: tf.Tensor2D,
  cache: BatchNormCache,
  gamma: tf.Tensor1D,
): { dx: tf.Tensor2D; dGamma: tf.Tensor1D; dBeta: tf.Tensor1D } {
  const n = dy.shape[0];
  const dBeta = tf.sum(dy, 0) as tf.Tensor1D;
  const dGamma = tf.sum(tf.mul(dy, cache.xHat), 0) as tf.Tensor1D;
  const inner = tf.sub(tf.sub(tf.mul(dy, n), dBeta), tf.mul(cache.xHat, dGamma));
  const dx = tf.mul(inner, tf.mul(gamma, tf.div(cache.invStd, n))) as tf.Tensor2D;
  return { dx, dGamma, dBeta };
}

/** Normalizes with the moving (population) statistics: the inference path. */
export function normalizeWithMovingStats(x: tf.Tensor2D, bn: BatchNormParams): tf.Tensor2D {
  return tf.batchNorm(
    x,
    bn.movingMean,
    bn.movingVariance,
    bn.beta,
    bn.gamma,
    bn.epsilon,
  ) as tf.Tensor2D;
}

/** Applies batch norm in the given phase; in training it also returns what backward needs. */
export function batchNorm(
  x: tf.Tensor2D,
  bn: BatchNormParams,
  phase: Phase,
): { y: tf.Tensor2D; cache?: BatchNormCache } {
  if (phase === 'training') return normalizeWithBatchStats(x, bn.gamma, bn.beta, bn.epsilon);
  return { y: normalizeWithMovingStats(x, bn) };
}

/** A layer's moving statistics, as the update op (`updateMovingAverages`) takes them. */
export function movingStatistics(bn: BatchNormParams): MovingStatistics {
  return { mean: bn.movingMean, variance: bn.movingVariance };
}

export function disposeBatchNormParams(bn: BatchNormParams): void {
  tf.dispose([bn.gamma, bn.beta, bn.movingMean, bn.movingVariance]);
}
