import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';
import { GUIDE_DECAY, GUIDE_EPSILON } from '../nn/batchnorm-state.js';
import { IMAGE_SHAPE, convSpecOf } from '../nn/conv.js';
import { BLOCK_LAYOUTS, type Activation, type Stage } from '../nn/layers.js';
import { namedVariables, type Network, type NetworkOptions } from '../nn/network.js';
import { forwardEvaluate } from './evaluation.js';
import { crossEntropy } from './metrics.js';
import type { TrainingStep } from './step.js';

/**
 * The network written the usual tfjs way, for comparison: tf.layers, autodiff through
 * everything, and `optimizer.minimize`. It is the yardstick for the other steps (same numbers,
 * more kernels) and the home of a tfjs pitfall: `apply(x, {training: true})` moves the moving
 * averages whenever it runs, evaluation included. tf.layers has batch norm, so the network's
 * normalization must be batch norm or none.
 */
export function createLayersModel(
  options: Pick<
    NetworkOptions,
    'placement' | 'decay' | 'epsilon' | 'hiddenUnits' | 'convolutional' | 'activation'
  >,
): tf.Sequential {
  const { decay = GUIDE_DECAY, epsilon = GUIDE_EPSILON, hiddenUnits = [100, 100] } = options;
  const { convolutional = [], activation = 'relu' } = options;
  const block = { activation, decay, epsilon };
  const layout = BLOCK_LAYOUTS[options.placement];
  const model = tf.sequential();
  if (convolutional.length > 0) {
    model.add(tf.layers.reshape({ targetShape: [...IMAGE_SHAPE], inputShape: [IMAGE_SIZE] }));
    for (const spec of convolutional) {
      addBlock(model, layout, block, (fused) =>
        tf.layers.conv2d({ ...spec, padding: spec.padding ?? 'valid', activation: fused }),
      );
      model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    }
    model.add(tf.layers.flatten());
  }
  hiddenUnits.forEach((units, i) => {
    const inputShape = i === 0 && convolutional.length === 0 ? [IMAGE_SIZE] : undefined;
    addBlock(model, layout, block, (fused) =>
      tf.layers.dense({ units, inputShape, activation: fused }),
    );
  });
  model.add(tf.layers.dense({ units: NUM_CLASSES }));
  return model;
}

/** One block's stages as tf.layers layers: the weights layer (ReLU fused in where it follows), batch norm, ReLU. */
function addBlock(
  model: tf.Sequential,
  layout: readonly Stage[],
  { activation, decay, epsilon }: { activation: Activation; decay: number; epsilon: number },
  weightsLayer: (activation: Activation | 'linear') => tf.layers.Layer,
): void {
  layout.forEach((stage, k) => {
    const activationFollows = layout[k + 1] === 'relu';
    if (stage === 'dense') model.add(weightsLayer(activationFollows ? activation : 'linear'));
    else if (stage === 'norm')
      model.add(tf.layers.batchNormalization({ momentum: decay, epsilon }));
    else if (layout[k - 1] !== 'dense') model.add(tf.layers.activation({ activation }));
  });
}

/** The network's variables in tf.layers' order: each layer's weights, moving statistics last. */
function layersOrder(network: Network): tf.Tensor[][] {
  const values: tf.Tensor[][] = [];
  const weightsLayers = [
    ...network.conv.map((layer) => ({ weights: [layer.conv.kernel, layer.conv.bias], ...layer })),
    ...network.hidden.map((layer) => ({
      weights: [layer.dense.kernel, layer.dense.bias],
      ...layer,
    })),
  ];
  for (const layer of weightsLayers) {
    values.push(layer.weights);
    if (layer.norm) {
      const bn = layer.norm.fusedKernel!();
      values.push([bn.gamma, bn.beta, bn.movingMean, bn.movingVariance]);
    }
  }
  values.push([network.logits.kernel, network.logits.bias]);
  return values;
}

/** Copies a network's weights (moving statistics included) into a layers model of its shape. */
export function copyWeightsToLayersModel(source: Network, target: tf.Sequential): void {
  const values = layersOrder(source);
  const weighted = target.layers.filter((layer) => layer.getWeights().length > 0);
  if (weighted.length !== values.length)
    throw new Error(
      `layers model has ${weighted.length} weighted layers, the network ${values.length}`,
    );
  weighted.forEach((layer, i) => layer.setWeights(values[i]!));
}

/** Copies a layers model's weights back into a network of its shape (the reverse of the above). */
export function copyWeightsFromLayersModel(source: tf.Sequential, target: Network): void {
  const values = layersModelVariables(source);
  const variables = namedVariables(target);
  if (values.length !== variables.length)
    throw new Error(`layers model has ${values.length} weights, the network ${variables.length}`);
  tf.tidy(() => variables.forEach(([, variable], i) => variable.assign(values[i]!.clone())));
}

/** The `index`-th batch-norm layer of a tf.layers model, its weights by name (they are views: do not dispose). */
export function layersBatchNorm(
  model: tf.Sequential,
  index = 0,
): { gamma: tf.Tensor; beta: tf.Tensor; movingMean: tf.Tensor; movingVariance: tf.Tensor } {
  const layer = model.layers.filter((l) => l.getClassName() === 'BatchNormalization')[index];
  if (!layer) throw new Error(`the model has no batch-norm layer number ${index}`);
  // tf.layers keeps them in this order: gamma, beta, moving mean, moving variance.
  const [gamma, beta, movingMean, movingVariance] = layer.getWeights();
  return { gamma: gamma!, beta: beta!, movingMean: movingMean!, movingVariance: movingVariance! };
}

/** The layers model's variables, in the order of `namedVariables` for a network of its shape. */
export function layersModelVariables(model: tf.Sequential): tf.Tensor[] {
  return model.layers.flatMap((layer) => layer.getWeights());
}

/** The straightforward training step: one `minimize` over the layers model's trainable weights. */
export function layersTrainingStep(
  model: tf.Sequential,
  optimizer: tf.Optimizer,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
): void {
  tf.tidy(() => {
    optimizer.minimize(() => crossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y));
  });
}

/** The tf.layers step as the trainer runs it, on a copy of the network that `syncNetwork` brings back. */
export function layersStep(network: Network, learningRate: number): TrainingStep {
  const [first] = [...network.conv, ...network.hidden];
  const kernel = first?.norm?.fusedKernel?.();
  const layersModel = createLayersModel({
    placement: network.placement,
    decay: kernel?.decay,
    epsilon: kernel?.epsilon,
    hiddenUnits: network.hidden.map((layer) => layer.dense.bias.shape[0]),
    convolutional: network.conv.map(convSpecOf),
    activation: network.activation,
  });
  copyWeightsToLayersModel(network, layersModel);
  const optimizer = tf.train.sgd(learningRate);
  return {
    kind: 'layers',
    run: (x, y) => layersTrainingStep(layersModel, optimizer, x, y),
    // Evaluating through the layers model in training mode would move its moving averages
    // (the tfjs pitfall), so evaluations run the network's forward pass on the synced values.
    evaluate: (split, phase) => forwardEvaluate(network, split, phase),
    syncNetwork: () => copyWeightsFromLayersModel(layersModel, network),
    dispose: () => {
      optimizer.dispose();
      layersModel.dispose();
    },
  };
}
