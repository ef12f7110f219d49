import * as tf from '@tensorflow/tfjs';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { forward, trainableVariables, updateOps, type Network } from '../nn/network.js';
import { crossEntropy } from './metrics.js';

/**
 * One SGD step with gradients from autodiff: the step for any normalization, since it needs
 * nothing from a layer but its forward pass. The update ops run on the same forward pass.
 */
export function autodiffStep(
  network: Network,
  learningRate: number,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  updateAverages = true,
  stream = DEFAULT_STREAM,
): void {
  tf.tidy(() => {
    const variables = trainableVariables(network);
    const { grads } = tf.variableGrads(() => {
      const { logits, cache } = forward(network, x, 'training', stream);
      if (updateAverages) for (const update of updateOps(network, cache)) update();
      return crossEntropy(logits, y);
    }, variables);
    for (const variable of variables)
      variable.assign(tf.sub(variable, tf.mul(grads[variable.name]!, learningRate)));
  });
}
