import * as tf from '@tensorflow/tfjs';
import { forward, type Network } from '../nn/network.js';
import type { Phase } from '../nn/batchnorm-state.js';
import type { Histogram } from '../report/figures.js';

// Notebook 04: how the distribution of layer 2's inputs to BN moves during training.

/** Equal-width histogram of the given values over [min, max). */
export function histogram(
  values: ArrayLike<number>,
  min: number,
  max: number,
  bins: number,
): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const width = (max - min) / bins;
  for (let i = 0; i < values.length; i++) {
    const bin = Math.floor((values[i]! - min) / width);
    if (bin >= 0 && bin < bins) counts[bin]!++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => min + i * width), counts };
}

/**
 * Layer 2's values for the given examples, as one batch in the given phase: its dense output
 * (before BN or ReLU) and, where the block has a normalization, that normalization's output.
 */
export function layer2Activations(
  network: Network,
  x: tf.Tensor2D,
  phase: Phase,
): { dense: Float32Array; normalized?: Float32Array } {
  return tf.tidy(() => {
    const { cache } = forward(network, x, phase);
    const layer = network.hidden[1]!;
    const dense = tf.fused.matMul({
      a: cache.hidden[1]!.input,
      b: layer.dense.kernel,
      bias: layer.dense.bias,
    });
    const normIndex = network.layout.indexOf('norm');
    const normalized = normIndex === -1 ? undefined : cache.hidden[1]!.outputs[normIndex];
    return {
      dense: dense.dataSync() as Float32Array,
      ...(normalized && { normalized: normalized.dataSync() as Float32Array }),
    };
  });
}
