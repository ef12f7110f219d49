import * as tf from '@tensorflow/tfjs';
import { nativeKernels, type NativeKernels, type OpAttr } from '../runtime/internals.js';

/**
 * TensorFlow's own kernels, called by name through tfjs-node's backend: the same door its
 * registered kernels use (runtime/internals.ts). Only the `tensorflow` backend (tfjs-node or
 * tfjs-node-gpu) has it; outputs are ordinary tfjs tensors, tracked by `tidy`.
 */

/** True when the active backend can run TensorFlow kernels by name. */
export function hasNativeOps(): boolean {
  return nativeKernels() !== undefined;
}

/** Batch-norm outputs of a training-phase `FusedBatchNormV3`. */
export interface FusedBatchNormOutputs {
  y: tf.Tensor4D;
  /** exponential_avg_factor * batch + (1 - factor) * running, per feature. */
  runningMean: tf.Tensor1D;
  /** The same average, but fed with the Bessel-corrected (n / (n - 1)) batch variance. */
  runningVariance: tf.Tensor1D;
  /** Opaque per-device values its gradient kernel needs (on CPU: mean, biased variance). */
  reserve: [tf.Tensor, tf.Tensor, tf.Tensor];
}

export class NativeOps {
  private readonly b: NativeKernels['codes'];
  private readonly float32: OpAttr;
  private readonly nhwc: OpAttr;
  private readonly matMulAttrs: OpAttr[][];

  constructor(private readonly kernels: NativeKernels) {
    this.b = kernels.codes;
    this.float32 = { name: 'T', type: this.b.attrType, value: this.b.float };
    this.nhwc = { name: 'data_format', type: this.b.attrString, value: 'NHWC' };
    // Indexed by transposeA * 2 + transposeB.
    this.matMulAttrs = [0, 1, 2, 3].map((flags) => [
      this.float32,
      { name: 'transpose_a', type: this.b.attrBool, value: flags >= 2 },
      { name: 'transpose_b', type: this.b.attrBool, value: flags % 2 === 1 },
    ]);
  }

  private one<T extends tf.Tensor>(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): T {
    return this.kernels.run(name, attrs, inputs, 1)[0] as T;
  }

  matMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
    return this.one('MatMul', this.matMulAttrs[Number(transposeA) * 2 + Number(transposeB)]!, [
      a,
      b,
    ]);
  }

  /** Adds a per-feature bias along the last axis. */
  biasAdd<T extends tf.Tensor>(x: T, bias: tf.Tensor1D): T {
    return this.one('BiasAdd', [this.float32, this.nhwc], [x, bias]);
  }

  /** The bias's gradient: the sum of dy over every axis but the last. */
  biasAddGrad(dy: tf.Tensor): tf.Tensor1D {
    return this.one('BiasAddGrad', [this.float32, this.nhwc], [dy]);
  }

  relu<T extends tf.Tensor>(x: T): T {
    return this.one('Relu', [this.float32], [x]);
  }

  /** dy where the ReLU's output (or input) is positive, 0 elsewhere. */
  reluGrad<T extends tf.Tensor>(dy: T, activated: T): T {
    return this.one('ReluGrad', [this.float32], [dy, activated]);
  }

  /** A new shape for the same values; `shape` is an int32 vector the caller keeps. */
  reshape<T extends tf.Tensor>(x: tf.Tensor, shape: tf.Tensor1D): T {
    return this.one(
      'Reshape',
      [this.float32, { name: 'Tshape', type: this.b.attrType, value: this.b.int32 }],
      [x, shape],
    );
  }

  mul<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
    return this.one('Mul', [this.float32], [a, b]);
  }

  add<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
    return this.one('AddV2', [this.float32], [a, b]);
  }

  /**
   * Batch norm over the channel axis of an NHWC tensor. In training it normalizes with the
   * batch's mean and biased variance, and folds them into running averages with `averagingFactor`;
   * in inference it normalizes with `mean` and `variance`.
   */
  fusedBatchNorm(
    x: tf.Tensor4D,
    gamma: tf.Tensor1D,
    beta: tf.Tensor1D,
    mean: tf.Tensor1D,
    variance: tf.Tensor1D,
    options: { epsilon: number; training: boolean; averagingFactor?: number },
  ): FusedBatchNormOutputs {
    const [y, runningMean, runningVariance, r1, r2, r3] = this.kernels.run(
      'FusedBatchNormV3',
      [
        this.float32,
        { name: 'U', type: this.b.attrType, value: this.b.float },
        { name: 'epsilon', type: this.b.attrFloat, value: options.epsilon },
        {
          name: 'exponential_avg_factor',
          type: this.b.attrFloat,
          value: options.averagingFactor ?? 1,
        },
        this.nhwc,
        { name: 'is_training', type: this.b.attrBool, value: options.training },
      ],
      [x, gamma, beta, mean, variance],
      6,
    );
    return {
      y: y as tf.Tensor4D,
      runningMean: runningMean as tf.Tensor1D,
      runningVariance: runningVariance as tf.Tensor1D,
      reserve: [r1!, r2!, r3!],
    };
  }

  /** The gradient of a training-phase `fusedBatchNorm` at its input, gamma and beta. */
  fusedBatchNormGrad(
    dy: tf.Tensor4D,
    x: tf.Tensor4D,
    gamma: tf.Tensor1D,
    reserve: [tf.Tensor, tf.Tensor, tf.Tensor],
    epsilon: number,
  ): { dx: tf.Tensor4D; dGamma: tf.Tensor1D; dBeta: tf.Tensor1D } {
    const [dx, dGamma, dBeta] = this.kernels.run(
      'FusedBatchNormGradV3',
      [
        this.float32,
        { name: 'U', type: this.b.attrType, value: this.b.float },
        { name: 'epsilon', type: this.b.attrFloat, value: epsilon },
        this.nhwc,
        { name: 'is_training', type: this.b.attrBool, value: true },
      ],
      [dy, x, gamma, ...reserve],
      5,
    );
    return { dx: dx as tf.Tensor4D, dGamma: dGamma as tf.Tensor1D, dBeta: dBeta as tf.Tensor1D };
  }

  /** Per-example cross-entropy of softmax(logits) against one-hot labels, and its gradient softmax - labels. */
  softmaxCrossEntropy(
    logits: tf.Tensor2D,
    labels: tf.Tensor2D,
  ): { loss: tf.Tensor1D; dLogits: tf.Tensor2D } {
    const [loss, dLogits] = this.kernels.run(
      'SoftmaxCrossEntropyWithLogits',
      [this.float32],
      [logits, labels],
      2,
    );
    return { loss: loss as tf.Tensor1D, dLogits: dLogits as tf.Tensor2D };
  }
}

/** Why a step that needs TensorFlow's kernels cannot run here, in one line. */
export function noNativeOpsReason(step = 'fused'): string {
  return `the ${step} step needs the tensorflow backend (tfjs-node or tfjs-node-gpu); the active backend is '${tf.getBackend()}'`;
}

/** The active backend's native ops; a one-line error on a backend without them. */
export function nativeOps(): NativeOps {
  const kernels = nativeKernels();
  if (!kernels) throw new Error(noNativeOpsReason());
  return new NativeOps(kernels);
}

/**
 * Counts the calls a function makes into TensorFlow on the tensorflow backend: every eager
 * kernel, registered or called by name, and every session run (the graph step) count once.
 */
export function countNativeOps(fn: () => void): number {
  const kernels = nativeKernels();
  if (!kernels)
    throw new Error(
      `counting native ops needs the tensorflow backend; the active backend is '${tf.getBackend()}'`,
    );
  return kernels.count(fn);
}
