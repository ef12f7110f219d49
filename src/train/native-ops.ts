import * as tf from '@tensorflow/tfjs';

/**
 * TensorFlow's own kernels, called by name through tfjs-node's backend: the same door its
 * registered kernels use (`executeMultipleOutputs`). Only the `tensorflow` backend
 * (tfjs-node or tfjs-node-gpu) has it; outputs are ordinary tfjs tensors, tracked by `tidy`.
 */

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The parts of tfjs-node's NodeJSKernelBackend used here. */
interface NodeBackend {
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_STRING: number;
    TF_FLOAT: number;
    TF_INT32: number;
    executeOp: (...args: unknown[]) => unknown;
    runSavedModel: (...args: unknown[]) => unknown;
  };
  executeMultipleOutputs(
    name: string,
    attrs: OpAttr[],
    inputs: tf.Tensor[],
    numOutputs: number,
  ): tf.Tensor[];
}

function asNodeBackend(backend: tf.KernelBackend): NodeBackend | undefined {
  const candidate = backend as unknown as Partial<NodeBackend>;
  return typeof candidate.executeMultipleOutputs === 'function' && candidate.binding
    ? (candidate as NodeBackend)
    : undefined;
}

/** True when the active backend can run TensorFlow kernels by name. */
export function hasNativeOps(): boolean {
  return asNodeBackend(tf.backend()) !== undefined;
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
  private readonly b: NodeBackend['binding'];
  private readonly float32: OpAttr;
  private readonly nhwc: OpAttr;
  private readonly matMulAttrs: OpAttr[][];

  constructor(private readonly backend: NodeBackend) {
    this.b = backend.binding;
    this.float32 = { name: 'T', type: this.b.TF_ATTR_TYPE, value: this.b.TF_FLOAT };
    this.nhwc = { name: 'data_format', type: this.b.TF_ATTR_STRING, value: 'NHWC' };
    // Indexed by transposeA * 2 + transposeB.
    this.matMulAttrs = [0, 1, 2, 3].map((flags) => [
      this.float32,
      { name: 'transpose_a', type: this.b.TF_ATTR_BOOL, value: flags >= 2 },
      { name: 'transpose_b', type: this.b.TF_ATTR_BOOL, value: flags % 2 === 1 },
    ]);
  }

  private one<T extends tf.Tensor>(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): T {
    return this.backend.executeMultipleOutputs(name, attrs, inputs, 1)[0] as T;
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
      [this.float32, { name: 'Tshape', type: this.b.TF_ATTR_TYPE, value: this.b.TF_INT32 }],
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
    const [y, runningMean, runningVariance, r1, r2, r3] = this.backend.executeMultipleOutputs(
      'FusedBatchNormV3',
      [
        this.float32,
        { name: 'U', type: this.b.TF_ATTR_TYPE, value: this.b.TF_FLOAT },
        { name: 'epsilon', type: this.b.TF_ATTR_FLOAT, value: options.epsilon },
        {
          name: 'exponential_avg_factor',
          type: this.b.TF_ATTR_FLOAT,
          value: options.averagingFactor ?? 1,
        },
        this.nhwc,
        { name: 'is_training', type: this.b.TF_ATTR_BOOL, value: options.training },
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
    const [dx, dGamma, dBeta] = this.backend.executeMultipleOutputs(
      'FusedBatchNormGradV3',
      [
        this.float32,
        { name: 'U', type: this.b.TF_ATTR_TYPE, value: this.b.TF_FLOAT },
        { name: 'epsilon', type: this.b.TF_ATTR_FLOAT, value: epsilon },
        this.nhwc,
        { name: 'is_training', type: this.b.TF_ATTR_BOOL, value: true },
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
    const [loss, dLogits] = this.backend.executeMultipleOutputs(
      'SoftmaxCrossEntropyWithLogits',
      [this.float32],
      [logits, labels],
      2,
    );
    return { loss: loss as tf.Tensor1D, dLogits: dLogits as tf.Tensor2D };
  }
}

/** Why the fused step cannot run here, in one line. */
export function noNativeOpsReason(step: 'fused' | 'graph' = 'fused'): string {
  return `the ${step} step needs the tensorflow backend (tfjs-node or tfjs-node-gpu); the active backend is '${tf.getBackend()}'`;
}

/** The active backend's native ops; a one-line error on a backend without them. */
export function nativeOps(): NativeOps {
  const backend = asNodeBackend(tf.backend());
  if (!backend) throw new Error(noNativeOpsReason());
  return new NativeOps(backend);
}

/**
 * Counts the calls a function makes into TensorFlow on the tensorflow backend: every eager
 * kernel, registered or called by name, goes through the binding's executeOp once, and every
 * session run (the graph step) through its runSavedModel once.
 */
export function countNativeOps(fn: () => void): number {
  const backend = asNodeBackend(tf.backend());
  if (!backend)
    throw new Error(
      `counting native ops needs the tensorflow backend; the active backend is '${tf.getBackend()}'`,
    );
  const binding = backend.binding;
  let count = 0;
  // The binding itself is frozen; the backend's reference to it is not. A stand-in that
  // inherits every other member counts the calls.
  const counted = (name: 'executeOp' | 'runSavedModel') => ({
    value: (...args: unknown[]) => {
      count++;
      return binding[name](...args);
    },
  });
  backend.binding = Object.create(binding, {
    executeOp: counted('executeOp'),
    runSavedModel: counted('runSavedModel'),
  }) as NodeBackend['binding'];
  try {
    fn();
  } finally {
    backend.binding = binding;
  }
  return count;
}
