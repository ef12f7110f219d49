import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import { IMAGE_SIZE } from '../data/mnist-format.js';
import { movingStatistics } from '../nn/batchnorm-closed-form.js';
import { updateMovingAverages } from '../nn/batchnorm-state.js';
import { forward, type Mlp } from '../nn/mlp.js';

// Notebook 06: batch norm after training. Recalibrating the moving statistics, and folding the
// inference phase into the dense layers for deployment.

/**
 * Writes the training set's own statistics into every batch-norm layer's moving averages: one
 * training-phase pass over the whole split, in which each layer normalizes with the statistics
 * of the layers below it, then the update op with decay 0 (the average becomes the value).
 */
export function recalibrateMovingStatistics(model: Mlp, split: DeviceSplit): void {
  tf.tidy(() => {
    const { cache } = forward(model, split.x, 'training');
    model.hidden.forEach((layer, i) => {
      const stats = cache.hidden[i]!.bn?.stats;
      if (layer.bn && stats) updateMovingAverages(movingStatistics(layer.bn), stats, 0);
    });
  });
}

/** One dense layer of a folded network: x W + b, then a ReLU or not. */
export interface FoldedLayer {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  relu: boolean;
}

/**
 * The inference phase of a batch-norm MLP as plain dense layers. Batch norm with moving
 * statistics is an affine map per feature, y = a x + c with a = gamma / sqrt(var + eps) and
 * c = beta - a * mean, and an affine map next to a dense layer folds into it:
 * - BN before the ReLU follows its dense layer: W' = W a (column by column), b' = a b + c;
 * - BN after the ReLU precedes the next dense layer: W' = a W (row by row), b' = c W + b.
 */
export function foldBatchNorm(model: Mlp): FoldedLayer[] {
  const folded: FoldedLayer[] = [];
  tf.tidy(() => {
    const layers: FoldedLayer[] = [];
    // An affine map still waiting for the next dense layer (BN after a ReLU).
    let pending: { a: tf.Tensor1D; c: tf.Tensor1D } | undefined;
    const takeIn = (kernel: tf.Tensor2D, bias: tf.Tensor1D) => {
      if (!pending) return { kernel, bias };
      const { a, c } = pending;
      pending = undefined;
      return {
        kernel: tf.mul(kernel, tf.reshape(a, [-1, 1])) as tf.Tensor2D,
        bias: tf.add(tf.squeeze(tf.matMul(tf.reshape(c, [1, -1]), kernel)), bias) as tf.Tensor1D,
      };
    };
    for (const layer of model.hidden) {
      let { kernel, bias } = takeIn(layer.dense.kernel, layer.dense.bias);
      const bn = layer.bn;
      if (bn) {
        const a = tf.div(bn.gamma, tf.sqrt(tf.add(bn.movingVariance, bn.epsilon))) as tf.Tensor1D;
        const c = tf.sub(bn.beta, tf.mul(a, bn.movingMean)) as tf.Tensor1D;
        if (model.placement === 'pre') {
          kernel = tf.mul(kernel, a) as tf.Tensor2D;
          bias = tf.add(tf.mul(bias, a), c) as tf.Tensor1D;
        } else pending = { a, c };
      }
      layers.push({ kernel, bias, relu: true });
    }
    layers.push({ ...takeIn(model.logits.kernel, model.logits.bias), relu: false });
    // The folded weights outlive the tidy; everything made on the way is freed.
    for (const layer of layers)
      folded.push({
        kernel: tf.keep(tf.clone(layer.kernel)),
        bias: tf.keep(tf.clone(layer.bias)),
        relu: layer.relu,
      });
  });
  return folded;
}

/** Logits of the folded layers: what a deployed model computes, one fused kernel per layer. */
export function foldedLogits(layers: FoldedLayer[], x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() =>
    layers.reduce(
      (h, layer) =>
        tf.fused.matMul({
          a: h,
          b: layer.kernel,
          bias: layer.bias,
          activation: layer.relu ? 'relu' : 'linear',
        }) as tf.Tensor2D,
      x,
    ),
  );
}

/** The folded layers as a standard tf.layers model, ready for `model.save` and `tf.loadLayersModel`. */
export function foldedLayersModel(layers: FoldedLayer[]): tf.Sequential {
  const model = tf.sequential();
  layers.forEach((layer, i) =>
    model.add(
      tf.layers.dense({
        units: layer.bias.shape[0],
        inputShape: i === 0 ? [IMAGE_SIZE] : undefined,
        activation: layer.relu ? 'relu' : 'linear',
      }),
    ),
  );
  model.layers.forEach((dense, i) => dense.setWeights([layers[i]!.kernel, layers[i]!.bias]));
  return model;
}
