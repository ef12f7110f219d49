import * as tf from '@tensorflow/tfjs';
import {
  batchNormBackward,
  normalizeWithBatchStats,
  type BatchNormCache,
} from './batchnorm-closed-form.js';
import { perChannel } from './conv.js';
import {
  createMovingStatistics,
  createScaleAndShift,
  updateMovingAverages,
  type MovingStatistics,
} from './batchnorm-state.js';
import {
  DEFAULT_STREAM,
  type FusedKernelParams,
  type NormContext,
  type NormLayer,
  type NormSettings,
} from './norm-layer.js';

/**
 * Batch norm (Ioffe and Szegedy, 2015) as one layer: gamma and beta, and moving statistics
 * for each data stream (one shared set unless asked otherwise). Every choice is explicit: the
 * phase is part of the context, and the moving averages move only when the update op runs.
 */
export class BatchNormLayer implements NormLayer {
  readonly kind = 'batch';
  readonly decay: number;
  readonly epsilon: number;
  readonly gamma?: tf.Variable<tf.Rank.R1>;
  readonly beta?: tf.Variable<tf.Rank.R1>;
  private readonly moving = new Map<string, MovingStatistics>();

  constructor(
    units: number,
    settings: Pick<NormSettings, 'decay' | 'epsilon'> & Partial<NormSettings>,
  ) {
    const { decay, epsilon, scale = true, center = true, streams = [DEFAULT_STREAM] } = settings;
    if (!(decay >= 0 && decay < 1)) throw new Error(`decay must be in [0, 1), got ${decay}`);
    if (streams.length === 0 || new Set(streams).size !== streams.length)
      throw new Error(`streams must be distinct names, got [${streams.join(', ')}]`);
    this.decay = decay;
    this.epsilon = epsilon;
    const { gamma, beta } = createScaleAndShift(units, { scale, center });
    this.gamma = gamma;
    this.beta = beta;
    for (const stream of streams) this.moving.set(stream, createMovingStatistics(units));
  }

  get streams(): string[] {
    return [...this.moving.keys()];
  }

  get trainable(): tf.Variable[] {
    return [this.gamma, this.beta].filter((v): v is tf.Variable<tf.Rank.R1> => v !== undefined);
  }

  /** gamma, beta, then each stream's moving mean and variance ('original/moving_mean' beside the default). */
  get variables(): Array<[string, tf.Variable]> {
    const named: Array<[string, tf.Variable]> = [];
    if (this.gamma) named.push(['gamma', this.gamma]);
    if (this.beta) named.push(['beta', this.beta]);
    for (const [stream, stats] of this.moving) {
      const prefix = stream === DEFAULT_STREAM ? '' : `${stream}/`;
      named.push(
        [`${prefix}moving_mean`, stats.mean],
        [`${prefix}moving_variance`, stats.variance],
      );
    }
    return named;
  }

  statisticsOf(stream = DEFAULT_STREAM): MovingStatistics {
    const stats = this.moving.get(stream);
    if (!stats)
      throw new Error(`unknown batch-norm stream '${stream}' (known: ${this.streams.join(', ')})`);
    return stats;
  }

  movingMean(stream = DEFAULT_STREAM): tf.Variable<tf.Rank.R1> {
    return this.statisticsOf(stream).mean;
  }

  movingVariance(stream = DEFAULT_STREAM): tf.Variable<tf.Rank.R1> {
    return this.statisticsOf(stream).variance;
  }

  /**
   * Training: normalizes with the batch's statistics and returns them (with what backward
   * needs) for the update op. Inference: normalizes with the stream's moving statistics.
   */
  forward(
    x: tf.Tensor2D,
    { phase, stream }: NormContext,
  ): { y: tf.Tensor2D; saved?: BatchNormCache } {
    if (phase === 'training') {
      const { y, cache } = normalizeWithBatchStats(x, this.gamma, this.beta, this.epsilon);
      return { y, saved: cache };
    }
    const moving = this.statisticsOf(stream);
    const y = tf.batchNorm(x, moving.mean, moving.variance, this.beta, this.gamma, this.epsilon);
    return { y: y as tf.Tensor2D };
  }

  /** Per channel: the statistics over the batch and every position of the map. */
  forwardMap(x: tf.Tensor4D, context: NormContext): { y: tf.Tensor4D; saved?: BatchNormCache } {
    return perChannel(x, (rows) => this.forward(rows, context));
  }

  /** The update op: moving = decay * moving + (1 - decay) * batch, for the stream's statistics. */
  update(saved: BatchNormCache, stream = DEFAULT_STREAM): void {
    updateMovingAverages(this.statisticsOf(stream), saved.stats, this.decay);
  }

  backward(dy: tf.Tensor2D, saved: BatchNormCache): { dx: tf.Tensor2D; grads: tf.Tensor1D[] } {
    const { dx, dGamma, dBeta } = batchNormBackward(dy, saved, this.gamma);
    return { dx, grads: [...(this.gamma ? [dGamma] : []), ...(this.beta ? [dBeta] : [])] };
  }

  /** With moving statistics, batch norm is y = a x + c: a = gamma / sqrt(var + eps), c = beta - a mean. */
  affine(stream = DEFAULT_STREAM): { a: tf.Tensor1D; c: tf.Tensor1D } {
    return tf.tidy(() => {
      const moving = this.statisticsOf(stream);
      const a = tf.div(this.gamma ?? 1, tf.sqrt(tf.add(moving.variance, this.epsilon)));
      return { a, c: tf.sub(this.beta ?? 0, tf.mul(a, moving.mean)) } as {
        a: tf.Tensor1D;
        c: tf.Tensor1D;
      };
    });
  }

  fusedKernel(): FusedKernelParams {
    if (!this.gamma || !this.beta || this.moving.size !== 1)
      throw new Error(
        "TensorFlow's fused batch norm needs gamma, beta and one set of moving statistics",
      );
    const { mean, variance } = this.statisticsOf([...this.moving.keys()][0]);
    return {
      gamma: this.gamma,
      beta: this.beta,
      movingMean: mean,
      movingVariance: variance,
      decay: this.decay,
      epsilon: this.epsilon,
    };
  }

  dispose(): void {
    tf.dispose(this.trainable);
    for (const stats of this.moving.values()) tf.dispose([stats.mean, stats.variance]);
    this.moving.clear();
  }
}
