import * as tf from '@tensorflow/tfjs';
import {
  batchRenorm,
  groupNorm,
  groupNormMap,
  layerNorm,
  type RenormLimits,
} from './alternatives.js';
import { perChannel } from './conv.js';
import {
  createMovingStatistics,
  createScaleAndShift,
  updateMovingAverages,
  type BatchStats,
  type MovingStatistics,
} from './batchnorm-state.js';
import {
  DEFAULT_STREAM,
  type NormContext,
  type NormLayer,
  type NormSettings,
} from './norm-layer.js';

/**
 * LayerNorm, GroupNorm and Batch Renorm as layers of the one network: each holds its gamma and
 * beta (and Batch Renorm its moving statistics) and runs the functions of alternatives.ts.
 */

/** gamma and beta, both learned: what every layer here starts from. */
abstract class ScaleAndShift implements NormLayer {
  abstract readonly kind: string;
  readonly gamma: tf.Variable<tf.Rank.R1>;
  readonly beta: tf.Variable<tf.Rank.R1>;

  constructor(units: number) {
    const { gamma, beta } = createScaleAndShift(units);
    [this.gamma, this.beta] = [gamma!, beta!];
  }

  get trainable(): tf.Variable[] {
    return [this.gamma, this.beta];
  }

  get variables(): Array<[string, tf.Variable]> {
    return [
      ['gamma', this.gamma],
      ['beta', this.beta],
    ];
  }

  abstract forward(x: tf.Tensor2D, context: NormContext): { y: tf.Tensor2D; saved?: unknown };

  dispose(): void {
    tf.dispose(this.trainable);
  }
}

/** Per-example statistics: the same computation in both phases, and nothing to update. */
abstract class PerExampleNorm extends ScaleAndShift {
  constructor(
    units: number,
    readonly epsilon: number,
  ) {
    super(units);
  }
}

export class LayerNormLayer extends PerExampleNorm {
  readonly kind = 'layer';

  forward(x: tf.Tensor2D): { y: tf.Tensor2D } {
    return { y: layerNorm(x, this.gamma, this.beta, this.epsilon) };
  }

  /** On a map, each example over all its positions and channels: GroupNorm with one group. */
  forwardMap(x: tf.Tensor4D): { y: tf.Tensor4D } {
    return { y: groupNormMap(x, this.gamma, this.beta, 1, this.epsilon) };
  }
}

export class GroupNormLayer extends PerExampleNorm {
  readonly kind = 'group';

  constructor(
    units: number,
    epsilon: number,
    readonly groups: number,
  ) {
    // Checked before the variables exist, so a bad setting leaves nothing behind.
    if (!Number.isInteger(groups) || groups <= 0 || units % groups !== 0)
      throw new Error(`${units} features do not split into ${groups} equal groups`);
    super(units, epsilon);
  }

  forward(x: tf.Tensor2D): { y: tf.Tensor2D } {
    return { y: groupNorm(x, this.gamma, this.beta, this.groups, this.epsilon) };
  }

  /** On a map, each example's channel groups over all positions. */
  forwardMap(x: tf.Tensor4D): { y: tf.Tensor4D } {
    return { y: groupNormMap(x, this.gamma, this.beta, this.groups, this.epsilon) };
  }
}

/** The limits the Batch Renorm paper reaches after its warm-up. */
export const RENORM_LIMITS: RenormLimits = { rMax: 3, dMax: 5 };

/**
 * Batch Renorm with one set of moving statistics. Its corrections open from (1, 0), plain
 * batch norm, to RENORM_LIMITS over `warmup` updates, as the paper ramps them.
 */
export class BatchRenormLayer extends ScaleAndShift {
  readonly kind = 'renorm';
  readonly moving: MovingStatistics;
  /** Updates so far: the warm-up's clock. */
  private updates = 0;

  constructor(
    units: number,
    private readonly settings: Pick<NormSettings, 'decay' | 'epsilon' | 'renormWarmup'>,
  ) {
    super(units);
    this.moving = createMovingStatistics(units);
  }

  override get variables(): Array<[string, tf.Variable]> {
    return [
      ...super.variables,
      ['moving_mean', this.moving.mean],
      ['moving_variance', this.moving.variance],
    ];
  }

  /** The clipping limits of the next training step. */
  limits(): RenormLimits {
    const warmup = this.settings.renormWarmup ?? 0;
    const ramp = warmup > 0 ? Math.min(1, (this.updates + 1) / warmup) : 1;
    return { rMax: 1 + (RENORM_LIMITS.rMax - 1) * ramp, dMax: RENORM_LIMITS.dMax * ramp };
  }

  forward(x: tf.Tensor2D, { phase }: NormContext): { y: tf.Tensor2D; saved?: BatchStats } {
    const { epsilon } = this.settings;
    if (phase === 'inference') {
      const { mean, variance } = this.moving;
      return { y: tf.batchNorm(x, mean, variance, this.beta, this.gamma, epsilon) as tf.Tensor2D };
    }
    const { y, batch } = batchRenorm(x, this.gamma, this.beta, this.moving, this.limits(), epsilon);
    return { y, saved: batch };
  }

  /** Per channel, as batch norm: the statistics over the batch and every position. */
  forwardMap(x: tf.Tensor4D, context: NormContext): { y: tf.Tensor4D; saved?: BatchStats } {
    return perChannel(x, (rows) => this.forward(rows, context));
  }

  update(saved: BatchStats): void {
    updateMovingAverages(this.moving, saved, this.settings.decay);
    this.updates++;
  }

  override dispose(): void {
    super.dispose();
    tf.dispose([this.moving.mean, this.moving.variance]);
  }
}

/** Layers whose statistics are shared by every stream reject per-stream settings in one line. */
export function requireOneStream(kind: string, streams: string[]): void {
  if (streams.length !== 1 || streams[0] !== DEFAULT_STREAM)
    throw new Error(`${kind} keeps no per-stream statistics (asked for ${streams.join(', ')})`);
}
