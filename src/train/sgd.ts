import * as tf from '@tensorflow/tfjs';
import { kernelVariables, trainableVariables, type Network } from '../nn/network.js';

/**
 * Plain SGD's settings. With weight decay λ (L2 on the kernels, not on biases, gamma or beta),
 * each step is W <- W - η (g + λ W) = (1 - η λ) W - η g.
 */
export interface Sgd {
  learningRate: number;
  weightDecay?: number;
}

/**
 * Applies one SGD step to every trainable variable: `steps[i]` is -η times the gradient of
 * `trainableVariables(network)[i]`; the kernels also shrink by the factor 1 - η λ.
 */
export function applySgdSteps(network: Network, steps: tf.Tensor[], sgd: Sgd): void {
  const { learningRate, weightDecay = 0 } = sgd;
  const shrink = 1 - learningRate * weightDecay;
  const decayed = new Set<tf.Variable>(weightDecay > 0 ? kernelVariables(network) : []);
  tf.tidy(() =>
    trainableVariables(network).forEach((variable, i) => {
      const kept = decayed.has(variable) ? tf.mul(variable, shrink) : variable;
      variable.assign(tf.add(kept, steps[i]!));
    }),
  );
}
