import type * as tf from '@tensorflow/tfjs';
import type { Phase } from './batchnorm-state.js';

/**
 * What every normalization layer offers the network and the training steps. A new
 * normalization implements this and registers one entry (normalizations.ts); the forward pass
 * is all the autodiff step needs, and the optional parts open the other paths to it.
 */

/** The stream whose statistics a batch uses when the network keeps only one set. */
export const DEFAULT_STREAM = 'default';

/** Where a forward pass runs: the phase, and whose moving statistics apply. */
export interface NormContext {
  phase: Phase;
  /** A name from the layer's streams; DEFAULT_STREAM (the default) where statistics are shared. */
  stream?: string;
}

/** The guide's batch norm as TensorFlow's fused kernels take it: what the graph, fused and tf.layers steps need. */
export interface FusedKernelParams {
  gamma: tf.Variable<tf.Rank.R1>;
  beta: tf.Variable<tf.Rank.R1>;
  movingMean: tf.Variable<tf.Rank.R1>;
  movingVariance: tf.Variable<tf.Rank.R1>;
  decay: number;
  epsilon: number;
}

export interface NormLayer {
  /** The registry's name for it ('batch', 'layer', ...). */
  readonly kind: string;
  /** What SGD updates, in a fixed order: gamma, then beta. */
  readonly trainable: tf.Variable[];
  /** Every variable, named within the layer ('gamma', 'moving_mean', ...). */
  readonly variables: ReadonlyArray<readonly [string, tf.Variable]>;
  /**
   * Normalizes x [batch, features]. A training-phase pass also returns what `update` and
   * `backward` need; nothing is written.
   */
  forward(x: tf.Tensor2D, context: NormContext): { y: tf.Tensor2D; saved?: unknown };
  /**
   * The same normalization on a feature map [batch, height, width, channels] after a
   * convolution, with one gamma and beta per channel (absent: it cannot follow a convolution).
   * Its `saved` feeds `update` as the dense form's does.
   */
  forwardMap?(x: tf.Tensor4D, context: NormContext): { y: tf.Tensor4D; saved?: unknown };
  /** The update op: folds a training-phase pass into the moving statistics (absent: none kept). */
  update?(saved: unknown, stream?: string): void;
  /** Backward of a training-phase pass, derived by hand: dx, and the gradients of `trainable`. */
  backward?(dy: tf.Tensor2D, saved: unknown): { dx: tf.Tensor2D; grads: tf.Tensor1D[] };
  /** The inference phase as y = a x + c per feature, which folds into a dense layer. */
  affine?(stream?: string): { a: tf.Tensor1D; c: tf.Tensor1D };
  /** The layer in TensorFlow's fused batch-norm terms; only batch norm with one stream has it. */
  fusedKernel?(): FusedKernelParams;
  dispose(): void;
}

/** Settings a normalization may read; each entry uses the ones it needs. */
export interface NormSettings {
  decay: number;
  epsilon: number;
  /** Streams that keep moving statistics of their own; [DEFAULT_STREAM] shares one set. */
  streams: string[];
  /** Learn gamma and beta (default true each). */
  scale?: boolean;
  center?: boolean;
  /** GroupNorm: groups per layer. */
  groups?: number;
  /** Batch Renorm: steps over which its corrections open from (1, 0) to their limits. */
  renormWarmup?: number;
  /** The run's seed and the layer's number (from 1), for normalizations that draw random numbers. */
  seed: number;
  layer: number;
}

/** One registry entry: a name, a label for figures, and a factory. */
export interface NormalizationEntry {
  kind: string;
  label: string;
  /** The variable scope of its layers: 'bn' gives names like 'layer1/bn/gamma'. */
  scope: string;
  create(units: number, settings: NormSettings): NormLayer;
}
