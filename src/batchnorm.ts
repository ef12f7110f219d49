import * as tf from '@tensorflow/tfjs';

/**
 * The guide's batch-norm settings: TensorFlow's defaults for `tf.contrib.layers.batch_norm`.
 * tfjs layers default to momentum 0.99, which forgets the initial statistics 10x faster.
 */
export const GUIDE_DECAY = 0.999;
export const GUIDE_EPSILON = 1e-3;

/** Training (batch statistics) or inference (moving statistics): the guide's `phase` flag. */
export type Phase = 'training' | 'inference';

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

/** Mean and biased variance over the batch axis, one value per feature. */
export interface BatchStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

export function createBatchNormParams(units: number, decay = GUIDE_DECAY, epsilon = GUIDE_EPSILON): BatchNormParams {
  // tidy frees the initial values; variables survive it.
  return tf.tidy(() => ({
    gamma: tf.variable(tf.ones([units]) as tf.Tensor1D, true),
    beta: tf.variable(tf.zeros([units]) as tf.Tensor1D, true),
    movingMean: tf.variable(tf.zeros([units]) as tf.Tensor1D, false),
    movingVariance: tf.variable(tf.ones([units]) as tf.Tensor1D, false),
    decay,
    epsilon,
  }));
}

/**
 * Normalizes with the batch's own statistics: y = gamma * (x - mean) / sqrt(var + eps) + beta.
 * The backward pass is the closed-form batch-norm gradient rather than autodiff through
 * `tf.moments`, which takes a third of the kernels. The batch statistics come back too,
 * for the moving-average update the caller may (or may not) apply.
 */
export function normalizeWithBatchStats(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor2D; stats: BatchStats } {
  // Computed outside the custom op so they live in the caller's scope; the gradient
  // below already accounts for how they depend on x.
  const { mean, variance } = tf.moments(x, 0) as { mean: tf.Tensor1D; variance: tf.Tensor1D };
  const op = tf.customGrad(((input: tf.Tensor2D, scale: tf.Tensor1D, shift: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xHat = tf.mul(tf.sub(input, mean), invStd);
    save([xHat, tf.mul(scale, invStd)]);
    return {
      value: tf.add(tf.mul(xHat, scale), shift),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xHat, scaledInvStd] = saved as [tf.Tensor2D, tf.Tensor1D];
        const n = input.shape[0];
        const dBeta = tf.sum(dy, 0);
        const dGamma = tf.sum(tf.mul(dy, xHat), 0);
        // dx = gamma / sqrt(var + eps) * (dy - mean(dy) - xHat * mean(dy * xHat))
        const centered = tf.sub(dy, tf.add(tf.div(dBeta, n), tf.mul(xHat, tf.div(dGamma, n))));
        return [tf.mul(centered, scaledInvStd), dGamma, dBeta];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return { y: op(x, gamma, beta) as tf.Tensor2D, stats: { mean, variance } };
}

/** Normalizes with the moving (population) statistics: the inference path. */
export function normalizeWithMovingStats(x: tf.Tensor2D, bn: BatchNormParams): tf.Tensor2D {
  return tf.batchNorm(x, bn.movingMean, bn.movingVariance, bn.beta, bn.gamma, bn.epsilon) as tf.Tensor2D;
}

/** Applies batch norm in the given phase; in training, also returns the batch statistics. */
export function batchNorm(x: tf.Tensor2D, bn: BatchNormParams, phase: Phase): { y: tf.Tensor2D; stats?: BatchStats } {
  if (phase === 'training') return normalizeWithBatchStats(x, bn.gamma, bn.beta, bn.epsilon);
  return { y: normalizeWithMovingStats(x, bn) };
}

/**
 * The update op: moving = decay * moving + (1 - decay) * batch, for mean and variance.
 * Only the training step calls it; evaluation in either phase never does.
 */
export function updateMovingAverages(bn: BatchNormParams, stats: BatchStats): void {
  tf.tidy(() => {
    const rate = 1 - bn.decay;
    bn.movingMean.assign(tf.add(bn.movingMean, tf.mul(tf.sub(stats.mean, bn.movingMean), rate)));
    bn.movingVariance.assign(tf.add(bn.movingVariance, tf.mul(tf.sub(stats.variance, bn.movingVariance), rate)));
  });
}

export function disposeBatchNormParams(bn: BatchNormParams): void {
  tf.dispose([bn.gamma, bn.beta, bn.movingMean, bn.movingVariance]);
}
