import * as tf from '@tensorflow/tfjs';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { backward, forward, updateOps, type Network } from '../nn/network.js';
import { applySgdSteps, type Sgd } from './sgd.js';

/**
 * The lean step, composed of tfjs ops that every backend has, in the guide's order:
 * 1. forward in the training phase;
 * 2. the update ops (the counterpart of `tf.control_dependencies(update_ops)`: no other code
 *    path moves the moving averages);
 * 3. backpropagation, written out layer by layer;
 * 4. the SGD update of every trainable variable (with weight decay on the kernels, if set).
 */
export function leanStep(
  network: Network,
  sgd: Sgd,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  updateAverages = true,
  stream = DEFAULT_STREAM,
): void {
  tf.tidy(() => {
    const { logits, cache } = forward(network, x, 'training', stream);
    if (updateAverages) for (const update of updateOps(network, cache)) update();
    // The mean cross-entropy's gradient at the logits is (softmax - y) / m, for m examples.
    // Backprop is linear in what it starts from, so starting it from -learningRate times that
    // gradient makes it return each variable's SGD step, and each update a single add.
    const stepAtLogits = tf.mul(
      tf.sub(tf.softmax(logits), y),
      -sgd.learningRate / x.shape[0],
    ) as tf.Tensor2D;
    applySgdSteps(network, backward(network, cache, stepAtLogits), sgd);
  });
}
