import type { Placement } from '../nn/layers.js';
import { namedVariables, type Mlp } from '../nn/mlp.js';
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
 * The guide's TensorFlow 1 graph, node for node: placeholders x, y and phase; dense ->
 * batch norm -> ReLU blocks whose batch norm switches on `phase`; the moving-average updates
 * collected in UPDATE_OPS; and a training step that depends on them through
 * `control_dependencies`, or, with `updateDependency: false`, the guide's trap: one that does not.
 * Batch norm runs on TensorFlow's fused kernels, as `tf.contrib.layers.batch_norm(fused=True)`.
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
  /** The ReLU's output, whose positive entries pass the gradient. */
  activated: GraphTensor;
  bn?: BatchNormTrace & { gammaVar: GraphVariable; beta: GraphVariable };
}

/** The model's variables in the graph, initialised with the model's current values. */
function graphVariables(g: GraphBuilder, model: Mlp): Map<string, GraphVariable> {
  const variables = new Map<string, GraphVariable>();
  for (const [name, variable] of namedVariables(model))
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

/** `dense_batch_relu(x, phase, scope)` in the chosen placement. */
function denseBatchRelu(
  g: GraphBuilder,
  x: GraphTensor,
  phase: GraphTensor,
  scope: string,
  placement: Placement,
  vars: Map<string, GraphVariable>,
  settings: { decay: number; epsilon: number; units: number; biasedFraction: GraphTensor },
): { y: GraphTensor; trace: BlockTrace } {
  const get = (name: string) => vars.get(`${scope}/${name}`)!;
  return g.scope(scope, () => {
    const kernel = get('dense/kernel');
    const bias = get('dense/bias');
    const h = g.scope('dense', () => dense(g, x, kernel, bias));
    if (placement === 'none') {
      const activated = g.op('Relu', [h], T, { name: 'relu' });
      return { y: activated, trace: { input: x, kernel, bias, activated } };
    }
    const v = {
      gamma: get('bn/gamma'),
      beta: get('bn/beta'),
      mean: get('bn/moving_mean'),
      variance: get('bn/moving_variance'),
    };
    if (placement === 'pre') {
      const bn = g.scope('bn', () => graphBatchNorm(g, h, phase, v, settings));
      const activated = g.op('Relu', [bn.y], T, { name: 'relu' });
      return {
        y: activated,
        trace: {
          input: x,
          kernel,
          bias,
          activated,
          bn: { ...bn.trace, gammaVar: v.gamma, beta: v.beta },
        },
      };
    }
    const activated = g.op('Relu', [h], T, { name: 'relu' });
    const bn = g.scope('bn', () => graphBatchNorm(g, activated, phase, v, settings));
    return {
      y: bn.y,
      trace: {
        input: x,
        kernel,
        bias,
        activated,
        bn: { ...bn.trace, gammaVar: v.gamma, beta: v.beta },
      },
    };
  });
}

/**
 * What `GradientDescentOptimizer.minimize(loss)` added to the guide's graph: the gradient of
 * every variable, written out with the kernels' own gradient ops, in `trainableVariables` order.
 */
function gradients(
  g: GraphBuilder,
  placement: Placement,
  blocks: BlockTrace[],
  lastHidden: GraphTensor,
  logitsKernel: GraphVariable,
  dLogits: GraphTensor,
): Array<[GraphVariable, GraphTensor]> {
  const grads: Array<[GraphVariable, GraphTensor]> = [];
  const matMul = (a: GraphTensor, b: GraphTensor, ta: boolean, tb: boolean) =>
    g.op('MatMul', [a, b], { ...T, transpose_a: ta, transpose_b: tb });
  const biasGrad = (dz: GraphTensor) => g.op('BiasAddGrad', [dz], { ...T, data_format: 'NHWC' });
  let dy = matMul(dLogits, logitsKernel.value, false, true);
  const perBlock: Array<Array<[GraphVariable, GraphTensor]>> = [];
  for (let i = blocks.length - 1; i >= 0; i--) {
    const block = blocks[i]!;
    const bnGrads: Array<[GraphVariable, GraphTensor]> = [];
    let dz: GraphTensor;
    const bnBackward = (dOut: GraphTensor, bn: NonNullable<BlockTrace['bn']>) => {
      const dNhwc = g.op(
        'Reshape',
        [dOut, g.constant('nhwc_shape', ints([-1, 1, 1, bn.units]))],
        reshapeT,
      );
      const [dx, dGamma, dBeta] = g.opWithOutputs(
        'FusedBatchNormGradV3',
        [dNhwc, bn.input, bn.gamma.value, ...bn.reserve],
        { ...T, U: F32, epsilon: attr.float(bn.epsilon), data_format: 'NHWC', is_training: true },
        5,
      );
      bnGrads.push([bn.gammaVar, dGamma!], [bn.beta, dBeta!]);
      return g.op('Reshape', [dx!, g.constant('flat_shape', ints([-1, bn.units]))], reshapeT);
    };
    g.scope(`gradients/layer${i + 1}`, () => {
      if (placement === 'none' || !block.bn) dz = g.op('ReluGrad', [dy, block.activated], T);
      else if (placement === 'pre')
        dz = bnBackward(g.op('ReluGrad', [dy, block.activated], T), block.bn);
      else dz = g.op('ReluGrad', [bnBackward(dy, block.bn), block.activated], T);
      perBlock[i] = [
        [block.kernel, matMul(block.input, dz, true, false)],
        [block.bias, biasGrad(dz)],
        ...bnGrads,
      ];
      if (i > 0) dy = matMul(dz, block.kernel.value, false, true);
    });
  }
  grads.push(...perBlock.flat());
  return grads;
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

/** The guide's network, loss, accuracy and training step for one model, as a graph. */
export function buildGuideGraph(model: Mlp, options: GuideGraphOptions): GuideGraph {
  const { learningRate, updateDependency = true } = options;
  const g = new GraphBuilder();
  const x = g.placeholder('x', 'float32', [-1, IMAGE_SIZE]);
  const y = g.placeholder('y', 'float32', [-1, NUM_CLASSES]);
  const phase = g.placeholder('phase', 'bool', []);
  const vars = graphVariables(g, model);

  // The batch size n, for the biased variance (n - 1) / n and the mean loss's gradient 1 / n.
  const n = g.scope('batch_size', () =>
    g.op(
      'Cast',
      [
        g.op(
          'StridedSlice',
          [
            g.op('Shape', [x], { ...T, out_type: attr.type('int32') }),
            ...[[0], [1], [1]].map((v, i) => g.constant(`slice_${i}`, ints(v))),
          ],
          {
            T: attr.type('int32'),
            Index: attr.type('int32'),
            shrink_axis_mask: attr.int(1),
            begin_mask: attr.int(0),
            end_mask: attr.int(0),
            ellipsis_mask: attr.int(0),
            new_axis_mask: attr.int(0),
          },
        ),
      ],
      { SrcT: attr.type('int32'), DstT: F32, Truncate: false },
    ),
  );
  const biasedFraction = g.scope('batch_size', () =>
    g.op('RealDiv', [g.op('Sub', [n, g.scalar('one', 1)], T), n], T, { name: 'biased_fraction' }),
  );

  const blocks: BlockTrace[] = [];
  let h = x;
  model.hidden.forEach((layer, i) => {
    const settings = {
      decay: layer.bn?.decay ?? 0,
      epsilon: layer.bn?.epsilon ?? 0,
      units: layer.dense.bias.shape[0],
      biasedFraction,
    };
    const out = denseBatchRelu(g, h, phase, `layer${i + 1}`, model.placement, vars, settings);
    blocks.push(out.trace);
    h = out.y;
  });
  const logitsKernel = vars.get('logits/kernel')!;
  const logits = g.scope('logits', () => dense(g, h, logitsKernel, vars.get('logits/bias')!));

  const [perExample, backprop] = g.scope('loss', () =>
    g.opWithOutputs('SoftmaxCrossEntropyWithLogits', [logits, y], T, 2),
  );
  const axis0 = g.constant('axis_0', ints([0]));
  const loss = g.scope('loss', () =>
    g.op(
      'Mean',
      [perExample!, axis0],
      { ...T, Tidx: attr.type('int32'), keep_dims: false },
      { name: 'mean' },
    ),
  );
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
    return g.op(
      'Mean',
      [asFloat, axis0],
      { ...T, Tidx: attr.type('int32'), keep_dims: false },
      { name: 'mean' },
    );
  });

  // minimize(loss): gradients of the mean loss, then one SGD update per variable.
  const dLogits = g.scope('gradients', () =>
    g.op('RealDiv', [backprop!, n], T, { name: 'logits' }),
  );
  const grads = gradients(g, model.placement, blocks, h, logitsKernel, dLogits);
  grads.push(
    [logitsKernel, g.op('MatMul', [h, dLogits], { ...T, transpose_a: true, transpose_b: false })],
    [vars.get('logits/bias')!, g.op('BiasAddGrad', [dLogits], { ...T, data_format: 'NHWC' })],
  );
  const trainStep = trainStepOp(g, grads, learningRate, updateDependency);
  // A session run fetches tensors, not ops: the loss, released only once train_step has run.
  const trainLoss = g.after('train_loss', loss, [trainStep]);

  const spec = (tensor: GraphTensor, shape: number[]) => ({
    tensor,
    dtype: 'float32' as const,
    shape,
  });
  const feeds = {
    x: spec(x, [-1, IMAGE_SIZE]),
    y: spec(y, [-1, NUM_CLASSES]),
    phase: { tensor: phase, dtype: 'bool' as const, shape: [] },
  };
  const writes = [...vars.values()].map((v) => {
    const value = g.placeholder(`write/${v.name}`, 'float32', v.initial.shape);
    return { v, value, assign: g.op('AssignVariableOp', [v.handle, value], { dtype: F32 }) };
  });
  const written = g.after(
    'written',
    g.scalar('done', 1),
    writes.map((w) => w.assign),
  );
  const signatures: Record<string, Signature> = {
    train: { inputs: feeds, outputs: { loss: spec(trainLoss, []) } },
    evaluate: { inputs: feeds, outputs: { loss: spec(loss, []), accuracy: spec(accuracy, []) } },
    logits: {
      inputs: { x: feeds.x, phase: feeds.phase },
      outputs: { logits: spec(logits, [-1, NUM_CLASSES]) },
    },
    read: {
      inputs: {},
      outputs: Object.fromEntries(
        [...vars.values()].map((v) => [v.name, spec(v.value, v.initial.shape)]),
      ),
    },
    write: {
      inputs: Object.fromEntries(writes.map((w) => [w.v.name, spec(w.value, w.v.initial.shape)])),
      outputs: { written: spec(written, []) },
    },
  };
  return { graph: g, signatures, initOp: g.initialization() };
}
