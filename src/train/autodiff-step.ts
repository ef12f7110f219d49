import * as tf from '@tensorflow/tfjs';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { forward, trainableVariables, updateOps, type Network } from '../nn/network.js';
import { crossEntropy } from './metrics.js';
import { applySgdSteps, type Sgd } from './sgd.js';

/**
 * One SGD step with gradients from autodiff: the step for any normalization, since it needs
 * nothing from a layer but its forward pass. The update ops run on the same forward pass.
 */
export function autodiffStep(
  network: Network,
  sgd: Sgd,
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
    const steps = variables.map((v) => tf.mul(grads[v.name]!, -sgd.learningRate));
    applySgdSteps(network, steps, sgd);
  });
}
