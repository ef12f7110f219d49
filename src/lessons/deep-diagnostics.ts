import * as tf from '@tensorflow/tfjs';
import type { Phase } from '../nn/batchnorm-state.js';
import { dense } from '../nn/layers.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { hiddenBlock, statisticsStream, type Network } from '../nn/network.js';
import type { Histogram } from '../report/figures.js';
import { crossEntropy } from '../train/metrics.js';
import { histogram } from './activation-histograms.js';

// Notebook 09: a deep network diagnosed layer by layer, as Karpathy does in makemore part 3:
// what each hidden layer outputs, how much of it is saturated, and what gradient reaches it.

/** `depth` hidden layers of `units` each: the deep stacks of notebook 09. */
export function deepUnits(depth: number, units = 100): number[] {
  return Array.from({ length: depth }, () => units);
}

/** Where an activation stops passing gradient: tanh beyond |h| > 0.97 (Karpathy's cut), ReLU at 0. */
export function saturatedShare(h: tf.Tensor, activation: Network['activation']): number {
  return tf.tidy(() => {
    const stuck = activation === 'tanh' ? tf.greater(tf.abs(h), 0.97) : tf.equal(h, 0);
    return tf.mean(tf.cast(stuck, 'float32')).dataSync()[0]!;
  });
}

export interface LayerDiagnosis {
  /** From 1, the input side first. */
  layer: number;
  mean: number;
  std: number;
  saturated: number;
  /** The loss gradient at the layer's output, dL/dh: its standard deviation and histogram. */
  gradientStd: number;
  activations: Histogram;
  gradients: Histogram;
}

/** Logits from hidden layer `start` on (0: from the input), in the given phase. */
function logitsFrom(network: Network, start: number, h: tf.Tensor2D, phase: Phase): tf.Tensor2D {
  const context = { phase, stream: statisticsStream(network, DEFAULT_STREAM) };
  let out = h;
  for (const layer of network.hidden.slice(start))
    out = hiddenBlock(out, layer, network.layout, context, network.activation).y;
  return dense(out, network.logits);
}

/**
 * Each hidden layer's output on one batch (the training phase by default, as in training) and
 * the gradient of the batch's loss at it, as numbers and as histograms over `range`
 * (activations) and `gradientRange`.
 */
export function diagnoseLayers(
  network: Network,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  ranges: { activations: [number, number]; gradients: [number, number] },
  phase: Phase = 'training',
): LayerDiagnosis[] {
  const bins = 50;
  const meanAndStd = (values: ArrayLike<number>) => {
    let sum = 0;
    for (let k = 0; k < values.length; k++) sum += values[k]!;
    const mean = sum / values.length;
    let squares = 0;
    for (let k = 0; k < values.length; k++) squares += (values[k]! - mean) ** 2;
    return { mean, std: Math.sqrt(squares / values.length) };
  };
  return network.hidden.map((_, i) => {
    const [h, gradient] = tf.tidy(() => {
      const output = hiddenOutput(network, i + 1, x, phase);
      const lossFromHere = (input: tf.Tensor) =>
        crossEntropy(logitsFrom(network, i + 1, input as tf.Tensor2D, phase), y);
      return [output, tf.grad(lossFromHere)(output)];
    });
    const [values, grads] = [h!.dataSync(), gradient!.dataSync()];
    const diagnosis = {
      layer: i + 1,
      ...meanAndStd(values),
      saturated: saturatedShare(h!, network.activation),
      gradientStd: meanAndStd(grads).std,
      activations: histogram(values, ...ranges.activations, bins),
      gradients: histogram(grads, ...ranges.gradients, bins),
    };
    tf.dispose([h!, gradient!]);
    return diagnosis;
  });
}

/** Hidden layer `count`'s output (count 0: the input itself). */
function hiddenOutput(network: Network, count: number, x: tf.Tensor2D, phase: Phase): tf.Tensor2D {
  const context = { phase, stream: statisticsStream(network, DEFAULT_STREAM) };
  let h = x;
  for (const layer of network.hidden.slice(0, count))
    h = hiddenBlock(h, layer, network.layout, context, network.activation).y;
  return h;
}
