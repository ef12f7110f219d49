import * as tf from '@tensorflow/tfjs';
import {
  batchNorm,
  batchNormBackward,
  type BatchNormCache,
  type BatchNormParams,
} from './batchnorm-closed-form.js';
import { type Phase } from './batchnorm-state.js';

/** Where a hidden layer puts batch norm relative to its ReLU. */
export const PLACEMENTS = ['none', 'pre', 'post'] as const;
export type Placement = (typeof PLACEMENTS)[number];

export const PLACEMENT_LABELS: Record<Placement, string> = {
  none: 'no BN',
  pre: 'BN before ReLU',
  post: 'BN after ReLU',
};

export interface DenseParams {
  kernel: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

/**
 * Glorot-uniform kernel and zero bias, as `tf.contrib.layers.fully_connected` started them;
 * `scale` multiplies the kernel.
 */
export function createDenseParams(
  inputs: number,
  units: number,
  seed: number,
  scale = 1,
): DenseParams {
  const init = tf.initializers.glorotUniform({ seed });
  // tidy frees the initial values; variables survive it.
  return tf.tidy(() => ({
    kernel: tf.variable(tf.mul(init.apply([inputs, units]), scale) as tf.Tensor2D, true),
    bias: tf.variable(tf.zeros([units]) as tf.Tensor1D, true),
  }));
}

/** x W + b, optionally followed by ReLU, as one fused kernel. */
export function dense(
  x: tf.Tensor2D,
  params: DenseParams,
  activation: 'linear' | 'relu' = 'linear',
): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: params.kernel, bias: params.bias, activation }) as tf.Tensor2D;
}

/** Gradients of x W + b: the weights' always, the input's only when a layer below needs it. */
export function denseBackward(
  dz: tf.Tensor2D,
  x: tf.Tensor2D,
  params: DenseParams,
  needInputGradient: boolean,
): { dx?: tf.Tensor2D; dKernel: tf.Tensor2D; dBias: tf.Tensor1D } {
  return {
    dKernel: tf.matMul(x, dz, true, false) as tf.Tensor2D,
    dBias: tf.sum(dz, 0) as tf.Tensor1D,
    dx: needInputGradient ? (tf.matMul(dz, params.kernel, false, true) as tf.Tensor2D) : undefined,
  };
}

/** ReLU's gradient: dy where the output is positive. sign(relu(z)) is that 0/1 mask in one kernel. */
export function reluBackward(dy: tf.Tensor2D, reluOutput: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(dy, tf.sign(reluOutput));
}

export interface HiddenLayerParams {
  dense: DenseParams;
  /** Absent when the placement is 'none'. */
  bn?: BatchNormParams;
}

/** What a hidden block keeps from its forward pass for the backward pass. */
export interface HiddenLayerCache {
  input: tf.Tensor2D;
  /** The ReLU's output, whose sign masks the gradient. */
  activated: tf.Tensor2D;
  /** Present in the training phase for the BN placements. */
  bn?: BatchNormCache;
}

/**
 * The guide's hidden block. 'pre': dense -> BN -> ReLU; 'post': dense -> ReLU -> BN;
 * 'none': dense -> ReLU. The phase decides which statistics BN normalizes with.
 */
export function denseBatchRelu(
  x: tf.Tensor2D,
  layer: HiddenLayerParams,
  placement: Placement,
  phase: Phase,
): { y: tf.Tensor2D; cache: HiddenLayerCache } {
  if (placement === 'none' || !layer.bn) {
    const activated = dense(x, layer.dense, 'relu');
    return { y: activated, cache: { input: x, activated } };
  }
  if (placement === 'pre') {
    const normalized = batchNorm(dense(x, layer.dense), layer.bn, phase);
    const activated = tf.relu(normalized.y) as tf.Tensor2D;
    return { y: activated, cache: { input: x, activated, bn: normalized.cache } };
  }
  const activated = dense(x, layer.dense, 'relu');
  const normalized = batchNorm(activated, layer.bn, phase);
  return { y: normalized.y, cache: { input: x, activated, bn: normalized.cache } };
}

export interface HiddenLayerGradients {
  dKernel: tf.Tensor2D;
  dBias: tf.Tensor1D;
  dGamma?: tf.Tensor1D;
  dBeta?: tf.Tensor1D;
}

/** Backward pass of `denseBatchRelu` (training phase), undoing its steps in reverse order. */
export function denseBatchReluBackward(
  dy: tf.Tensor2D,
  layer: HiddenLayerParams,
  placement: Placement,
  cache: HiddenLayerCache,
  needInputGradient: boolean,
): { dx?: tf.Tensor2D; grads: HiddenLayerGradients } {
  if (placement === 'none' || !layer.bn) {
    const { dx, dKernel, dBias } = denseBackward(
      reluBackward(dy, cache.activated),
      cache.input,
      layer.dense,
      needInputGradient,
    );
    return { dx, grads: { dKernel, dBias } };
  }
  if (!cache.bn) throw new Error('backward needs a training-phase forward pass');
  const bnInputGrad = placement === 'pre' ? reluBackward(dy, cache.activated) : dy;
  const bn = batchNormBackward(bnInputGrad, cache.bn, layer.bn.gamma);
  const dz = placement === 'pre' ? bn.dx : reluBackward(bn.dx, cache.activated);
  const { dx, dKernel, dBias } = denseBackward(dz, cache.input, layer.dense, needInputGradient);
  return { dx, grads: { dKernel, dBias, dGamma: bn.dGamma, dBeta: bn.dBeta } };
}
