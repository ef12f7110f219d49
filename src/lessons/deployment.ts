import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import { IMAGE_SIZE } from '../data/mnist-format.js';
import type { BatchNormCache } from '../nn/batchnorm-closed-form.js';
import { BatchNormLayer } from '../nn/batchnorm-layer.js';
import { updateMovingAverages } from '../nn/batchnorm-state.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { forward, statisticsStream, type Network } from '../nn/network.js';

// Notebook 06: batch norm after training. Recalibrating the moving statistics, and folding the
// inference phase into the dense layers for deployment.

/**
 * Writes the training set's own statistics into every normalization's moving averages: one
 * training-phase pass over the whole split, in which each layer normalizes with the statistics
 * of the layers below it, then the update op with decay 0 (the average becomes the value).
 */
export function recalibrateMovingStatistics(network: Network, split: DeviceSplit): void {
  tf.tidy(() => {
    const { cache } = forward(network, split.x, 'training');
    const caches = [...cache.conv, ...cache.hidden];
    [...network.conv, ...network.hidden].forEach((layer, i) => {
      const saved = caches[i]!.saved as BatchNormCache | undefined;
      if (layer.norm instanceof BatchNormLayer && saved)
        updateMovingAverages(layer.norm.statisticsOf(cache.stream), saved.stats, 0);
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
 * The inference phase of a normalized network as plain dense layers. A normalization with
 * moving statistics is an affine map per feature at inference, y = a x + c (batch norm:
 * a = gamma / sqrt(var + eps), c = beta - a * mean), and an affine map next to a dense layer
 * folds into it:
 * - after its dense layer (before the ReLU): W' = W a (column by column), b' = a b + c;
 * - after the ReLU, it precedes the next dense layer: W' = a W (row by row), b' = c W + b.
 */
export function foldBatchNorm(network: Network, stream = DEFAULT_STREAM): FoldedLayer[] {
  return tf.tidy(() => {
    // An affine map still waiting for the next dense layer (normalization after a ReLU).
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
    const layers: FoldedLayer[] = network.hidden.map((layer) => {
      let { kernel, bias } = takeIn(layer.dense.kernel, layer.dense.bias);
      network.layout.forEach((stage, k) => {
        if (stage !== 'norm') return;
        if (!layer.norm?.affine)
          throw new Error(`${network.normalization} is no affine map at inference: it cannot fold`);
        const { a, c } = layer.norm.affine(statisticsStream(network, stream));
        if (network.layout[k - 1] === 'dense') {
          kernel = tf.mul(kernel, a) as tf.Tensor2D;
          bias = tf.add(tf.mul(bias, a), c) as tf.Tensor1D;
        } else pending = { a, c };
      });
      return { kernel, bias, relu: true };
    });
    layers.push({ ...takeIn(network.logits.kernel, network.logits.bias), relu: false });
    // The folded weights outlive the tidy (as fresh copies); everything made on the way is freed.
    return layers.map((layer) => ({
      ...layer,
      kernel: tf.clone(layer.kernel),
      bias: tf.clone(layer.bias),
    }));
  });
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
