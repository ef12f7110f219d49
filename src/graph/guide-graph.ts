import type { Stage } from '../nn/layers.js';
import { namedVariables, type HiddenLayer, type Network } from '../nn/network.js';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';
import {
  attr,
  GraphBuilder,
  type GraphOp,
  type GraphTensor,
  type GraphVariable,
} from './graph-builder.js';
import type { Signature } from './saved-model.js';

/**
 * The guide's TensorFlow 1 graph, node for node: placeholders x, y and phase; hidden blocks
 * whose stages follow the network's layout, their batch norm switching on `phase`; the
 * moving-average updates collected in UPDATE_OPS; and a training step that depends on them
 * through `control_dependencies`, or, with `updateDependency: false`, the guide's trap: one that
 * does not. Batch norm runs on TensorFlow's fused kernels, as
 * `tf.contrib.layers.batch_norm(fused=True)`.
 */

const T = { T: attr.type('float32') };
const F32 = attr.type('float32');

export interface GuideGraphOptions {
  learningRate: number;
  /** `with tf.control_dependencies(update_ops):` around the training step (default true). */
  updateDependency?: boolean;
}

/** The graph, the signatures it is called through, and what the loader runs first. */
export interface GuideGraph {
  graph: GraphBuilder;
  signatures: Record<string, Signature>;
  initOp: GraphOp;
}

/** What the backward pass needs from one batch-norm layer's training branch. */
interface BatchNormTrace {
  input: GraphTensor;
  gamma: GraphVariable;
  reserve: GraphTensor[];
  epsilon: number;
  units: number;
}

/** What the backward pass needs from one hidden block. */
interface BlockTrace {
  input: GraphTensor;
  kernel: GraphVariable;
  bias: GraphVariable;
  /** Each stage's output. */
  outputs: GraphTensor[];
  bn?: BatchNormTrace & { beta: GraphVariable };
}

/** Settings every batch-norm layer of the graph shares, and the batch's (n - 1) / n. */
interface BlockSettings {
  phase: GraphTensor;
  layout: readonly Stage[];
  biasedFraction: GraphTensor;
}

/** The network's variables in the graph, initialised with the network's current values. */
function graphVariables(g: GraphBuilder, network: Network): Map<string, GraphVariable> {
  const variables = new Map<string, GraphVariable>();
  for (const [name, variable] of namedVariables(network))
    variables.set(
      name,
      g.variable(name, { dtype: 'float32', shape: variable.shape, values: variable.dataSync() }),
    );
  return variables;
}

/** `dense(x, size, scope)`: x W + b. */
function dense(g: GraphBuilder, x: GraphTensor, kernel: GraphVariable, bias: GraphVariable) {
  const product = g.op('MatMul', [x, kernel.value], {
    ...T,
    transpose_a: false,
    transpose_b: false,
  });
  return g.op('BiasAdd', [product, bias.value], { ...T, data_format: 'NHWC' });
}

const matMul = (g: GraphBuilder, a: GraphTensor, b: GraphTensor, ta: boolean, tb: boolean) =>
  g.op('MatMul', [a, b], { ...T, transpose_a: ta, transpose_b: tb });

/**
 * `tf.contrib.layers.batch_norm(h, is_training=phase)`: a `Switch` on phase sends the input to
 * the training branch (batch statistics) or the inference branch (moving statistics), and a
 * `Merge` takes whichever ran. The training branch also yields the two update ops.
 */
export function graphBatchNorm(
  g: GraphBuilder,
  h: GraphTensor,
  phase: GraphTensor,
  v: { gamma: GraphVariable; beta: GraphVariable; mean: GraphVariable; variance: GraphVariable },
  settings: { decay: number; epsilon: number; units: number; biasedFraction: GraphTensor },
): { y: GraphTensor; trace: BatchNormTrace } {
  const { decay, epsilon, units } = settings;
  // The fused kernels normalize over all but the last axis: view [N, C] as [N, 1, 1, C].
  const nhwc = g.op('Reshape', [h, g.constant('nhwc_shape', ints([-1, 1, 1, units]))], reshapeT);
  const [inference, training] = g.opWithOutputs('Switch', [nhwc, phase], T, 2, { name: 'switch' });
  const fused = { ...T, U: F32, epsilon: attr.float(epsilon), data_format: 'NHWC' };
  const [yTrain, batchMean, batchVariance, ...reserve] = g.opWithOutputs(
    'FusedBatchNormV3',
    [training!, v.gamma.value, v.beta.value, v.mean.value, v.variance.value],
    { ...fused, is_training: true, exponential_avg_factor: attr.float(1) },
    6,
    { name: 'batch_statistics' },
  );
  const [yInference] = g.opWithOutputs(
    'FusedBatchNormV3',
    [inference!, v.gamma.value, v.beta.value, v.mean.value, v.variance.value],
    { ...fused, is_training: false, exponential_avg_factor: attr.float(1) },
    6,
    { name: 'moving_statistics' },
  );
  const [merged] = g.opWithOutputs('Merge', [yInference!, yTrain!], { ...T, N: attr.int(2) }, 2, {
    name: 'merge',
  });
  // The update ops: moving -= (moving - batch) * (1 - decay). The kernel's batch variance is
  // Bessel-corrected; times (n - 1) / n it is the guide's biased one.
  const rate = g.scalar('one_minus_decay', 1 - decay);
  const biased = g.op('Mul', [batchVariance!, settings.biasedFraction], T);
  for (const [moving, batch] of [
    [v.mean, batchMean!],
    [v.variance, biased],
  ] as const) {
    const step = g.op('Mul', [g.op('Sub', [moving.value, batch], T), rate], T);
    g.addToCollection(
      'UPDATE_OPS',
      g.op(
        'AssignSubVariableOp',
        [moving.handle, step],
        { dtype: F32 },
        {
          name: `update_${moving.name.split('/').at(-1)}`,
        },
      ),
    );
  }
  const y = g.op('Reshape', [merged!, g.constant('flat_shape', ints([-1, units]))], reshapeT);
  return { y, trace: { input: training!, gamma: v.gamma, reserve, epsilon, units } };
}

const reshapeT = { ...T, Tshape: attr.type('int32') };
const ints = (values: number[]) => ({ dtype: 'int32' as const, shape: [values.length], values });

/** `dense_batch_relu(x, phase, scope)`: the block's stages in the network's layout. */
function graphBlock(
  g: GraphBuilder,
  x: GraphTensor,
  scope: string,
  layer: HiddenLayer,
  vars: Map<string, GraphVariable>,
  settings: BlockSettings,
): BlockTrace {
  const get = (name: string) => vars.get(`${scope}/${name}`)!;
  const trace: BlockTrace = {
    input: x,
    kernel: get('dense/kernel'),
    bias: get('dense/bias'),
    outputs: [],
  };
  return g.scope(scope, () => {
    let h = x;
    for (const stage of settings.layout) {
      if (stage === 'dense') h = g.scope('dense', () => dense(g, h, trace.kernel, trace.bias));
      else if (stage === 'relu') h = g.op('Relu', [h], T, { name: 'relu' });
      else {
        const { decay, epsilon } = layer.norm!.fusedKernel!();
        const units = layer.dense.bias.shape[0];
        const v = {
          gamma: get('bn/gamma'),
          beta: get('bn/beta'),
          mean: get('bn/moving_mean'),
          variance: get('bn/moving_variance'),
        };
        const bn = g.scope('bn', () =>
          graphBatchNorm(g, h, settings.phase, v, {
            decay,
            epsilon,
            units,
            biasedFraction: settings.biasedFraction,
          }),
        );
        trace.bn = { ...bn.trace, beta: v.beta };
        h = bn.y;
      }
      trace.outputs.push(h);
    }
    return trace;
  });
}

/** FusedBatchNormGradV3 on the [N, 1, 1, C] view: dx, and the gradients of gamma and beta. */
function batchNormGradient(g: GraphBuilder, dy: GraphTensor, bn: NonNullable<BlockTrace['bn']>) {
  const dNhwc = g.op(
    'Reshape',
    [dy, g.constant('nhwc_shape', ints([-1, 1, 1, bn.units]))],
    reshapeT,
  );
  const [dx, dGamma, dBeta] = g.opWithOutputs(
    'FusedBatchNormGradV3',
    [dNhwc, bn.input, bn.gamma.value, ...bn.reserve],
    { ...T, U: F32, epsilon: attr.float(bn.epsilon), data_format: 'NHWC', is_training: true },
    5,
  );
  const flat = g.op('Reshape', [dx!, g.constant('flat_shape', ints([-1, bn.units]))], reshapeT);
  return {
    dx: flat,
    grads: [
      [bn.gamma, dGamma!],
      [bn.beta, dBeta!],
    ] as Array<[GraphVariable, GraphTensor]>,
  };
}

/**
 * Backward through one block, its stages in reverse, with the kernels' own gradient ops: the
 * gradients of its variables, and dy for the block below where there is one.
 */
function blockGradients(
  g: GraphBuilder,
  block: BlockTrace,
  layout: readonly Stage[],
  dy: GraphTensor,
  needInputGradient: boolean,
): { dx?: GraphTensor; grads: Array<[GraphVariable, GraphTensor]> } {
  let gradient = dy;
  let dx: GraphTensor | undefined;
  const denseGrads: Array<[GraphVariable, GraphTensor]> = [];
  const normGrads: Array<[GraphVariable, GraphTensor]> = [];
  for (let k = layout.length - 1; k >= 0; k--) {
    if (layout[k] === 'relu') gradient = g.op('ReluGrad', [gradient, block.outputs[k]!], T);
    else if (layout[k] === 'norm') {
      const bn = batchNormGradient(g, gradient, block.bn!);
      gradient = bn.dx;
      normGrads.push(...bn.grads);
    } else {
      const input = k === 0 ? block.input : block.outputs[k - 1]!;
      denseGrads.push(
        [block.kernel, matMul(g, input, gradient, true, false)],
        [block.bias, g.op('BiasAddGrad', [gradient], { ...T, data_format: 'NHWC' })],
      );
      if (needInputGradient || k > 0) dx = matMul(g, gradient, block.kernel.value, false, true);
      if (dx) gradient = dx;
    }
  }
  return { dx, grads: [...denseGrads, ...normGrads] };
}

/**
 * What `GradientDescentOptimizer.minimize(loss)` added to the guide's graph: the gradient of
 * every variable, written out with the kernels' own gradient ops, in `trainableVariables` order.
 */
function gradients(
  g: GraphBuilder,
  blocks: BlockTrace[],
  layout: readonly Stage[],
  top: { lastHidden: GraphTensor; kernel: GraphVariable; bias: GraphVariable },
  dLogits: GraphTensor,
): Array<[GraphVariable, GraphTensor]> {
  let dy = matMul(g, dLogits, top.kernel.value, false, true);
  const perBlock: Array<Array<[GraphVariable, GraphTensor]>> = [];
  for (let i = blocks.length - 1; i >= 0; i--) {
    const out = g.scope(`gradients/layer${i + 1}`, () =>
      blockGradients(g, blocks[i]!, layout, dy, i > 0),
    );
    perBlock[i] = out.grads;
    if (out.dx) dy = out.dx;
  }
  return [
    ...perBlock.flat(),
    [top.kernel, matMul(g, top.lastHidden, dLogits, true, false)],
    [top.bias, g.op('BiasAddGrad', [dLogits], { ...T, data_format: 'NHWC' })],
  ];
}

/**
 * The guide's `train()`: `with tf.control_dependencies(update_ops): train_step = minimize(loss)`,
 * the SGD half of `minimize` being one update per variable. Without the dependency, nothing a
 * session run fetches needs the update ops, so TensorFlow never runs them.
 */
export function trainStepOp(
  g: GraphBuilder,
  gradients: Array<[GraphVariable, GraphTensor]>,
  learningRate: number,
  updateDependency: boolean,
): GraphOp {
  const updateOps = g.collection('UPDATE_OPS');
  const rate = g.scalar('learning_rate', learningRate);
  return g.controlDependencies(updateDependency ? updateOps : [], () =>
    g.group(
      'train_step',
      gradients.map(([variable, gradient]) =>
        g.op('ResourceApplyGradientDescent', [variable.handle, rate, gradient], {
          ...T,
          use_locking: false,
        }),
      ),
    ),
  );
}

/** The batch size n as a float, and (n - 1) / n: the biased variance's share of the unbiased one. */
function batchSizeNodes(g: GraphBuilder, x: GraphTensor) {
  return g.scope('batch_size', () => {
    const shape = g.op('Shape', [x], { ...T, out_type: attr.type('int32') });
    const slice = [[0], [1], [1]].map((v, i) => g.constant(`slice_${i}`, ints(v)));
    const rows = g.op('StridedSlice', [shape, ...slice], {
      T: attr.type('int32'),
      Index: attr.type('int32'),
      shrink_axis_mask: attr.int(1),
      begin_mask: attr.int(0),
      end_mask: attr.int(0),
      ellipsis_mask: attr.int(0),
      new_axis_mask: attr.int(0),
    });
    const n = g.op('Cast', [rows], { SrcT: attr.type('int32'), DstT: F32, Truncate: false });
    const fraction = g.op('RealDiv', [g.op('Sub', [n, g.scalar('one', 1)], T), n], T, {
      name: 'biased_fraction',
    });
    return { n, biasedFraction: fraction };
  });
}

/** The mean of a vector over its only axis. */
const meanOf = (g: GraphBuilder, t: GraphTensor, axis0: GraphTensor) =>
  g.op('Mean', [t, axis0], { ...T, Tidx: attr.type('int32'), keep_dims: false }, { name: 'mean' });

/** The mean cross-entropy, its gradient at the logits per example, and the accuracy. */
function lossAndAccuracy(g: GraphBuilder, logits: GraphTensor, y: GraphTensor) {
  const axis0 = g.constant('axis_0', ints([0]));
  const [perExample, backprop] = g.scope('loss', () =>
    g.opWithOutputs('SoftmaxCrossEntropyWithLogits', [logits, y], T, 2),
  );
  const loss = g.scope('loss', () => meanOf(g, perExample!, axis0));
  const accuracy = g.scope('accuracy', () => {
    const axis1 = g.constant('axis_1', { dtype: 'int32', shape: [], values: [1] });
    const argMax = (t: GraphTensor) =>
      g.op('ArgMax', [t, axis1], {
        ...T,
        Tidx: attr.type('int32'),
        output_type: attr.type('int32'),
      });
    const correct = g.op('Equal', [argMax(logits), argMax(y)], {
      T: attr.type('int32'),
      incompatible_shape_error: true,
    });
    const asFloat = g.op('Cast', [correct], {
      SrcT: attr.type('bool'),
      DstT: F32,
      Truncate: false,
    });
    return meanOf(g, asFloat, axis0);
  });
  return { loss, backprop: backprop!, accuracy };
}

/** The ways the session is called: train, evaluate, and reading the variables. */
function signaturesOf(
  tensors: Record<'x' | 'y' | 'phase' | 'trainLoss' | 'loss' | 'accuracy', GraphTensor>,
  vars: Map<string, GraphVariable>,
): Record<string, Signature> {
  const spec = (tensor: GraphTensor, shape: number[]) => ({
    tensor,
    dtype: 'float32' as const,
    shape,
  });
  const feeds = {
    x: spec(tensors.x, [-1, IMAGE_SIZE]),
    y: spec(tensors.y, [-1, NUM_CLASSES]),
    phase: { tensor: tensors.phase, dtype: 'bool' as const, shape: [] },
  };
  return {
    train: { inputs: feeds, outputs: { loss: spec(tensors.trainLoss, []) } },
    evaluate: {
      inputs: feeds,
      outputs: { loss: spec(tensors.loss, []), accuracy: spec(tensors.accuracy, []) },
    },
    read: {
      inputs: {},
      outputs: Object.fromEntries(
        [...vars.values()].map((v) => [v.name, spec(v.value, v.initial.shape)]),
      ),
    },
  };
}

/** The guide's network, loss, accuracy and training step for one network, as a graph. */
export function buildGuideGraph(network: Network, options: GuideGraphOptions): GuideGraph {
  const { learningRate, updateDependency = true } = options;
  const g = new GraphBuilder();
  const x = g.placeholder('x', 'float32', [-1, IMAGE_SIZE]);
  const y = g.placeholder('y', 'float32', [-1, NUM_CLASSES]);
  const phase = g.placeholder('phase', 'bool', []);
  const vars = graphVariables(g, network);
  const { n, biasedFraction } = batchSizeNodes(g, x);
  const settings = { phase, layout: network.layout, biasedFraction };

  const blocks: BlockTrace[] = [];
  let h = x;
  network.hidden.forEach((layer, i) => {
    blocks.push(graphBlock(g, h, `layer${i + 1}`, layer, vars, settings));
    h = blocks[i]!.outputs.at(-1)!;
  });
  const top = { lastHidden: h, kernel: vars.get('logits/kernel')!, bias: vars.get('logits/bias')! };
  const logits = g.scope('logits', () => dense(g, h, top.kernel, top.bias));
  const { loss, backprop, accuracy } = lossAndAccuracy(g, logits, y);

  // minimize(loss): gradients of the mean loss, then one SGD update per variable.
  const dLogits = g.scope('gradients', () => g.op('RealDiv', [backprop, n], T, { name: 'logits' }));
  const grads = gradients(g, blocks, network.layout, top, dLogits);
  const trainStep = trainStepOp(g, grads, learningRate, updateDependency);
  // A session run fetches tensors, not ops: the loss, released only once train_step has run.
  const trainLoss = g.after('train_loss', loss, [trainStep]);
  const signatures = signaturesOf({ x, y, phase, trainLoss, loss, accuracy }, vars);
  return { graph: g, signatures, initOp: g.initialization() };
}
