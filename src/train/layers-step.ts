import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';
import { GUIDE_DECAY, GUIDE_EPSILON } from '../nn/batchnorm-state.js';
import type { Placement } from '../nn/layers.js';
import { namedVariables, type Mlp } from '../nn/mlp.js';
import { crossEntropy } from './metrics.js';

/**
 * The guide's model written the usual tfjs way: tf.layers, autodiff through everything,
 * and `optimizer.minimize`. It is the yardstick for the lean step (same numbers, more
 * kernels) and the home of a tfjs pitfall: `apply(x, {training: true})` moves the
 * moving averages whenever it runs, evaluation included.
 */
export function createLayersModel(
  placement: Placement,
  options: { decay?: number; epsilon?: number; hiddenUnits?: number[] } = {},
): tf.Sequential {
  const { decay = GUIDE_DECAY, epsilon = GUIDE_EPSILON, hiddenUnits = [100, 100] } = options;
  const model = tf.sequential();
  hiddenUnits.forEach((units, i) => {
    const inputShape = i === 0 ? [IMAGE_SIZE] : undefined;
    model.add(
      tf.layers.dense({
        units,
        inputShape,
        activation: placement === 'post' || placement === 'none' ? 'relu' : 'linear',
      }),
    );
    if (placement !== 'none') {
      model.add(tf.layers.batchNormalization({ momentum: decay, epsilon }));
      if (placement === 'pre') model.add(tf.layers.activation({ activation: 'relu' }));
    }
  });
  model.add(tf.layers.dense({ units: NUM_CLASSES }));
  return model;
}

/** Copies an Mlp's weights (moving statistics included) into a layers model of the same placement. */
export function copyWeightsToLayersModel(source: Mlp, target: tf.Sequential): void {
  const values: tf.Tensor[][] = [];
  for (const layer of source.hidden) {
    values.push([layer.dense.kernel, layer.dense.bias]);
    if (layer.bn)
      values.push([layer.bn.gamma, layer.bn.beta, layer.bn.movingMean, layer.bn.movingVariance]);
  }
  values.push([source.logits.kernel, source.logits.bias]);
  const weighted = target.layers.filter((layer) => layer.getWeights().length > 0);
  if (weighted.length !== values.length)
    throw new Error(
      `layers model has ${weighted.length} weighted layers, the Mlp ${values.length}`,
    );
  weighted.forEach((layer, i) => layer.setWeights(values[i]!));
}

/** Copies a layers model's weights back into an Mlp of the same placement (the reverse of the above). */
export function copyWeightsFromLayersModel(source: tf.Sequential, target: Mlp): void {
  const values = layersModelVariables(source);
  const variables = namedVariables(target);
  if (values.length !== variables.length)
    throw new Error(`layers model has ${values.length} weights, the Mlp ${variables.length}`);
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

/** The layers model's variables, in the order of `namedVariables` for an Mlp of the same placement. */
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
