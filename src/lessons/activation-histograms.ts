import * as tf from '@tensorflow/tfjs';
import { forward, type Network } from '../nn/network.js';
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

/** Layer-2 pre-activations (dense output, before BN or ReLU) of the given examples, inference phase. */
export function layer2PreActivations(network: Network, x: tf.Tensor2D): Float32Array {
  return tf.tidy(() => {
    const { cache } = forward(network, x, 'inference');
    const layer = network.hidden[1]!;
    return tf.fused
      .matMul({ a: cache.hidden[1]!.input, b: layer.dense.kernel, bias: layer.dense.bias })
      .dataSync() as Float32Array;
  });
}
