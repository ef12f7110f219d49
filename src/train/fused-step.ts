import * as tf from '@tensorflow/tfjs';
import type { Phase } from '../nn/batchnorm-state.js';
import type { DenseParams, HiddenLayerParams, Placement } from '../nn/layers.js';
import { trainableVariables, type Mlp } from '../nn/mlp.js';
import { accuracy } from './metrics.js';
import { nativeOps, type NativeOps } from './native-ops.js';

/**
 * The guide's model on TensorFlow's fused kernels, the way `tf.contrib.layers.batch_norm(fused=True)`
 * ran it: `FusedBatchNormV3` normalizes and updates both moving averages in one kernel,
 * `FusedBatchNormGradV3` is its backward, and `SoftmaxCrossEntropyWithLogits` gives the loss
 * and its gradient at once. The 2-D activations are viewed as [N, 1, 1, C] (NHWC) for the
 * batch-norm kernels, which normalize over everything but the channel axis.
 */

/** What one hidden layer keeps from a training-phase forward pass. */
interface FusedLayerCache {
  input: tf.Tensor2D;
  /** The ReLU's output (2-D for 'pre' and 'none', the 4-D view for 'post'). */
  activated: tf.Tensor;
  /** The batch-norm kernel's input as [N, 1, 1, C], and what its gradient kernel needs. */
  bnInput?: tf.Tensor4D;
  reserve?: [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** The int32 shape vectors a batch of `n` needs to move between [n, C] and [n, 1, 1, C]. */
class ShapeVectors {
  private readonly cache = new Map<string, tf.Tensor1D>();
  constructor(readonly n: number) {}

  private get(shape: number[]): tf.Tensor1D {
    const key = shape.join(',');
    let vector = this.cache.get(key);
    if (!vector) {
      vector = tf.keep(tf.tensor1d(shape, 'int32'));
      this.cache.set(key, vector);
    }
    return vector;
  }
  nhwc(units: number): tf.Tensor1D {
    return this.get([this.n, 1, 1, units]);
  }
  flat(units: number): tf.Tensor1D {
    return this.get([this.n, units]);
  }
  dispose(): void {
    tf.dispose([...this.cache.values()]);
    this.cache.clear();
  }
}

/** How the training phase's forward pass treats the moving averages. */
interface MovingAverageUpdate {
  factor: number;
  /** n / (n - 1): turns TensorFlow's unbiased-variance average into the guide's biased one. */
  toKernel: tf.Scalar;
  fromKernel: tf.Scalar;
}

/** Results of a fused forward pass over the hidden layers and the logits. */
interface FusedForward {
  logits: tf.Tensor2D;
  layers: FusedLayerCache[];
  lastHidden: tf.Tensor2D;
}

function denseForward(ops: NativeOps, x: tf.Tensor2D, params: DenseParams): tf.Tensor2D {
  return ops.biasAdd(ops.matMul(x, params.kernel), params.bias);
}

/**
 * One hidden block ('pre': dense -> BN -> ReLU, 'post': dense -> ReLU -> BN, 'none': dense -> ReLU).
 * In training, `update` (when given) assigns the new moving averages right here, the
 * counterpart of the guide's update ops; without it nothing is written.
 */
function hiddenForward(
  ops: NativeOps,
  x: tf.Tensor2D,
  layer: HiddenLayerParams,
  placement: Placement,
  phase: Phase,
  shapes: ShapeVectors,
  update?: MovingAverageUpdate,
): { y: tf.Tensor2D; cache: FusedLayerCache } {
  const z = denseForward(ops, x, layer.dense);
  const bn = layer.bn;
  if (placement === 'none' || !bn) {
    const activated = ops.relu(z);
    return { y: activated, cache: { input: x, activated } };
  }
  const units = z.shape[1];
  const normalize = (input: tf.Tensor4D) => {
    const training = phase === 'training';
    const out = ops.fusedBatchNorm(
      input,
      bn.gamma,
      bn.beta,
      bn.movingMean,
      update ? ops.mul(bn.movingVariance, update.toKernel) : bn.movingVariance,
      {
        epsilon: bn.epsilon,
        training,
        averagingFactor: training && update ? update.factor : 1,
      },
    );
    if (training && update) {
      bn.movingMean.assign(out.runningMean);
      bn.movingVariance.assign(ops.mul(out.runningVariance, update.fromKernel));
    }
    return out;
  };
  if (placement === 'pre') {
    const bnInput = ops.reshape<tf.Tensor4D>(z, shapes.nhwc(units));
    const out = normalize(bnInput);
    const activated = ops.reshape<tf.Tensor2D>(ops.relu(out.y), shapes.flat(units));
    return { y: activated, cache: { input: x, activated, bnInput, reserve: out.reserve } };
  }
  const activated = ops.reshape<tf.Tensor4D>(ops.relu(z), shapes.nhwc(units));
  const out = normalize(activated);
  return {
    y: ops.reshape<tf.Tensor2D>(out.y, shapes.flat(units)),
    cache: { input: x, activated, bnInput: activated, reserve: out.reserve },
  };
}

function fusedForward(
  ops: NativeOps,
  model: Mlp,
  x: tf.Tensor2D,
  phase: Phase,
  shapes: ShapeVectors,
  update?: MovingAverageUpdate,
): FusedForward {
  const layers: FusedLayerCache[] = [];
  let h = x;
  for (const layer of model.hidden) {
    const out = hiddenForward(ops, h, layer, model.placement, phase, shapes, update);
    layers.push(out.cache);
    h = out.y;
  }
  return { logits: denseForward(ops, h, model.logits), layers, lastHidden: h };
}

/**
 * Backward through one hidden block, given dy at its output. Returns its variables' steps
 * (in `trainableVariables` order) and dx when a layer below needs it.
 */
function hiddenBackward(
  ops: NativeOps,
  dy: tf.Tensor2D,
  layer: HiddenLayerParams,
  placement: Placement,
  cache: FusedLayerCache,
  shapes: ShapeVectors,
  needInputGradient: boolean,
): { dx?: tf.Tensor2D; steps: tf.Tensor[] } {
  const units = dy.shape[1];
  let dz: tf.Tensor2D;
  let bnSteps: tf.Tensor[] = [];
  if (placement === 'none' || !layer.bn || !cache.bnInput || !cache.reserve) {
    dz = ops.reluGrad(dy, cache.activated as tf.Tensor2D);
  } else if (placement === 'pre') {
    const dBnOut = ops.reshape<tf.Tensor4D>(
      ops.reluGrad(dy, cache.activated as tf.Tensor2D),
      shapes.nhwc(units),
    );
    const bn = ops.fusedBatchNormGrad(
      dBnOut,
      cache.bnInput,
      layer.bn.gamma,
      cache.reserve,
      layer.bn.epsilon,
    );
    dz = ops.reshape(bn.dx, shapes.flat(units));
    bnSteps = [bn.dGamma, bn.dBeta];
  } else {
    const bn = ops.fusedBatchNormGrad(
      ops.reshape<tf.Tensor4D>(dy, shapes.nhwc(units)),
      cache.bnInput,
      layer.bn.gamma,
      cache.reserve,
      layer.bn.epsilon,
    );
    dz = ops.reshape(ops.reluGrad(bn.dx, cache.activated as tf.Tensor4D), shapes.flat(units));
    bnSteps = [bn.dGamma, bn.dBeta];
  }
  const dKernel = ops.matMul(cache.input, dz, true, false);
  const dBias = ops.biasAddGrad(dz);
  return {
    dx: needInputGradient ? ops.matMul(dz, layer.dense.kernel, false, true) : undefined,
    steps: [dKernel, dBias, ...bnSteps],
  };
}

/** The fused training step, bound to one model and one batch size; owns a few constant tensors. */
export class FusedStep {
  private readonly ops = nativeOps();
  private readonly shapes: ShapeVectors;
  private readonly update: MovingAverageUpdate;
  /** -learningRate / n: the mean loss's gradient scaled into an SGD step (see `run`). */
  private readonly stepScale: tf.Scalar;
  private readonly variables: tf.Variable[];

  constructor(
    private readonly model: Mlp,
    readonly batchSize: number,
    learningRate: number,
    private readonly updateMovingAverages = true,
  ) {
    const n = batchSize;
    const decay = model.hidden[0]?.bn?.decay ?? 0;
    // TensorFlow feeds its running variance with var * n / (n - 1). Scaling the running value
    // by n / (n - 1) on the way in and back on the way out leaves the guide's biased variance:
    // (n-1)/n * ((1 - f) * v * n/(n-1) + f * var * n/(n-1)) = (1 - f) * v + f * var.
    const bessel = n > 1 ? n / (n - 1) : 1;
    this.shapes = new ShapeVectors(n);
    this.update = {
      factor: 1 - decay,
      toKernel: tf.keep(tf.scalar(bessel)),
      fromKernel: tf.keep(tf.scalar(1 / bessel)),
    };
    this.stepScale = tf.keep(tf.scalar(-learningRate / n));
    this.variables = trainableVariables(model);
  }

  /**
   * One SGD step: forward in the training phase (the batch-norm kernels assign the new
   * moving averages), the loss gradient at the logits, backprop, one add per variable.
   * Backprop is linear in its seed, so seeding it with -learningRate * (softmax - y) / n
   * makes every gradient kernel return that variable's SGD step directly.
   */
  run(x: tf.Tensor2D, y: tf.Tensor2D): void {
    if (x.shape[0] !== this.batchSize)
      throw new Error(
        `the fused step was built for batches of ${this.batchSize}, got ${x.shape[0]}`,
      );
    const { ops, model, shapes } = this;
    tf.tidy(() => {
      const forward = fusedForward(
        ops,
        model,
        x,
        'training',
        shapes,
        this.updateMovingAverages ? this.update : undefined,
      );
      const stepAtLogits = ops.mul(
        ops.softmaxCrossEntropy(forward.logits, y).dLogits,
        this.stepScale,
      );
      const logitsSteps = [
        ops.matMul(forward.lastHidden, stepAtLogits, true, false),
        ops.biasAddGrad(stepAtLogits),
      ];
      const steps: tf.Tensor[][] = [];
      let dy = ops.matMul(stepAtLogits, model.logits.kernel, false, true);
      for (let i = model.hidden.length - 1; i >= 0; i--) {
        const out = hiddenBackward(
          ops,
          dy,
          model.hidden[i]!,
          model.placement,
          forward.layers[i]!,
          shapes,
          i > 0,
        );
        steps[i] = out.steps;
        dy = out.dx!;
      }
      const all = [...steps.flat(), ...logitsSteps];
      this.variables.forEach((variable, i) => variable.assign(ops.add(variable, all[i]!)));
    });
  }

  dispose(): void {
    this.shapes.dispose();
    tf.dispose([this.update.toKernel, this.update.fromKernel, this.stepScale]);
  }
}

/**
 * Logits of a whole split on the fused kernels, in either phase. In training it normalizes
 * with the split's own statistics, and nothing is written: no averaging factor, no assign.
 */
export function fusedLogits(model: Mlp, x: tf.Tensor2D, phase: Phase): tf.Tensor2D {
  const ops = nativeOps();
  const shapes = new ShapeVectors(x.shape[0]);
  try {
    return tf.tidy(() => fusedForward(ops, model, x, phase, shapes).logits);
  } finally {
    shapes.dispose();
  }
}

/** Mean cross-entropy and accuracy from the fused loss kernel. */
export function fusedLossAndAccuracy(
  logits: tf.Tensor2D,
  labels: tf.Tensor2D,
): [tf.Scalar, tf.Scalar] {
  const ops = nativeOps();
  return tf.tidy(() => {
    const loss = tf.mean(ops.softmaxCrossEntropy(logits, labels).loss) as tf.Scalar;
    return [loss, accuracy(logits, labels)];
  });
}
