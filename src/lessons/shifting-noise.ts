import * as tf from '@tensorflow/tfjs';
import { BatchNormLayer } from '../nn/batchnorm-layer.js';
import { forward, type Network } from '../nn/network.js';
import type { NormContext, NormLayer, NormSettings, NormalizationEntry } from '../nn/norm-layer.js';
import { seededRandom } from '../runtime/random.js';

// Notebook 05's test of internal covariate shift, as one more normalization: batch norm whose
// output is shaken at every training step, so that the distribution each ReLU sees keeps moving.

export interface NoiseSettings {
  /** Each unit's factor is drawn log-uniformly from [1/maxScale, maxScale]. */
  maxScale: number;
  /** Each unit's shift is drawn uniformly from [-maxShift, maxShift]. */
  maxShift: number;
}

/**
 * Batch norm, then in the training phase every unit scaled and shifted by values drawn afresh
 * at each pass (Santurkar et al.'s noisy batch norm). Inference is batch norm's, noise-free.
 */
export class NoisyBatchNorm implements NormLayer {
  readonly kind = 'batch+noise';
  private readonly bn: BatchNormLayer;
  private readonly random: () => number;

  constructor(
    private readonly units: number,
    settings: NormSettings,
    private readonly noise: NoiseSettings,
  ) {
    this.bn = new BatchNormLayer(units, settings);
    this.random = seededRandom(`noise-${settings.seed}-${settings.layer}`);
  }

  get trainable(): tf.Variable[] {
    return this.bn.trainable;
  }

  get variables(): ReadonlyArray<readonly [string, tf.Variable]> {
    return this.bn.variables;
  }

  forward(x: tf.Tensor2D, context: NormContext): { y: tf.Tensor2D; saved?: unknown } {
    const out = this.bn.forward(x, context);
    if (context.phase === 'inference') return out;
    const draw = (f: () => number) => tf.tensor1d(Array.from({ length: this.units }, f));
    const logScale = Math.log(this.noise.maxScale);
    const scale = draw(() => Math.exp((2 * this.random() - 1) * logScale));
    const shift = draw(() => (2 * this.random() - 1) * this.noise.maxShift);
    return { y: tf.add(tf.mul(out.y, scale), shift), saved: out.saved };
  }

  update(saved: unknown, stream?: string): void {
    this.bn.update(saved as Parameters<BatchNormLayer['update']>[0], stream);
  }

  dispose(): void {
    this.bn.dispose();
  }
}

/** The registry entry for batch norm with shifting noise ('batch+noise'). */
export function shiftingNoise(noise: NoiseSettings): NormalizationEntry {
  return {
    kind: 'batch+noise',
    label: 'BN + shifting noise',
    scope: 'bn',
    create: (units, settings) => new NoisyBatchNorm(units, settings, noise),
  };
}

/** Each hidden layer's dense output (before any normalization or ReLU): per-unit mean and std. */
export function preActivationMoments(
  network: Network,
  x: tf.Tensor2D,
): Array<{ mean: Float32Array; std: Float32Array }> {
  return tf.tidy(() => {
    const { cache } = forward(network, x, 'inference');
    return network.hidden.map((layer, i) => {
      const dense = tf.fused.matMul({
        a: cache.hidden[i]!.input,
        b: layer.dense.kernel,
        bias: layer.dense.bias,
      });
      const { mean, variance } = tf.moments(dense, 0);
      return {
        mean: mean.dataSync() as Float32Array,
        std: tf.sqrt(variance).dataSync() as Float32Array,
      };
    });
  });
}

/** How far a layer's input distribution moves, in the noise's units: per unit, then averaged. */
export interface Drift {
  /** Mean over units of |change of the unit's mean| / its std. */
  shift: number;
  /** Mean over units of |change of log(std)|. */
  logScale: number;
}

/** The drift between two sets of moments of one layer. */
export function driftBetween(
  before: { mean: Float32Array; std: Float32Array },
  after: { mean: Float32Array; std: Float32Array },
): Drift {
  let shift = 0;
  let logScale = 0;
  const units = before.mean.length;
  for (let j = 0; j < units; j++) {
    shift += Math.abs(after.mean[j]! - before.mean[j]!) / before.std[j]!;
    logScale += Math.abs(Math.log(after.std[j]! / before.std[j]!));
  }
  return { shift: shift / units, logScale: logScale / units };
}

/**
 * What the noise moves per step, in the same units: E|a - b| for two independent draws from
 * U[-m, m] is 2m/3, for the shift (m = maxShift) and the log scale (m = log maxScale).
 */
export function noiseDrift(noise: NoiseSettings): Drift {
  return { shift: (2 * noise.maxShift) / 3, logScale: (2 * Math.log(noise.maxScale)) / 3 };
}
