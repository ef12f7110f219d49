import * as tf from '@tensorflow/tfjs';

/** Where a hidden block puts its normalization relative to its ReLU: the guide's three models. */
export const PLACEMENTS = ['none', 'pre', 'post'] as const;
export type Placement = (typeof PLACEMENTS)[number];

/**
 * The stages a hidden block is made of. The 'relu' stage applies the network's activation:
 * ReLU, the guide's, unless the network asks for tanh (notebook 09's deep networks).
 */
export type Stage = 'dense' | 'norm' | 'relu';

export const ACTIVATIONS = ['relu', 'tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/**
 * Each placement as data: a hidden block's stages in order. Every path that runs the network
 * (forward, backward, the fused kernels, the graph, folding) walks these instead of asking
 * which placement it has.
 */
export const BLOCK_LAYOUTS: Record<Placement, readonly Stage[]> = {
  none: ['dense', 'relu'],
  pre: ['dense', 'norm', 'relu'],
  post: ['dense', 'relu', 'norm'],
};

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

/** The activation's gradient from its output: ReLU's mask, or tanh's 1 - tanh(z)^2. */
export function activationBackward(
  dy: tf.Tensor2D,
  output: tf.Tensor2D,
  activation: Activation,
): tf.Tensor2D {
  if (activation === 'relu') return reluBackward(dy, output);
  return tf.mul(dy, tf.sub(1, tf.square(output)));
}

/** The activation on its own (ReLU usually runs fused into the dense kernel instead). */
export function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  return activation === 'relu' ? tf.relu(x) : tf.tanh(x);
}
