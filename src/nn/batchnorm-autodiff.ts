import * as tf from '@tensorflow/tfjs';
import {
  createMovingStatistics,
  createScaleAndShift,
  GUIDE_DECAY,
  GUIDE_EPSILON,
  updateMovingAverages,
  type BatchStats,
  type MovingStatistics,
  type Phase,
} from './batchnorm-state.js';

export const DEFAULT_STREAM = 'default';

export interface BatchNormOptions {
  units: number;
  decay?: number;
  epsilon?: number;
  /** Learn a shift beta (default true). */
  center?: boolean;
  /** Learn a scale gamma (default true). */
  scale?: boolean;
  /**
   * Names of the data streams that keep moving statistics of their own while sharing gamma
   * and beta. One stream (the default) is ordinary batch norm.
   */
  streams?: string[];
}

/** Everything an AutodiffBatchNorm holds, as plain numbers: what `toJSON` writes and `loadJSON` reads. */
export interface BatchNormJSON {
  units: number;
  decay: number;
  epsilon: number;
  gamma: number[] | null;
  beta: number[] | null;
  moving: Record<string, { mean: number[]; variance: number[] }>;
}

/**
 * Batch norm as a layer on `tf.moments` and `tf.batchNorm`, whose gradients come from tfjs
 * autodiff (the closed-form functions in batchnorm-closed-form.ts derive them by hand).
 * Every choice is explicit: the phase is an argument; the moving-average update is a
 * separate call that the caller makes (or forgets), like the guide's update ops; and each
 * named data stream can keep moving statistics of its own while sharing gamma and beta.
 */
export class AutodiffBatchNorm {
  readonly units: number;
  readonly decay: number;
  readonly epsilon: number;
  readonly gamma?: tf.Variable<tf.Rank.R1>;
  readonly beta?: tf.Variable<tf.Rank.R1>;
  private readonly moving = new Map<string, MovingStatistics>();

  constructor(options: BatchNormOptions) {
    const {
      units,
      decay = GUIDE_DECAY,
      epsilon = GUIDE_EPSILON,
      center = true,
      scale = true,
      streams = [DEFAULT_STREAM],
    } = options;
    if (!Number.isInteger(units) || units <= 0)
      throw new Error(`units must be a positive integer, got ${units}`);
    if (!(decay >= 0 && decay < 1)) throw new Error(`decay must be in [0, 1), got ${decay}`);
    if (streams.length === 0 || new Set(streams).size !== streams.length)
      throw new Error(`streams must be distinct names, got [${streams.join(', ')}]`);
    this.units = units;
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

  /** Trainable variables: gamma and beta, where enabled. */
  get trainableVariables(): tf.Variable[] {
    return [this.gamma, this.beta].filter((v): v is tf.Variable<tf.Rank.R1> => v !== undefined);
  }

  private statsOf(stream: string): MovingStatistics {
    const stats = this.moving.get(stream);
    if (!stats)
      throw new Error(`unknown batch-norm stream '${stream}' (known: ${this.streams.join(', ')})`);
    return stats;
  }

  movingMean(stream = DEFAULT_STREAM): tf.Variable<tf.Rank.R1> {
    return this.statsOf(stream).mean;
  }

  movingVariance(stream = DEFAULT_STREAM): tf.Variable<tf.Rank.R1> {
    return this.statsOf(stream).variance;
  }

  /**
   * Normalizes x [batch, units]. Training: with the batch's statistics, which are returned
   * so the caller can pass them to `update`. Inference: with the stream's moving statistics.
   */
  apply(
    x: tf.Tensor2D,
    phase: Phase,
    stream = DEFAULT_STREAM,
  ): { y: tf.Tensor2D; stats?: BatchStats } {
    const moving = this.statsOf(stream);
    if (phase === 'inference') {
      return {
        y: tf.batchNorm(
          x,
          moving.mean,
          moving.variance,
          this.beta,
          this.gamma,
          this.epsilon,
        ) as tf.Tensor2D,
      };
    }
    const { mean, variance } = tf.moments(x, 0);
    const y = tf.batchNorm(x, mean, variance, this.beta, this.gamma, this.epsilon) as tf.Tensor2D;
    return { y, stats: { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D } };
  }

  /** The update op for one stream: moving = decay * moving + (1 - decay) * batch. */
  updateMovingAverages(stats: BatchStats, stream = DEFAULT_STREAM): void {
    updateMovingAverages(this.statsOf(stream), stats, this.decay);
  }

  toJSON(): BatchNormJSON {
    const moving: BatchNormJSON['moving'] = {};
    for (const [stream, stats] of this.moving)
      moving[stream] = {
        mean: [...stats.mean.dataSync()],
        variance: [...stats.variance.dataSync()],
      };
    return {
      units: this.units,
      decay: this.decay,
      epsilon: this.epsilon,
      gamma: this.gamma ? [...this.gamma.dataSync()] : null,
      beta: this.beta ? [...this.beta.dataSync()] : null,
      moving,
    };
  }

  /** Overwrites this layer's values with saved ones; the shapes and streams must match. */
  loadJSON(json: BatchNormJSON): void {
    if (json.units !== this.units)
      throw new Error(`saved batch norm has ${json.units} units, this one ${this.units}`);
    const check = (name: string, values: number[] | null, variable?: tf.Variable) => {
      if ((values === null) !== (variable === undefined))
        throw new Error(
          `saved ${name} ${values === null ? 'is absent' : 'is present'} but this layer ${variable ? 'has' : 'has no'} ${name}`,
        );
      if (values && values.length !== this.units)
        throw new Error(`saved ${name} has ${values.length} values, expected ${this.units}`);
    };
    check('gamma', json.gamma, this.gamma);
    check('beta', json.beta, this.beta);
    const savedStreams = Object.keys(json.moving).sort();
    if (savedStreams.join() !== [...this.streams].sort().join()) {
      throw new Error(
        `saved streams [${savedStreams.join(', ')}] differ from this layer's [${this.streams.join(', ')}]`,
      );
    }
    for (const [stream, saved] of Object.entries(json.moving)) {
      check(`moving mean of '${stream}'`, saved.mean, this.statsOf(stream).mean);
      check(`moving variance of '${stream}'`, saved.variance, this.statsOf(stream).variance);
    }
    tf.tidy(() => {
      if (json.gamma) this.gamma!.assign(tf.tensor1d(json.gamma));
      if (json.beta) this.beta!.assign(tf.tensor1d(json.beta));
      for (const [stream, saved] of Object.entries(json.moving)) {
        this.statsOf(stream).mean.assign(tf.tensor1d(saved.mean));
        this.statsOf(stream).variance.assign(tf.tensor1d(saved.variance));
      }
    });
  }

  dispose(): void {
    tf.dispose(this.trainableVariables);
    for (const stats of this.moving.values()) tf.dispose([stats.mean, stats.variance]);
    this.moving.clear();
  }
}
