import * as tf from '@tensorflow/tfjs';
import { backward, forward, trainableVariables, type Network } from '../nn/network.js';
import { crossEntropy } from '../train/metrics.js';

// Notebook 05: what batch norm does to the loss landscape, measured along the gradient as
// Santurkar et al. (2018) did, and the scale invariance it gives the weights in front of it.

/** The training-phase loss on one batch and its gradient at every trainable variable. */
export function lossAndGradients(
  network: Network,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
): { loss: tf.Scalar; gradients: tf.Tensor[] } {
  return tf.tidy(() => {
    const { logits, cache } = forward(network, x, 'training');
    // The mean cross-entropy's gradient at the logits; backward takes it from there.
    const dLogits = tf.div(tf.sub(tf.softmax(logits), y), x.shape[0]) as tf.Tensor2D;
    return { loss: crossEntropy(logits, y), gradients: backward(network, cache, dLogits) };
  });
}

/** Euclidean norm of a list of tensors taken as one vector. */
export function globalNorm(tensors: tf.Tensor[]): number {
  return tf.tidy(() => Math.sqrt(tf.addN(tensors.map((t) => tf.sum(tf.square(t)))).dataSync()[0]!));
}

export interface AlongGradient {
  /** Loss at w - eta * g for each step size eta. */
  losses: number[];
  /** |g(w - eta * g) - g(w)| for each step size: how well the gradient predicts itself. */
  gradientChanges: number[];
  /** max over eta of |g(w - eta * g) - g(w)| / |eta * g|: an effective beta-smoothness. */
  betaSmoothness: number;
}

/**
 * Santurkar et al.'s three measurements at the network's current weights w, on one batch: walk
 * along the gradient g by each step size, and see how the loss and the gradient change. The
 * network's variables are restored afterwards.
 */
export function measureAlongGradient(
  network: Network,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  stepSizes: number[],
): AlongGradient {
  const variables = trainableVariables(network);
  const saved = variables.map((v) => tf.clone(v));
  const base = lossAndGradients(network, x, y);
  const baseNorm = globalNorm(base.gradients);
  const result: AlongGradient = { losses: [], gradientChanges: [], betaSmoothness: 0 };
  try {
    for (const eta of stepSizes) {
      tf.tidy(() =>
        variables.forEach((v, i) => v.assign(tf.sub(saved[i]!, tf.mul(base.gradients[i]!, eta)))),
      );
      const moved = lossAndGradients(network, x, y);
      const change = tf.tidy(() => moved.gradients.map((g, i) => tf.sub(g, base.gradients[i]!)));
      const distance = globalNorm(change);
      result.losses.push(moved.loss.dataSync()[0]!);
      result.gradientChanges.push(distance);
      result.betaSmoothness = Math.max(result.betaSmoothness, distance / (eta * baseNorm));
      tf.dispose([moved.loss, ...moved.gradients, ...change]);
    }
  } finally {
    tf.tidy(() => variables.forEach((v, i) => v.assign(saved[i]!)));
    tf.dispose([...saved, base.loss, ...base.gradients]);
  }
  return result;
}
