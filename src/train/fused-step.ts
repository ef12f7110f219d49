import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import type { Stage } from '../nn/layers.js';
import type { FusedKernelParams } from '../nn/norm-layer.js';
import { trainableVariables, type HiddenLayer, type Network } from '../nn/network.js';
import { accuracy, readMetrics, type Metrics } from './metrics.js';
import { nativeOps, type NativeOps } from './native-ops.js';
import type { TrainingStep } from './step.js';

/**
 * The network on TensorFlow's fused kernels, the way `tf.contrib.layers.batch_norm(fused=True)`
 * ran it: `FusedBatchNormV3` normalizes and updates both moving averages in one kernel,
 * `FusedBatchNormGradV3` is its backward, and `SoftmaxCrossEntropyWithLogits` gives the loss
 * and its gradient at once. The batch-norm kernels normalize over every axis but the last, so
 * they see the 2-D activations as [N, 1, 1, C] (NHWC); the view changes only where a kernel
 * needs the other one.
 */

/** A value as it flows between kernels: 2-D, or viewed as [N, 1, 1, C]. */
interface Flow {
  value: tf.Tensor;
  nhwc: boolean;
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

  /** The flow in the view a kernel needs: one Reshape, or none when it already has it. */
  view(ops: NativeOps, flow: Flow, nhwc: boolean): Flow {
    if (flow.nhwc === nhwc) return flow;
    const units = flow.value.shape.at(-1)!;
    const shape = nhwc ? [this.n, 1, 1, units] : [this.n, units];
    return { value: ops.reshape(flow.value, this.get(shape)), nhwc };
  }

  dispose(): void {
    tf.dispose([...this.cache.values()]);
    this.cache.clear();
  }
}

/** How the training phase's forward pass treats the moving averages. */
interface MovingAverageUpdate {
  /** n / (n - 1): turns TensorFlow's unbiased-variance average into the guide's biased one. */
  toKernel: tf.Scalar;
  fromKernel: tf.Scalar;
}

/** What one hidden block keeps for its backward pass. */
interface FusedBlockCache {
  input: tf.Tensor2D;
  /** Each stage's output, in the view it was made in. */
  outputs: Flow[];
  /** The batch-norm kernel's input and what its gradient kernel needs. */
  bnInput?: tf.Tensor4D;
  reserve?: [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** Everything a pass over the network shares. */
interface Pass {
  ops: NativeOps;
  shapes: ShapeVectors;
  phase: Phase;
  /** In training: assign the new moving averages (the guide's update ops); absent: write nothing. */
  update?: MovingAverageUpdate;
}

/** The batch-norm stage on `FusedBatchNormV3`; in training with `update`, it assigns the averages. */
function fusedNorm(pass: Pass, input: tf.Tensor4D, bn: FusedKernelParams) {
  const { ops, phase, update } = pass;
  const training = phase === 'training';
  const out = ops.fusedBatchNorm(
    input,
    bn.gamma,
    bn.beta,
    bn.movingMean,
    update ? ops.mul(bn.movingVariance, update.toKernel) : bn.movingVariance,
    { epsilon: bn.epsilon, training, averagingFactor: training && update ? 1 - bn.decay : 1 },
  );
  if (training && update) {
    bn.movingMean.assign(out.runningMean);
    bn.movingVariance.assign(ops.mul(out.runningVariance, update.fromKernel));
  }
  return out;
}

/** One hidden block, its stages in order, each in the view its kernel needs. */
function blockForward(
  pass: Pass,
  x: tf.Tensor2D,
  layer: HiddenLayer,
  layout: readonly Stage[],
): { y: tf.Tensor2D; cache: FusedBlockCache } {
  const { ops, shapes } = pass;
  const cache: FusedBlockCache = { input: x, outputs: [] };
  let flow: Flow = { value: x, nhwc: false };
  for (const stage of layout) {
    if (stage === 'dense') {
      const z = ops.matMul(shapes.view(ops, flow, false).value as tf.Tensor2D, layer.dense.kernel);
      flow = { value: ops.biasAdd(z, layer.dense.bias), nhwc: false };
    } else if (stage === 'relu') {
      flow = { value: ops.relu(flow.value), nhwc: flow.nhwc };
    } else {
      const input = shapes.view(ops, flow, true).value as tf.Tensor4D;
      const out = fusedNorm(pass, input, layer.norm!.fusedKernel!());
      Object.assign(cache, { bnInput: input, reserve: out.reserve });
      flow = { value: out.y, nhwc: true };
    }
    cache.outputs.push(flow);
  }
  return { y: shapes.view(ops, flow, false).value as tf.Tensor2D, cache };
}

function networkForward(pass: Pass, network: Network, x: tf.Tensor2D) {
  const blocks: FusedBlockCache[] = [];
  let h = x;
  for (const layer of network.hidden) {
    const out = blockForward(pass, h, layer, network.layout);
    blocks.push(out.cache);
    h = out.y;
  }
  const logits = pass.ops.biasAdd(pass.ops.matMul(h, network.logits.kernel), network.logits.bias);
  return { logits, blocks, lastHidden: h };
}

/**
 * Backward through one hidden block, given dy at its output, its stages in reverse. Returns
 * its variables' steps (in `trainableVariables` order) and dx when a layer below needs it.
 */
function blockBackward(
  pass: Pass,
  dy: tf.Tensor2D,
  layer: HiddenLayer,
  layout: readonly Stage[],
  cache: FusedBlockCache,
  needInputGradient: boolean,
): { dx?: tf.Tensor2D; steps: tf.Tensor[] } {
  const { ops, shapes } = pass;
  let gradient: Flow = { value: dy, nhwc: false };
  let normSteps: tf.Tensor[] = [];
  let denseSteps: tf.Tensor[] = [];
  let dx: tf.Tensor2D | undefined;
  for (let k = layout.length - 1; k >= 0; k--) {
    const output = cache.outputs[k]!;
    gradient = shapes.view(ops, gradient, k === 0 ? false : output.nhwc);
    if (layout[k] === 'relu') {
      gradient = { value: ops.reluGrad(gradient.value, output.value), nhwc: output.nhwc };
    } else if (layout[k] === 'norm') {
      const { gamma, epsilon } = layer.norm!.fusedKernel!();
      const bn = ops.fusedBatchNormGrad(
        gradient.value as tf.Tensor4D,
        cache.bnInput!,
        gamma,
        cache.reserve!,
        epsilon,
      );
      gradient = { value: bn.dx, nhwc: true };
      normSteps = [bn.dGamma, bn.dBeta];
    } else {
      const dz = gradient.value as tf.Tensor2D;
      const input = k === 0 ? cache.input : (cache.outputs[k - 1]!.value as tf.Tensor2D);
      denseSteps = [ops.matMul(input, dz, true, false), ops.biasAddGrad(dz)];
      if (needInputGradient || k > 0) dx = ops.matMul(dz, layer.dense.kernel, false, true);
      gradient = { value: dx!, nhwc: false };
    }
  }
  return { dx, steps: [...denseSteps, ...normSteps] };
}

/** The fused training step, bound to one network and one batch size; owns a few constant tensors. */
export class FusedStep {
  private readonly ops = nativeOps();
  private readonly shapes: ShapeVectors;
  private readonly update: MovingAverageUpdate;
  /** -learningRate / n: the mean loss's gradient scaled into an SGD step (see `run`). */
  private readonly stepScale: tf.Scalar;
  private readonly variables: tf.Variable[];

  constructor(
    private readonly network: Network,
    readonly batchSize: number,
    learningRate: number,
    private readonly updateMovingAverages = true,
  ) {
    const n = batchSize;
    // TensorFlow feeds its running variance with var * n / (n - 1). Scaling the running value
    // by n / (n - 1) on the way in and back on the way out leaves the guide's biased variance:
    // (n-1)/n * ((1 - f) * v * n/(n-1) + f * var * n/(n-1)) = (1 - f) * v + f * var.
    const bessel = n > 1 ? n / (n - 1) : 1;
    this.shapes = new ShapeVectors(n);
    this.update = {
      toKernel: tf.keep(tf.scalar(bessel)),
      fromKernel: tf.keep(tf.scalar(1 / bessel)),
    };
    this.stepScale = tf.keep(tf.scalar(-learningRate / n));
    this.variables = trainableVariables(network);
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
    const { ops, network, shapes } = this;
    const update = this.updateMovingAverages ? this.update : undefined;
    const pass: Pass = { ops, shapes, phase: 'training', update };
    tf.tidy(() => {
      const forward = networkForward(pass, network, x);
      const seed = ops.mul(ops.softmaxCrossEntropy(forward.logits, y).dLogits, this.stepScale);
      const logitsSteps = [
        ops.matMul(forward.lastHidden, seed, true, false),
        ops.biasAddGrad(seed),
      ];
      const steps: tf.Tensor[][] = [];
      let dy = ops.matMul(seed, network.logits.kernel, false, true);
      for (let i = network.hidden.length - 1; i >= 0; i--) {
        const layer = network.hidden[i]!;
        const out = blockBackward(pass, dy, layer, network.layout, forward.blocks[i]!, i > 0);
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
export function fusedLogits(network: Network, x: tf.Tensor2D, phase: Phase): tf.Tensor2D {
  const shapes = new ShapeVectors(x.shape[0]);
  try {
    return tf.tidy(() => networkForward({ ops: nativeOps(), shapes, phase }, network, x).logits);
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

/** Loss and accuracy of a whole split on the fused kernels. */
export function fusedEvaluate(network: Network, split: DeviceSplit, phase: Phase): Metrics {
  return readMetrics(() => fusedLossAndAccuracy(fusedLogits(network, split.x, phase), split.y));
}

/** The fused step as the trainer runs it. */
export function fusedTrainingStep(
  network: Network,
  settings: { batchSize: number; learningRate: number; updateMovingAverages?: boolean },
): TrainingStep {
  const fused = new FusedStep(
    network,
    settings.batchSize,
    settings.learningRate,
    settings.updateMovingAverages,
  );
  return {
    kind: 'fused',
    run: (x, y) => fused.run(x, y),
    evaluate: (split, phase) => fusedEvaluate(network, split, phase),
    syncNetwork: () => {},
    dispose: () => fused.dispose(),
  };
}
