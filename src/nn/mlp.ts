import * as tf from '@tensorflow/tfjs';
import {
  createBatchNormParams,
  disposeBatchNormParams,
  movingStatistics,
} from './batchnorm-closed-form.js';
import { GUIDE_DECAY, GUIDE_EPSILON, updateMovingAverages, type Phase } from './batchnorm-state.js';
import {
  createDenseParams,
  dense,
  denseBackward,
  denseBatchRelu,
  denseBatchReluBackward,
  type DenseParams,
  type HiddenLayerCache,
  type HiddenLayerParams,
  type Placement,
} from './layers.js';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';

export interface ModelOptions {
  placement: Placement;
  /** Seeds the Glorot-uniform initial weights. */
  seed?: number;
  hiddenUnits?: number[];
  decay?: number;
  epsilon?: number;
  /** Multiplies the Glorot-uniform kernels (default 1): notebook 05's initialisation sweep. */
  initScale?: number;
}

/** The guide's MLP: 784 -> 100 -> 100 -> 10 with the chosen batch-norm placement. */
export interface Mlp {
  placement: Placement;
  hidden: HiddenLayerParams[];
  logits: DenseParams;
}

export function createModel(options: ModelOptions): Mlp {
  const {
    placement,
    seed = 0,
    hiddenUnits = [100, 100],
    decay = GUIDE_DECAY,
    epsilon = GUIDE_EPSILON,
    initScale = 1,
  } = options;
  let inputs = IMAGE_SIZE;
  const hidden = hiddenUnits.map((units, i) => {
    const layer: HiddenLayerParams = {
      dense: createDenseParams(inputs, units, seed * 100 + i, initScale),
    };
    if (placement !== 'none') layer.bn = createBatchNormParams(units, decay, epsilon);
    inputs = units;
    return layer;
  });
  return {
    placement,
    hidden,
    logits: createDenseParams(inputs, NUM_CLASSES, seed * 100 + hiddenUnits.length, initScale),
  };
}

/** What the backward pass needs from a training-phase forward pass. */
export interface ForwardCache {
  hidden: HiddenLayerCache[];
  /** Input of the logits layer. */
  lastHidden: tf.Tensor2D;
}

/** Logits for a batch, and what the backward pass and the moving-average updates need. */
export function forward(
  model: Mlp,
  x: tf.Tensor2D,
  phase: Phase,
): { logits: tf.Tensor2D; cache: ForwardCache } {
  const hidden: HiddenLayerCache[] = [];
  let h = x;
  for (const layer of model.hidden) {
    const out = denseBatchRelu(h, layer, model.placement, phase);
    hidden.push(out.cache);
    h = out.y;
  }
  return { logits: dense(h, model.logits), cache: { hidden, lastHidden: h } };
}

/**
 * Backpropagation written out layer by layer: pulls `dLogits` back to every variable of
 * `trainableVariables(model)`, in the same order. Given the loss gradient at the logits it
 * returns the gradients; given that gradient times -learningRate (as the lean step does,
 * backprop being linear) it returns the SGD steps.
 */
export function backward(model: Mlp, cache: ForwardCache, dLogits: tf.Tensor2D): tf.Tensor[] {
  const top = denseBackward(dLogits, cache.lastHidden, model.logits, true);
  const perLayer: tf.Tensor[][] = [];
  let dy = top.dx!;
  for (let i = model.hidden.length - 1; i >= 0; i--) {
    const { dx, grads } = denseBatchReluBackward(
      dy,
      model.hidden[i]!,
      model.placement,
      cache.hidden[i]!,
      i > 0,
    );
    perLayer[i] =
      grads.dGamma && grads.dBeta
        ? [grads.dKernel, grads.dBias, grads.dGamma, grads.dBeta]
        : [grads.dKernel, grads.dBias];
    dy = dx!;
  }
  return [...perLayer.flat(), top.dKernel, top.dBias];
}

/**
 * Every batch-norm layer's update op (the guide's UPDATE_OPS collection), each fed the batch
 * statistics of its layer in a training-phase forward pass.
 */
export function updateOps(model: Mlp, cache: ForwardCache): Array<() => void> {
  return model.hidden.flatMap((layer, i) => {
    if (!layer.bn) return [];
    const { bn } = layer;
    const stats = cache.hidden[i]!.bn?.stats;
    if (!stats) throw new Error('the update ops need a training-phase forward pass');
    return [() => updateMovingAverages(movingStatistics(bn), stats, bn.decay)];
  });
}

/** Weights the optimizer updates, in a fixed order. */
export function trainableVariables(model: Mlp): tf.Variable[] {
  const vars: tf.Variable[] = [];
  for (const layer of model.hidden) {
    vars.push(layer.dense.kernel, layer.dense.bias);
    if (layer.bn) vars.push(layer.bn.gamma, layer.bn.beta);
  }
  vars.push(model.logits.kernel, model.logits.bias);
  return vars;
}

/** Every variable of the model, trainable or not, with a stable descriptive name. */
export function namedVariables(model: Mlp): Array<[string, tf.Variable]> {
  const named: Array<[string, tf.Variable]> = [];
  model.hidden.forEach((layer, i) => {
    const scope = `layer${i + 1}`;
    named.push(
      [`${scope}/dense/kernel`, layer.dense.kernel],
      [`${scope}/dense/bias`, layer.dense.bias],
    );
    if (layer.bn) {
      named.push(
        [`${scope}/bn/gamma`, layer.bn.gamma],
        [`${scope}/bn/beta`, layer.bn.beta],
        [`${scope}/bn/moving_mean`, layer.bn.movingMean],
        [`${scope}/bn/moving_variance`, layer.bn.movingVariance],
      );
    }
  });
  named.push(['logits/kernel', model.logits.kernel], ['logits/bias', model.logits.bias]);
  return named;
}

/** One variable by its name in `namedVariables`, e.g. 'layer1/bn/moving_mean'. */
export function variableOf(model: Mlp, name: string): tf.Variable {
  const found = namedVariables(model).find(([n]) => n === name);
  if (!found)
    throw new Error(
      `the model has no variable '${name}' (it has ${namedVariables(model)
        .map(([n]) => n)
        .join(', ')})`,
    );
  return found[1];
}

/** One line per layer: the stand-in for the guide's graph picture. */
export function summarizeModel(model: Mlp): string[] {
  const lines: string[] = [];
  let inputs = IMAGE_SIZE;
  let total = 0;
  model.hidden.forEach((layer, i) => {
    const units = layer.dense.bias.shape[0];
    const steps =
      model.placement === 'none'
        ? 'dense -> relu'
        : model.placement === 'pre'
          ? 'dense -> batch norm -> relu'
          : 'dense -> relu -> batch norm';
    const params = inputs * units + units + (layer.bn ? 4 * units : 0);
    total += params;
    lines.push(
      `layer${i + 1}: ${inputs} -> ${units}  (${steps}; ${params} parameters${layer.bn ? `, ${2 * units} of them moving statistics` : ''})`,
    );
    inputs = units;
  });
  const outputs = model.logits.bias.shape[0];
  total += inputs * outputs + outputs;
  lines.push(`logits: ${inputs} -> ${outputs}  (dense; ${inputs * outputs + outputs} parameters)`);
  lines.push(`total: ${total} parameters`);
  return lines;
}

export function disposeModel(model: Mlp): void {
  for (const layer of model.hidden) {
    tf.dispose([layer.dense.kernel, layer.dense.bias]);
    if (layer.bn) disposeBatchNormParams(layer.bn);
  }
  tf.dispose([model.logits.kernel, model.logits.bias]);
}

/** Every variable's shape and values by name: a JSON-ready snapshot of a trained model. */
export type WeightsJSON = Record<string, { shape: number[]; values: number[] }>;

export function weightsToJSON(model: Mlp): WeightsJSON {
  const saved: WeightsJSON = {};
  for (const [name, variable] of namedVariables(model))
    saved[name] = { shape: variable.shape, values: [...variable.dataSync()] };
  return saved;
}

/** Loads a snapshot into a model of the same architecture; every variable must be present. */
export function weightsFromJSON(model: Mlp, saved: WeightsJSON): void {
  const named = namedVariables(model);
  const extra = Object.keys(saved).filter((name) => !named.some(([n]) => n === name));
  if (extra.length > 0)
    throw new Error(`saved weights have names this model lacks: ${extra.join(', ')}`);
  // Check everything before the first assign, so a bad file leaves the model as it was.
  for (const [name, variable] of named) {
    const entry = saved[name];
    if (!entry) throw new Error(`saved weights lack '${name}'`);
    if (entry.shape.join('x') !== variable.shape.join('x')) {
      throw new Error(
        `'${name}' is ${entry.shape.join('x')} in the saved weights but ${variable.shape.join('x')} in this model`,
      );
    }
    if (entry.values.length !== variable.size)
      throw new Error(
        `'${name}' has ${entry.values.length} saved values, expected ${variable.size}`,
      );
  }
  tf.tidy(() => {
    for (const [name, variable] of named)
      variable.assign(tf.tensor(saved[name]!.values, saved[name]!.shape));
  });
}
