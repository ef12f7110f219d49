import * as tf from '@tensorflow/tfjs';

/**
 * What every batch-norm implementation shares (the layer, Batch Renorm, the notebooks' own):
 * the guide's settings, the phase flag, the initial values, and the one moving-average update
 * that only a training step may run.
 */

/**
 * The guide's batch-norm settings: TensorFlow's defaults for `tf.contrib.layers.batch_norm`.
 * tfjs layers default to momentum 0.99, which forgets the initial statistics 10x faster.
 */
export const GUIDE_DECAY = 0.999;
export const GUIDE_EPSILON = 1e-3;

/** Training (batch statistics) or inference (moving statistics): the guide's `phase` flag. */
export type Phase = 'training' | 'inference';

/** Mean and biased variance over the batch axis, one value per feature. */
export interface BatchStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Estimates of the population mean and (biased) variance, written only by the update below. */
export interface MovingStatistics {
  mean: tf.Variable<tf.Rank.R1>;
  variance: tf.Variable<tf.Rank.R1>;
}

/** Moving statistics start at mean 0 and variance 1: inference normalizes nothing at first. */
export function createMovingStatistics(units: number): MovingStatistics {
  // tidy frees the initial values; variables survive it.
  return tf.tidy(() => ({
    mean: tf.variable(tf.zeros([units]) as tf.Tensor1D, false),
    variance: tf.variable(tf.ones([units]) as tf.Tensor1D, false),
  }));
}

/** The learned scale gamma starts at 1 and the shift beta at 0: the identity after normalizing. */
export function createScaleAndShift(
  units: number,
  which: { scale?: boolean; center?: boolean } = {},
): { gamma?: tf.Variable<tf.Rank.R1>; beta?: tf.Variable<tf.Rank.R1> } {
  const { scale = true, center = true } = which;
  return tf.tidy(() => ({
    gamma: scale ? tf.variable(tf.ones([units]) as tf.Tensor1D, true) : undefined,
    beta: center ? tf.variable(tf.zeros([units]) as tf.Tensor1D, true) : undefined,
  }));
}

/**
 * The update op: moving = decay * moving + (1 - decay) * batch, for mean and variance,
 * written as moving + (1 - decay) * (batch - moving).
 */
export function updateMovingAverages(
  moving: MovingStatistics,
  batch: BatchStats,
  decay: number,
): void {
  tf.tidy(() => {
    const rate = 1 - decay;
    moving.mean.assign(moving.mean.add(batch.mean.sub(moving.mean).mul(rate)));
    moving.variance.assign(moving.variance.add(batch.variance.sub(moving.variance).mul(rate)));
  });
}
