import * as tf from '@tensorflow/tfjs';
import { BatchNormLayer } from '../nn/batchnorm-layer.js';
import { updateMovingAverages, type BatchStats } from '../nn/batchnorm-state.js';
import type { NormContext, NormLayer, NormSettings, NormalizationEntry } from '../nn/norm-layer.js';

// Notebook 05's regularization account: batch norm whose statistics come from small groups of
// the batch ("ghost batches", Hoffer, Hubara and Soudry, 2017), so that each example's output
// depends on fewer, more random neighbours, without changing the batch the gradient averages.

/**
 * Batch norm with training-phase statistics per group of `groupSize` consecutive rows. The
 * update op folds in the mean of the groups' means and of their variances; inference is batch
 * norm's, with the moving statistics.
 */
export class GhostBatchNorm implements NormLayer {
  readonly kind: string;
  private readonly bn: BatchNormLayer;

  constructor(
    units: number,
    settings: NormSettings,
    private readonly groupSize: number,
  ) {
    this.kind = ghostKind(groupSize);
    this.bn = new BatchNormLayer(units, settings);
  }

  get trainable(): tf.Variable[] {
    return this.bn.trainable;
  }

  get variables(): ReadonlyArray<readonly [string, tf.Variable]> {
    return this.bn.variables;
  }

  forward(x: tf.Tensor2D, context: NormContext): { y: tf.Tensor2D; saved?: BatchStats } {
    if (context.phase === 'inference') return { y: this.bn.forward(x, context).y };
    const [rows, units] = x.shape;
    if (rows % this.groupSize !== 0)
      throw new Error(
        `ghost batches of ${this.groupSize} need a batch that is a multiple of ${this.groupSize}, got ${rows}`,
      );
    const groups = tf.reshape(x, [rows / this.groupSize, this.groupSize, units]);
    const { mean, variance } = tf.moments(groups, 1, true);
    const xHat = tf.mul(tf.sub(groups, mean), tf.rsqrt(tf.add(variance, this.bn.epsilon)));
    const scaled = this.bn.gamma ? tf.mul(xHat, this.bn.gamma) : xHat;
    const y = tf.reshape(this.bn.beta ? tf.add(scaled, this.bn.beta) : scaled, [rows, units]);
    const stats = {
      mean: tf.mean(mean, [0, 1]) as tf.Tensor1D,
      variance: tf.mean(variance, [0, 1]) as tf.Tensor1D,
    };
    return { y: y as tf.Tensor2D, saved: stats };
  }

  update(saved: unknown, stream?: string): void {
    updateMovingAverages(this.bn.statisticsOf(stream), saved as BatchStats, this.bn.decay);
  }

  affine(stream?: string): { a: tf.Tensor1D; c: tf.Tensor1D } {
    return this.bn.affine(stream);
  }

  dispose(): void {
    this.bn.dispose();
  }
}

/** The registry's name for ghost batches of `groupSize`: 'ghost10', ... */
export function ghostKind(groupSize: number): string {
  return `ghost${groupSize}`;
}

/** The registry entry for batch norm over ghost batches of `groupSize` rows. */
export function ghostBatchNorm(groupSize: number): NormalizationEntry {
  if (!Number.isSafeInteger(groupSize) || groupSize < 2)
    throw new Error(`a ghost batch needs at least 2 rows, got ${groupSize}`);
  return {
    kind: ghostKind(groupSize),
    label: `BN, ghost batches of ${groupSize}`,
    scope: 'bn',
    create: (units, settings) => new GhostBatchNorm(units, settings, groupSize),
  };
}
