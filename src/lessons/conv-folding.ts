import * as tf from '@tensorflow/tfjs';
import { IMAGE_SHAPE } from '../nn/conv.js';
import { IMAGE_SIZE } from '../data/mnist-format.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { statisticsStream, type Network } from '../nn/network.js';
import { foldBatchNorm, foldedLogits, type FoldedLayer } from './deployment.js';

// Notebook 08: batch norm folded into the convolutions of a LeNet, for deployment.

/** One convolution of a folded network: conv, bias, ReLU, 2 x 2 max-pool. */
export interface FoldedConv {
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D;
  padding: 'same' | 'valid';
}

export interface FoldedNetwork {
  conv: FoldedConv[];
  dense: FoldedLayer[];
}

/**
 * A convolutional network's inference phase with no normalization left. Batch norm right after
 * a convolution is y = a x + c per output channel, so it folds into the kernel's output
 * channels: W' = W a (the last axis scaled), b' = a b + c. After the ReLU it would sit before a
 * max-pool, which commutes with it only where a > 0, and before a zero-padded convolution, whose
 * padding it would shift: that placement is refused.
 */
export function foldConvNetwork(network: Network, stream = DEFAULT_STREAM): FoldedNetwork {
  if (network.placement === 'post' && network.conv.length > 0)
    throw new Error(
      'batch norm after the ReLU sits before a max-pool and a padded convolution: it does not fold there',
    );
  const conv = tf.tidy(() =>
    network.conv.map((layer) => {
      let kernel: tf.Tensor4D = layer.conv.kernel;
      let bias: tf.Tensor1D = layer.conv.bias;
      if (layer.norm) {
        if (!layer.norm.affine)
          throw new Error(`${network.normalization} is no affine map at inference: it cannot fold`);
        const { a, c } = layer.norm.affine(statisticsStream(network, stream));
        kernel = tf.mul(kernel, a);
        bias = tf.add(tf.mul(bias, a), c);
      }
      // Fresh copies outlive the tidy; what was made on the way is freed.
      return { kernel: tf.clone(kernel), bias: tf.clone(bias), padding: layer.conv.padding };
    }),
  );
  return { conv, dense: foldBatchNorm(network, stream) };
}

/** Logits of a folded network: fused conv + ReLU kernels and pools, then the dense layers. */
export function foldedNetworkLogits(folded: FoldedNetwork, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    if (folded.conv.length === 0) return foldedLogits(folded.dense, x);
    let map = tf.reshape(x, [x.shape[0], ...IMAGE_SHAPE]) as tf.Tensor4D;
    for (const { kernel, bias, padding } of folded.conv) {
      const convolved = tf.fused.conv2d({
        x: map,
        filter: kernel,
        strides: 1,
        pad: padding,
        bias,
        activation: 'relu',
      });
      map = tf.maxPool(convolved, 2, 2, 'valid');
    }
    return foldedLogits(folded.dense, tf.reshape(map, [x.shape[0], -1]) as tf.Tensor2D);
  });
}

/**
 * The folded network as a standard tf.layers model (784 pixels in, 10 logits out), ready to
 * save; without convolutions it is dense layers only, as notebook 06 deploys.
 */
export function foldedNetworkModel(folded: FoldedNetwork): tf.Sequential {
  const model = tf.sequential();
  const convolutional = folded.conv.length > 0;
  if (convolutional)
    model.add(tf.layers.reshape({ targetShape: [...IMAGE_SHAPE], inputShape: [IMAGE_SIZE] }));
  for (const { kernel, bias, padding } of folded.conv) {
    const [kernelSize, , , filters] = kernel.shape;
    const layer = tf.layers.conv2d({ filters, kernelSize, padding, activation: 'relu' });
    model.add(layer);
    layer.setWeights([kernel, bias]);
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  }
  if (convolutional) model.add(tf.layers.flatten());
  folded.dense.forEach(({ kernel, bias, relu }, i) => {
    const inputShape = i === 0 && !convolutional ? [IMAGE_SIZE] : undefined;
    const activation = relu ? 'relu' : 'linear';
    const layer = tf.layers.dense({ units: bias.shape[0], activation, inputShape });
    model.add(layer);
    layer.setWeights([kernel, bias]);
  });
  return model;
}

export function disposeFoldedNetwork(folded: FoldedNetwork): void {
  for (const layer of [...folded.conv, ...folded.dense]) tf.dispose([layer.kernel, layer.bias]);
}
