import * as tf from '@tensorflow/tfjs';
import { trainableVariables, variableOf, type Network } from '../nn/network.js';
import { lossAndGradients } from './landscape.js';

// Notebook 05: Karpathy's update-to-data ratio (makemore part 3), how large one SGD step is
// against the weights it changes, layer by layer.

/** The kernels whose ratios are reported, from the input up. */
export const RATIO_KERNELS = ['layer1/dense/kernel', 'layer2/dense/kernel', 'logits/kernel'];

/**
 * log10 of std(learningRate * gradient) / std(kernel) for each of `kernels` (by default
 * `RATIO_KERNELS`), with the
 * gradient of one batch: the size of the update an SGD step on that batch makes to a layer,
 * against the size of the layer's weights.
 */
export function updateToDataRatios(
  network: Network,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  learningRate: number,
  kernels: readonly string[] = RATIO_KERNELS,
): number[] {
  const variables = trainableVariables(network);
  const { loss, gradients } = lossAndGradients(network, x, y);
  const std = (t: tf.Tensor) => tf.moments(t).variance.sqrt().dataSync()[0]!;
  const ratios = tf.tidy(() =>
    kernels.map((name) => {
      const kernel = variableOf(network, name);
      const gradient = gradients[variables.indexOf(kernel)]!;
      return Math.log10((learningRate * std(gradient)) / std(kernel));
    }),
  );
  tf.dispose([loss, ...gradients]);
  return ratios;
}
