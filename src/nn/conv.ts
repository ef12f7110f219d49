import * as tf from '@tensorflow/tfjs';
import { activate, type Activation, type Stage } from './layers.js';
import type { NormContext, NormLayer } from './norm-layer.js';

/**
 * The convolutional front of the one network: blocks of a convolution, the normalization where
 * the placement puts it, a ReLU and a 2 x 2 max-pool, on feature maps laid out NHWC (batch,
 * height, width, channels), TensorFlow's default. A block walks the same layout as a dense
 * block: its 'dense' stage is the convolution, the block's weights.
 */

/** MNIST's images as feature maps: 28 x 28 pixels, one channel. */
export const IMAGE_SHAPE = [28, 28, 1] as const;

export interface ConvSpec {
  /** Output channels. */
  filters: number;
  /** Side of the square kernel. */
  kernelSize: number;
  /** 'same' keeps the map's size; 'valid' (the default, LeNet's) shrinks it by kernelSize - 1. */
  padding?: 'same' | 'valid';
}

/** LeNet's two blocks (LeCun et al., 1998), as d2l's batch-norm chapter builds them, with ReLU. */
export const LENET_CONV: readonly ConvSpec[] = [
  { filters: 6, kernelSize: 5, padding: 'same' },
  { filters: 16, kernelSize: 5, padding: 'valid' },
];
/** LeNet's dense layers after the convolutions. */
export const LENET_DENSE = [120, 84];

export interface ConvParams {
  /** [kernelSize, kernelSize, in channels, filters] */
  kernel: tf.Variable<tf.Rank.R4>;
  bias: tf.Variable<tf.Rank.R1>;
  padding: 'same' | 'valid';
}

export interface ConvLayer {
  conv: ConvParams;
  /** Absent in the plain network. */
  norm?: NormLayer;
}

export function checkConvSpec(spec: ConvSpec): void {
  const { filters, kernelSize, padding = 'valid' } = spec;
  if (
    !Number.isInteger(filters) ||
    filters <= 0 ||
    !Number.isInteger(kernelSize) ||
    kernelSize <= 0
  )
    throw new Error(
      `a convolution needs positive integer filters and kernelSize, got ${filters} and ${kernelSize}`,
    );
  if (padding !== 'same' && padding !== 'valid')
    throw new Error(`padding must be 'same' or 'valid', got '${String(padding)}'`);
}

/** Glorot-uniform kernel (fans counted over the receptive field, as tf.layers.conv2d does) and zero bias. */
export function createConvParams(
  spec: ConvSpec,
  inChannels: number,
  seed: number,
  scale = 1,
): ConvParams {
  checkConvSpec(spec);
  const { filters, kernelSize, padding = 'valid' } = spec;
  const init = tf.initializers.glorotUniform({ seed });
  return tf.tidy(() => ({
    kernel: tf.variable(
      tf.mul(init.apply([kernelSize, kernelSize, inChannels, filters]), scale) as tf.Tensor4D,
      true,
    ),
    bias: tf.variable(tf.zeros([filters]) as tf.Tensor1D, true),
    padding,
  }));
}

/** The feature map's side after one block: the convolution's padding, then the 2 x 2 pool. */
export function mapSideAfter(side: number, spec: ConvSpec): number {
  const convolved = (spec.padding ?? 'valid') === 'same' ? side : side - spec.kernelSize + 1;
  if (convolved < 2)
    throw new Error(
      `a ${spec.kernelSize} x ${spec.kernelSize} kernel leaves no map from ${side} x ${side}`,
    );
  return Math.floor(convolved / 2);
}

/** What a convolutional block keeps from a training-phase pass: its normalization's saved state. */
export interface ConvBlockCache {
  saved?: unknown;
}

/**
 * One convolutional block on x [batch, height, width, channels]: the layout's stages (a ReLU
 * right after the convolution runs inside its kernel), then the max-pool.
 */
export function convBlock(
  x: tf.Tensor4D,
  layer: ConvLayer,
  layout: readonly Stage[],
  context: NormContext,
  activation: Activation = 'relu',
): { y: tf.Tensor4D; cache: ConvBlockCache } {
  const cache: ConvBlockCache = {};
  let h = x;
  const fusesRelu = (k: number) => activation === 'relu' && layout[k] === 'dense';
  layout.forEach((stage, k) => {
    if (stage === 'dense') {
      const { kernel, bias, padding } = layer.conv;
      const fused = layout[k + 1] === 'relu' && fusesRelu(k) ? 'relu' : 'linear';
      h = tf.fused.conv2d({
        x: h,
        filter: kernel,
        strides: 1,
        pad: padding,
        bias,
        activation: fused,
      });
    } else if (stage === 'relu') {
      if (!fusesRelu(k - 1)) h = activate(h, activation);
    } else {
      const norm = layer.norm!;
      if (!norm.forwardMap)
        throw new Error(
          `${norm.kind} has no form for feature maps, so it cannot follow a convolution`,
        );
      const out = norm.forwardMap(h, context);
      h = out.y;
      cache.saved = out.saved;
    }
  });
  return { y: tf.maxPool(h, 2, 2, 'valid'), cache };
}

/**
 * Batch norm on a feature map, per channel: statistics over the batch and every position
 * (N, H and W). Rows of the map reshaped to [N H W, C] are exactly those sets, so a layer
 * written for [batch, features] normalizes a map through this reshape unchanged.
 */
export function perChannel<Saved>(
  x: tf.Tensor4D,
  normalize: (rows: tf.Tensor2D) => { y: tf.Tensor2D; saved?: Saved },
): { y: tf.Tensor4D; saved?: Saved } {
  const [n, h, w, c] = x.shape;
  const out = normalize(tf.reshape(x, [n * h * w, c]));
  return { y: tf.reshape(out.y, [n, h, w, c]), saved: out.saved };
}

/** The spec a built layer was made from. */
export function convSpecOf(layer: ConvLayer): ConvSpec {
  const [kernelSize, , , filters] = layer.conv.kernel.shape;
  return { filters, kernelSize, padding: layer.conv.padding };
}

export function disposeConvLayer(layer: ConvLayer): void {
  tf.dispose([layer.conv.kernel, layer.conv.bias]);
  layer.norm?.dispose();
}
