import * as tf from '@tensorflow/tfjs';
import { batchNorm, type BatchNormParams, type BatchStats, type Phase } from './batchnorm.js';

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

/** Glorot-uniform kernel and zero bias, as `tf.contrib.layers.fully_connected` started them. */
export function createDenseParams(inputs: number, units: number, seed: number): DenseParams {
  const init = tf.initializers.glorotUniform({ seed });
  // tidy frees the initial values; variables survive it.
  return tf.tidy(() => ({
    kernel: tf.variable(init.apply([inputs, units]) as tf.Tensor2D, true),
    bias: tf.variable(tf.zeros([units]) as tf.Tensor1D, true),
  }));
}

/** x W + b with no activation, as one fused kernel. */
export function dense(x: tf.Tensor2D, params: DenseParams): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: params.kernel, bias: params.bias }) as tf.Tensor2D;
}

export interface HiddenLayerParams {
  dense: DenseParams;
  /** Absent when the placement is 'none'. */
  bn?: BatchNormParams;
}

/**
 * The guide's hidden block. 'pre': dense -> BN -> ReLU; 'post': dense -> ReLU -> BN;
 * 'none': dense -> ReLU. In training it also returns the batch statistics it normalized with.
 */
export function denseBatchRelu(
  x: tf.Tensor2D,
  layer: HiddenLayerParams,
  placement: Placement,
  phase: Phase,
): { y: tf.Tensor2D; stats?: BatchStats } {
  if (placement === 'none' || !layer.bn) {
    return { y: tf.fused.matMul({ a: x, b: layer.dense.kernel, bias: layer.dense.bias, activation: 'relu' }) as tf.Tensor2D };
  }
  if (placement === 'pre') {
    const { y, stats } = batchNorm(dense(x, layer.dense), layer.bn, phase);
    return { y: tf.relu(y) as tf.Tensor2D, stats };
  }
  const activated = tf.fused.matMul({ a: x, b: layer.dense.kernel, bias: layer.dense.bias, activation: 'relu' }) as tf.Tensor2D;
  return batchNorm(activated, layer.bn, phase);
}
