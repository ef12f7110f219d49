import * as tf from '@tensorflow/tfjs';
import { batchNormBackward, normalizeWithBatchStats } from '../nn/batchnorm-closed-form.js';
import { BatchNormLayer } from '../nn/batchnorm-layer.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { seededRandom } from '../runtime/random.js';

// Notebook 02: batch norm's gradients against finite differences of a double-precision forward.

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
  /** The lean step's closed-form batch-norm gradient. */
  closedForm: GradientErrors;
  /** tfjs autodiff through the batch-norm layer's forward pass, as the autodiff step runs it. */
  autodiff: GradientErrors;
}

/** A random problem: loss = sum(w * BN(x)) for random x, gamma, beta and w. */
interface Problem {
  x: Matrix;
  w: Matrix;
  gamma: number[];
  beta: number[];
  epsilon: number;
}

function randomProblem(rows: number, units: number, seed: number, epsilon: number): Problem {
  const random = seededRandom(`gradcheck-${seed}`);
  const matrix = (scale: number, shift = 0) =>
    Array.from({ length: rows }, () =>
      Array.from({ length: units }, () => shift + scale * (random() - 0.5)),
    );
  const x = matrix(4, 1);
  const w = matrix(2);
  const gamma = Array.from({ length: units }, () => 0.5 + random());
  const beta = Array.from({ length: units }, () => random() - 0.5);
  return { x, w, gamma, beta, epsilon };
}

/** Central finite differences of the double-precision loss, for x, gamma and beta. */
function numericGradients(p: Problem, step: number): Record<keyof GradientErrors, number[]> {
  const loss = (x: Matrix, gamma: number[], beta: number[]) =>
    batchNormForward64(x, gamma, beta, p.epsilon).reduce(
      (s, row, i) => s + row.reduce((t, v, j) => t + v * p.w[i]![j]!, 0),
      0,
    );
  /** d loss / d values[j], moving one value at a time. */
  const along = (values: number[], f: (moved: number[]) => number) =>
    values.map((_, j) => {
      const [plus, minus] = [[...values], [...values]];
      plus[j]! += step;
      minus[j]! -= step;
      return (f(plus) - f(minus)) / (2 * step);
    });
  const columns = p.x[0]!.length;
  const unflatten = (flat: number[]) =>
    p.x.map((_, i) => flat.slice(i * columns, (i + 1) * columns));
  return {
    dx: along(p.x.flat(), (moved) => loss(unflatten(moved), p.gamma, p.beta)),
    dGamma: along(p.gamma, (moved) => loss(p.x, moved, p.beta)),
    dBeta: along(p.beta, (moved) => loss(p.x, p.gamma, moved)),
  };
}

/** Relative errors of analytic gradients (read from tensors, which are freed) against numeric ones. */
function relativeErrors(
  tensors: [tf.Tensor, tf.Tensor, tf.Tensor],
  numeric: Record<keyof GradientErrors, number[]>,
): GradientErrors {
  const [dx, dGamma, dBeta] = tensors.map((t) => t.dataSync());
  tf.dispose(tensors);
  const relative = (analytic: ArrayLike<number>, reference: number[]) => {
    let diff = 0;
    let scale = 0;
    reference.forEach((r, i) => {
      diff = Math.max(diff, Math.abs(analytic[i]! - r));
      scale = Math.max(scale, Math.abs(r));
    });
    return diff / scale;
  };
  return {
    dx: relative(dx!, numeric.dx),
    dGamma: relative(dGamma!, numeric.dGamma),
    dBeta: relative(dBeta!, numeric.dBeta),
  };
}

/** dx, dGamma, dBeta from autodiff through the batch-norm layer's training-phase forward pass. */
function autodiffGradients(p: Problem): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const layer = new BatchNormLayer(p.gamma.length, { decay: 0.99, epsilon: p.epsilon });
  try {
    return tf.tidy(() => {
      layer.gamma!.assign(tf.tensor1d(p.gamma));
      layer.beta!.assign(tf.tensor1d(p.beta));
      const [xt, wt] = [tf.tensor2d(p.x), tf.tensor2d(p.w)];
      const context = { phase: 'training' as const, stream: DEFAULT_STREAM };
      const loss = (input: tf.Tensor) =>
        tf.sum(tf.mul(layer.forward(input as tf.Tensor2D, context).y, wt)) as tf.Scalar;
      const dx = tf.grad(loss)(xt);
      const { grads } = tf.variableGrads(() => loss(xt), layer.trainable);
      return [dx, grads[layer.gamma!.name]!, grads[layer.beta!.name]!];
    });
  } finally {
    layer.dispose();
  }
}

/**
 * Checks batch norm's gradients against central finite differences of
 * loss = sum(w * BN(x)) for a random x, gamma, beta and w.
 */
export function batchNormGradientCheck(
  options: { rows?: number; units?: number; seed?: number; epsilon?: number; step?: number } = {},
): GradientCheck {
  const { rows = 8, units = 5, seed = 0, epsilon = 1e-3, step = 1e-5 } = options;
  const problem = randomProblem(rows, units, seed, epsilon);
  const numeric = numericGradients(problem, step);
  const closedForm = tf.tidy(() => {
    const gamma = tf.tensor1d(problem.gamma);
    const { cache } = normalizeWithBatchStats(
      tf.tensor2d(problem.x),
      gamma,
      tf.tensor1d(problem.beta),
      epsilon,
    );
    const grads = batchNormBackward(tf.tensor2d(problem.w), cache, gamma);
    return [grads.dx, grads.dGamma, grads.dBeta] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
  return {
    closedForm: relativeErrors(closedForm, numeric),
    autodiff: relativeErrors(autodiffGradients(problem), numeric),
  };
}
