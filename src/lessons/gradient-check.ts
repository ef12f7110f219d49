import * as tf from '@tensorflow/tfjs';
import { batchNormBackward, normalizeWithBatchStats } from '../nn/batchnorm-closed-form.js';
import { seededRandom } from '../runtime/random.js';
import { AutodiffBatchNorm } from '../nn/batchnorm-autodiff.js';

type Matrix = number[][];

/** Batch norm in double precision, for finite differences free of float32 rounding. */
function batchNormForward64(x: Matrix, gamma: number[], beta: number[], epsilon: number): Matrix {
  const n = x.length;
  const mean = gamma.map((_, j) => x.reduce((s, row) => s + row[j]!, 0) / n);
  const variance = gamma.map((_, j) => x.reduce((s, row) => s + (row[j]! - mean[j]!) ** 2, 0) / n);
  return x.map((row) =>
    row.map((v, j) => (gamma[j]! * (v - mean[j]!)) / Math.sqrt(variance[j]! + epsilon) + beta[j]!),
  );
}

export interface GradientErrors {
  /** max |analytic - numeric| / max |numeric|, per input. */
  dx: number;
  dGamma: number;
  dBeta: number;
}

export interface GradientCheck {
  /** The trainer's closed-form batch-norm gradient. */
  closedForm: GradientErrors;
  /** tfjs autodiff through the from-scratch AutodiffBatchNorm (tf.moments + tf.batchNorm). */
  autodiff: GradientErrors;
}

/**
 * Checks batch norm's gradients against central finite differences of
 * loss = sum(w * BN(x)) for a random x, gamma, beta and w.
 */
export function batchNormGradientCheck(
  options: { rows?: number; units?: number; seed?: number; epsilon?: number; step?: number } = {},
): GradientCheck {
  const { rows = 8, units = 5, seed = 0, epsilon = 1e-3, step = 1e-5 } = options;
  const random = seededRandom(`gradcheck-${seed}`);
  const matrix = (scale: number, shift = 0) =>
    Array.from({ length: rows }, () =>
      Array.from({ length: units }, () => shift + scale * (random() - 0.5)),
    );
  const x = matrix(4, 1);
  const w = matrix(2);
  const gamma = Array.from({ length: units }, () => 0.5 + random());
  const beta = Array.from({ length: units }, () => random() - 0.5);
  const loss = (xs: Matrix, g: number[], b: number[]) =>
    batchNormForward64(xs, g, b, epsilon).reduce(
      (s, row, i) => s + row.reduce((t, v, j) => t + v * w[i]![j]!, 0),
      0,
    );

  const numericDx = x
    .map((row, i) =>
      row.map((_, j) => {
        const plus = x.map((r) => [...r]);
        const minus = x.map((r) => [...r]);
        plus[i]![j]! += step;
        minus[i]![j]! -= step;
        return (loss(plus, gamma, beta) - loss(minus, gamma, beta)) / (2 * step);
      }),
    )
    .flat();
  const numericVector = (values: number[], which: 'gamma' | 'beta') =>
    values.map((_, j) => {
      const plus = [...values];
      const minus = [...values];
      plus[j]! += step;
      minus[j]! -= step;
      const f = (v: number[]) => (which === 'gamma' ? loss(x, v, beta) : loss(x, gamma, v));
      return (f(plus) - f(minus)) / (2 * step);
    });
  const numeric = {
    dx: numericDx,
    dGamma: numericVector(gamma, 'gamma'),
    dBeta: numericVector(beta, 'beta'),
  };

  const relative = (analytic: ArrayLike<number>, reference: number[]) => {
    let diff = 0;
    let scale = 0;
    reference.forEach((r, i) => {
      diff = Math.max(diff, Math.abs(analytic[i]! - r));
      scale = Math.max(scale, Math.abs(r));
    });
    return diff / scale;
  };
  const errors = (
    dx: ArrayLike<number>,
    dGamma: ArrayLike<number>,
    dBeta: ArrayLike<number>,
  ): GradientErrors => ({
    dx: relative(dx, numeric.dx),
    dGamma: relative(dGamma, numeric.dGamma),
    dBeta: relative(dBeta, numeric.dBeta),
  });

  const read = (tensors: tf.Tensor[]): GradientErrors => {
    const [dx, dGamma, dBeta] = tensors.map((t) => t.dataSync());
    tf.dispose(tensors);
    return errors(dx!, dGamma!, dBeta!);
  };
  const closedForm = read(
    tf.tidy(() => {
      const g = tf.tensor1d(gamma);
      const { cache } = normalizeWithBatchStats(tf.tensor2d(x), g, tf.tensor1d(beta), epsilon);
      const grads = batchNormBackward(tf.tensor2d(w), cache, g);
      return [grads.dx, grads.dGamma, grads.dBeta];
    }),
  );

  const layer = new AutodiffBatchNorm({ units, epsilon });
  tf.tidy(() => {
    layer.gamma!.assign(tf.tensor1d(gamma));
    layer.beta!.assign(tf.tensor1d(beta));
  });
  const autodiff = read(
    tf.tidy(() => {
      const xt = tf.tensor2d(x);
      const wt = tf.tensor2d(w);
      const dx = tf.grad((input: tf.Tensor) =>
        tf.sum(tf.mul(layer.apply(input as tf.Tensor2D, 'training').y, wt)),
      )(xt);
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(xt, 'training').y, wt)) as tf.Scalar,
        layer.trainableVariables,
      );
      return [dx, grads[layer.gamma!.name]!, grads[layer.beta!.name]!];
    }),
  );
  layer.dispose();
  return { closedForm, autodiff };
}
