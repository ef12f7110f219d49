import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';
import { GUIDE_DECAY, GUIDE_EPSILON, type Phase } from './batchnorm-state.js';
import {
  BLOCK_LAYOUTS,
  activate,
  activationBackward,
  createDenseParams,
  dense,
  denseBackward,
  type Activation,
  type DenseParams,
  type Placement,
  type Stage,
} from './layers.js';
import {
  IMAGE_SHAPE,
  convBlock,
  createConvParams,
  disposeConvLayer,
  mapSideAfter,
  type ConvBlockCache,
  type ConvLayer,
  type ConvSpec,
} from './conv.js';
import {
  DEFAULT_STREAM,
  type NormContext,
  type NormLayer,
  type NormSettings,
} from './norm-layer.js';
import { normalizationEntry } from './normalizations.js';

/**
 * The one network of the course: optional convolutional blocks, then dense hidden blocks, all
 * following the placement's layout with the normalization chosen from the registry, then a
 * dense logits layer. The guide's three models, the normalized models of notebooks 05-06, the
 * two-stream model of notebook 04 and the LeNet of notebook 08 are all this network with
 * other options.
 */

export interface NetworkOptions {
  /** Where each hidden block normalizes: 'none' (no normalization), 'pre' or 'post' the ReLU. */
  placement: Placement;
  /** A registered normalization (default 'batch'); 'none' is the plain network. */
  normalization?: string;
  /** Seeds the Glorot-uniform initial weights. */
  seed?: number;
  hiddenUnits?: number[];
  /**
   * Multiplies the hidden layers' Glorot-uniform kernels (default 1), not the logits layer's:
   * notebook 05's initialisation sweep, which asks what batch norm does for the layers it follows.
   */
  initScale?: number;
  /** Moving-average decay and epsilon (default: the guide's, 0.999 and 1e-3). */
  decay?: number;
  epsilon?: number;
  /** Streams with moving statistics of their own (default: one set, shared). */
  streams?: string[];
  /** GroupNorm's groups per layer (default 10). */
  groups?: number;
  /** Batch Renorm's warm-up, in steps (default 0: open limits from the start). */
  renormWarmup?: number;
  /** Convolutional blocks before the dense ones (default none: the guide's MLP). */
  convolutional?: readonly ConvSpec[];
  /** Every block's activation (default 'relu', the guide's). */
  activation?: Activation;
}

export interface HiddenLayer {
  dense: DenseParams;
  /** Absent in the plain network. */
  norm?: NormLayer;
}

export interface Network {
  /** 'none' exactly when there is no normalization. */
  readonly placement: Placement;
  /** The registry's kind, or 'none'. */
  readonly normalization: string;
  /** The stages of every hidden block, in order: the placement as data. */
  readonly layout: readonly Stage[];
  /** What the layout's 'relu' stage applies. */
  readonly activation: Activation;
  /** The convolutional blocks, first to last (empty for an MLP). */
  readonly conv: ConvLayer[];
  readonly hidden: HiddenLayer[];
  readonly logits: DenseParams;
  /** The streams with statistics of their own; [DEFAULT_STREAM] when they share one set. */
  readonly streams: readonly string[];
}

/** The one seeding rule: layer i of a run with seed s draws its kernel from seed 100 s + i. */
export function denseSeed(seed: number, layerIndex: number): number {
  return seed * 100 + layerIndex;
}

/** Builds the network with fresh variables; the caller disposes it (`disposeNetwork`). */
export function createNetwork(options: NetworkOptions): Network {
  const { seed = 0, hiddenUnits = [100, 100], initScale = 1, streams = [DEFAULT_STREAM] } = options;
  const { convolutional = [] } = options;
  const normalization = options.placement === 'none' ? 'none' : (options.normalization ?? 'batch');
  const placement = normalization === 'none' ? 'none' : options.placement;
  const entry = normalization === 'none' ? undefined : normalizationEntry(normalization);
  for (const units of hiddenUnits)
    if (!Number.isInteger(units) || units <= 0)
      throw new Error(
        `hidden layer sizes must be positive integers, got [${hiddenUnits.join(', ')}]`,
      );
  const settings = (layer: number): NormSettings => ({
    decay: options.decay ?? GUIDE_DECAY,
    epsilon: options.epsilon ?? GUIDE_EPSILON,
    streams: [...streams],
    groups: options.groups,
    renormWarmup: options.renormWarmup,
    seed,
    layer,
  });
  const conv: ConvLayer[] = [];
  const hidden: HiddenLayer[] = [];
  const layout = BLOCK_LAYOUTS[placement];
  const { activation = 'relu' } = options;
  const network = { placement, normalization, layout, activation, conv, hidden, streams };
  try {
    // Layers are numbered from 1 across both kinds: the seeding rule and the norms' seeds use it.
    let side: number = IMAGE_SHAPE[0];
    let channels: number = IMAGE_SHAPE[2];
    convolutional.forEach((spec, i) => {
      conv.push({ conv: createConvParams(spec, channels, denseSeed(seed, i), initScale) });
      conv[i]!.norm = entry?.create(spec.filters, settings(i + 1));
      [side, channels] = [mapSideAfter(side, spec), spec.filters];
    });
    let inputs = conv.length > 0 ? side * side * channels : IMAGE_SIZE;
    hiddenUnits.forEach((units, i) => {
      const index = conv.length + i;
      hidden.push({ dense: createDenseParams(inputs, units, denseSeed(seed, index), initScale) });
      hidden[i]!.norm = entry?.create(units, settings(index + 1));
      inputs = units;
    });
    const logitsSeed = denseSeed(seed, conv.length + hiddenUnits.length);
    return { ...network, logits: createDenseParams(inputs, NUM_CLASSES, logitsSeed) };
  } catch (error) {
    for (const layer of conv) disposeConvLayer(layer);
    for (const layer of hidden) disposeLayer(layer);
    throw error;
  }
}

/** The statistics a batch of `stream` normalizes with: its own, or the shared set. */
export function statisticsStream(network: Network, stream: string): string {
  return network.streams.length === 1 ? network.streams[0]! : stream;
}

/** What one hidden block keeps from its forward pass for the backward pass. */
export interface BlockCache {
  input: tf.Tensor2D;
  /** Each stage's output; undefined for a dense stage whose ReLU ran in the same kernel. */
  outputs: Array<tf.Tensor2D | undefined>;
  /** What the normalization kept from a training-phase pass. */
  saved?: unknown;
}

/**
 * One hidden block, the guide's `dense_batch_relu` for any layout and normalization: the
 * stages in order, the phase deciding which statistics the normalization uses.
 */
export function hiddenBlock(
  x: tf.Tensor2D,
  layer: HiddenLayer,
  layout: readonly Stage[],
  context: NormContext,
  activation: Activation = 'relu',
): { y: tf.Tensor2D; cache: BlockCache } {
  const cache: BlockCache = { input: x, outputs: [] };
  let h = x;
  // A ReLU right after the dense stage runs inside its kernel: one op instead of two.
  const fusesRelu = (k: number) => activation === 'relu' && layout[k] === 'dense';
  layout.forEach((stage, k) => {
    if (stage === 'dense') {
      const fused = layout[k + 1] === 'relu' && fusesRelu(k);
      h = dense(h, layer.dense, fused ? 'relu' : 'linear');
      cache.outputs.push(fused ? undefined : h);
    } else if (stage === 'relu') {
      if (!fusesRelu(k - 1)) h = activate(h, activation);
      cache.outputs.push(h);
    } else {
      const out = layer.norm!.forward(h, context);
      h = out.y;
      cache.saved = out.saved;
      cache.outputs.push(h);
    }
  });
  return { y: h, cache };
}

/**
 * Backward through one hidden block of a training-phase pass, its stages in reverse: the
 * gradients of its variables (in `trainableVariables` order) and dx where a layer below needs it.
 */
export function hiddenBlockBackward(
  dy: tf.Tensor2D,
  layer: HiddenLayer,
  layout: readonly Stage[],
  cache: BlockCache,
  needInputGradient: boolean,
  activation: Activation = 'relu',
): { dx?: tf.Tensor2D; grads: tf.Tensor[] } {
  let gradient: tf.Tensor2D | undefined = dy;
  const grads: tf.Tensor[][] = [];
  for (let k = layout.length - 1; k >= 0; k--) {
    const stage = layout[k]!;
    if (stage === 'relu') gradient = activationBackward(gradient!, cache.outputs[k]!, activation);
    else if (stage === 'norm') {
      const norm = layer.norm!;
      if (!norm.backward)
        throw new Error(
          `${norm.kind} has no hand-derived backward pass (the autodiff step has one)`,
        );
      const out = norm.backward(gradient!, cache.saved);
      gradient = out.dx;
      grads.unshift(out.grads);
    } else {
      const input = k === 0 ? cache.input : cache.outputs[k - 1]!;
      const d = denseBackward(gradient!, input, layer.dense, needInputGradient || k > 0);
      gradient = d.dx;
      grads.unshift([d.dKernel, d.dBias]);
    }
  }
  return { dx: gradient, grads: grads.flat() };
}

/** What the backward pass and the update ops need from a training-phase forward pass. */
export interface ForwardCache {
  /** The convolutional blocks' (empty for an MLP). */
  conv: ConvBlockCache[];
  hidden: BlockCache[];
  /** Input of the logits layer. */
  lastHidden: tf.Tensor2D;
  /** The statistics the pass used. */
  stream: string;
}

/** Logits for a batch of one stream in the given phase, and what backward and the update ops need. */
export function forward(
  network: Network,
  x: tf.Tensor2D,
  phase: Phase,
  stream = DEFAULT_STREAM,
): { logits: tf.Tensor2D; cache: ForwardCache } {
  const context = { phase, stream: statisticsStream(network, stream) };
  const conv: ConvBlockCache[] = [];
  const hidden: BlockCache[] = [];
  let h = x;
  if (network.conv.length > 0) {
    let map = tf.reshape(x, [x.shape[0], ...IMAGE_SHAPE]) as tf.Tensor4D;
    for (const layer of network.conv) {
      const out = convBlock(map, layer, network.layout, context, network.activation);
      conv.push(out.cache);
      map = out.y;
    }
    h = tf.reshape(map, [x.shape[0], -1]);
  }
  for (const layer of network.hidden) {
    const out = hiddenBlock(h, layer, network.layout, context, network.activation);
    hidden.push(out.cache);
    h = out.y;
  }
  return {
    logits: dense(h, network.logits),
    cache: { conv, hidden, lastHidden: h, stream: context.stream },
  };
}

/**
 * Backpropagation written out layer by layer: pulls `dLogits` back to every variable of
 * `trainableVariables(network)`, in the same order. Given the loss gradient at the logits it
 * returns the gradients; given that gradient times -learningRate (as the lean step does,
 * backprop being linear) it returns the SGD steps.
 */
export function backward(network: Network, cache: ForwardCache, dLogits: tf.Tensor2D): tf.Tensor[] {
  if (network.conv.length > 0)
    throw new Error(
      'the hand-derived backward pass covers dense blocks only (the autodiff step trains convolutions)',
    );
  const top = denseBackward(dLogits, cache.lastHidden, network.logits, true);
  const perLayer: tf.Tensor[][] = [];
  let dy = top.dx!;
  for (let i = network.hidden.length - 1; i >= 0; i--) {
    const { dx, grads } = hiddenBlockBackward(
      dy,
      network.hidden[i]!,
      network.layout,
      cache.hidden[i]!,
      i > 0,
      network.activation,
    );
    perLayer[i] = grads;
    dy = dx!;
  }
  return [...perLayer.flat(), top.dKernel, top.dBias];
}

/**
 * Every normalization layer's update op (the guide's UPDATE_OPS collection), each fed what its
 * layer saw in a training-phase forward pass.
 */
export function updateOps(network: Network, cache: ForwardCache): Array<() => void> {
  const layers = [...network.conv, ...network.hidden];
  const caches = [...cache.conv, ...cache.hidden];
  return layers.flatMap((layer, i) => {
    const norm = layer.norm;
    if (!norm?.update) return [];
    const saved = caches[i]!.saved;
    if (saved === undefined) throw new Error('the update ops need a training-phase forward pass');
    return [() => norm.update!(saved, cache.stream)];
  });
}

/** Weights the optimizer updates, in a fixed order: per layer kernel, bias, then the normalization's. */
export function trainableVariables(network: Network): tf.Variable[] {
  return [
    ...network.conv.flatMap((layer) => [
      layer.conv.kernel,
      layer.conv.bias,
      ...(layer.norm?.trainable ?? []),
    ]),
    ...network.hidden.flatMap((layer) => [
      layer.dense.kernel,
      layer.dense.bias,
      ...(layer.norm?.trainable ?? []),
    ]),
    network.logits.kernel,
    network.logits.bias,
  ];
}

/** The kernels of every layer, the logits' included: what weight decay shrinks. */
export function kernelVariables(network: Network): tf.Variable[] {
  return [
    ...network.conv.map((layer) => layer.conv.kernel),
    ...network.hidden.map((layer) => layer.dense.kernel),
    network.logits.kernel,
  ];
}

/** Every variable, trainable or not, with a stable name such as 'layer1/bn/moving_mean'. */
export function namedVariables(network: Network): Array<[string, tf.Variable]> {
  const scope =
    network.normalization === 'none' ? '' : normalizationEntry(network.normalization).scope;
  const named: Array<[string, tf.Variable]> = [];
  network.conv.forEach((layer, i) => {
    const prefix = `conv${i + 1}`;
    named.push(
      [`${prefix}/conv/kernel`, layer.conv.kernel],
      [`${prefix}/conv/bias`, layer.conv.bias],
    );
    for (const [name, variable] of layer.norm?.variables ?? [])
      named.push([`${prefix}/${scope}/${name}`, variable]);
  });
  network.hidden.forEach((layer, i) => {
    const prefix = `layer${i + 1}`;
    named.push(
      [`${prefix}/dense/kernel`, layer.dense.kernel],
      [`${prefix}/dense/bias`, layer.dense.bias],
    );
    for (const [name, variable] of layer.norm?.variables ?? [])
      named.push([`${prefix}/${scope}/${name}`, variable]);
  });
  named.push(['logits/kernel', network.logits.kernel], ['logits/bias', network.logits.bias]);
  return named;
}

/** One variable by its name in `namedVariables`, e.g. 'layer1/bn/moving_mean'. */
export function variableOf(network: Network, name: string): tf.Variable {
  const named = namedVariables(network);
  const found = named.find(([n]) => n === name);
  if (!found)
    throw new Error(
      `the network has no variable '${name}' (it has ${named.map(([n]) => n).join(', ')})`,
    );
  return found[1];
}

/** A layer's parameter count, and how many of them are moving statistics. */
function parameterCount(weights: tf.Variable[], norm?: NormLayer): { total: number; note: string } {
  const normVariables = norm?.variables ?? [];
  const learned = new Set(norm?.trainable ?? []);
  const statistics = normVariables
    .filter(([, v]) => !learned.has(v))
    .reduce((sum, [, v]) => sum + v.size, 0);
  const total = [...weights, ...normVariables.map(([, v]) => v)].reduce(
    (sum, v) => sum + v.size,
    0,
  );
  return { total, note: statistics > 0 ? `, ${statistics} of them moving statistics` : '' };
}

/** One line per layer: the stand-in for the guide's graph picture. */
export function summarizeNetwork(network: Network): string[] {
  const label =
    network.normalization === 'none' ? '' : normalizationEntry(network.normalization).label;
  const stages = (linear: string) =>
    network.layout.map(
      (stage) => ({ norm: label, dense: linear, relu: network.activation })[stage],
    );
  let total = 0;
  let side: number = IMAGE_SHAPE[0];
  let channels: number = IMAGE_SHAPE[2];
  const lines = network.conv.map((layer, i) => {
    const [k, , , filters] = layer.conv.kernel.shape;
    const count = parameterCount([layer.conv.kernel, layer.conv.bias], layer.norm);
    total += count.total;
    const from = `${side}x${side}x${channels}`;
    const spec = { filters, kernelSize: k, padding: layer.conv.padding };
    [side, channels] = [mapSideAfter(side, spec), filters];
    const steps = [...stages(`${k}x${k} conv`), '2x2 max-pool'].join(' -> ');
    return `conv${i + 1}: ${from} -> ${side}x${side}x${channels}  (${steps}; ${count.total} parameters${count.note})`;
  });
  for (const [i, layer] of network.hidden.entries()) {
    const [inputs, units] = layer.dense.kernel.shape;
    const count = parameterCount([layer.dense.kernel, layer.dense.bias], layer.norm);
    total += count.total;
    const steps = stages('dense').join(' -> ');
    lines.push(
      `layer${i + 1}: ${inputs} -> ${units}  (${steps}; ${count.total} parameters${count.note})`,
    );
  }
  const [inputs, outputs] = network.logits.kernel.shape;
  total += inputs * outputs + outputs;
  lines.push(`logits: ${inputs} -> ${outputs}  (dense; ${inputs * outputs + outputs} parameters)`);
  lines.push(`total: ${total} parameters`);
  return lines;
}

function disposeLayer(layer: HiddenLayer): void {
  tf.dispose([layer.dense.kernel, layer.dense.bias]);
  layer.norm?.dispose();
}

export function disposeNetwork(network: Network): void {
  for (const layer of network.conv) disposeConvLayer(layer);
  for (const layer of network.hidden) disposeLayer(layer);
  tf.dispose([network.logits.kernel, network.logits.bias]);
}
