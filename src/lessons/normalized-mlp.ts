import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../data/batches.js';
import { gatherBatch, type DeviceSplit, type TrainTest } from '../data/device-split.js';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';
import { batchRenorm, groupNorm, layerNorm, type RenormLimits } from '../nn/alternatives.js';
import { normalizeWithBatchStats } from '../nn/batchnorm-closed-form.js';
import {
  createMovingStatistics,
  createScaleAndShift,
  GUIDE_EPSILON,
  updateMovingAverages,
  type BatchStats,
  type MovingStatistics,
  type Phase,
} from '../nn/batchnorm-state.js';
import { createDenseParams, dense, type DenseParams } from '../nn/layers.js';
import { seededRandom } from '../runtime/random.js';
import { yieldToEventLoop } from '../runtime/event-loop.js';
import { accuracy, crossEntropy } from '../train/metrics.js';

// Notebooks 05 and 06: the guide's 784-100-100-10 network with any normalization before each
// ReLU, trained with autodiff, so that batch norm and what replaces it train the same way.

export const NORMALIZERS = ['none', 'batch', 'renorm', 'layer', 'group'] as const;
export type Normalizer = (typeof NORMALIZERS)[number];

export const NORMALIZER_LABELS: Record<Normalizer, string> = {
  none: 'no normalization',
  batch: 'BatchNorm',
  renorm: 'Batch Renorm',
  layer: 'LayerNorm',
  group: 'GroupNorm',
};

interface NormLayer {
  dense: DenseParams;
  gamma?: tf.Variable<tf.Rank.R1>;
  beta?: tf.Variable<tf.Rank.R1>;
  /** Batch norm and Batch Renorm only: the statistics inference normalizes with. */
  moving?: MovingStatistics;
}

export interface NormalizedMlp {
  normalizer: Normalizer;
  hidden: NormLayer[];
  logits: DenseParams;
  decay: number;
  /** GroupNorm's number of groups per layer. */
  groups: number;
}

export interface NormalizedMlpOptions {
  normalizer: Normalizer;
  /** Seeds the dense weights as `createModel` does: the same seed starts from the same weights. */
  seed?: number;
  decay?: number;
  groups?: number;
}

export function createNormalizedMlp(options: NormalizedMlpOptions): NormalizedMlp {
  const { normalizer, seed = 0, decay = 0.99, groups = 10 } = options;
  let inputs = IMAGE_SIZE;
  const hidden = [100, 100].map((units, i) => {
    const layer: NormLayer = { dense: createDenseParams(inputs, units, seed * 100 + i) };
    if (normalizer !== 'none') Object.assign(layer, createScaleAndShift(units));
    if (normalizer === 'batch' || normalizer === 'renorm')
      layer.moving = createMovingStatistics(units);
    inputs = units;
    return layer;
  });
  return {
    normalizer,
    hidden,
    logits: createDenseParams(inputs, NUM_CLASSES, seed * 100 + 2),
    decay,
    groups,
  };
}

export function normalizedMlpVariables(model: NormalizedMlp): tf.Variable[] {
  const variables: tf.Variable[] = [];
  for (const layer of model.hidden) {
    variables.push(layer.dense.kernel, layer.dense.bias);
    if (layer.gamma && layer.beta) variables.push(layer.gamma, layer.beta);
  }
  variables.push(model.logits.kernel, model.logits.bias);
  return variables;
}

export function disposeNormalizedMlp(model: NormalizedMlp): void {
  tf.dispose(normalizedMlpVariables(model));
  for (const layer of model.hidden)
    if (layer.moving) tf.dispose([layer.moving.mean, layer.moving.variance]);
}

/** Extra behaviour of a training-phase forward pass. */
export interface NormForwardOptions {
  /** Batch Renorm's limits for this step. */
  limits?: RenormLimits;
  /** Per hidden layer: a scale and a shift applied after normalization (notebook 05's noise). */
  noise?: Array<{ scale: tf.Tensor1D; shift: tf.Tensor1D }>;
}

/** dense -> normalization -> ReLU twice, then the logits; in training, also the batch statistics. */
export function normalizedForward(
  model: NormalizedMlp,
  x: tf.Tensor2D,
  phase: Phase,
  options: NormForwardOptions = {},
): { logits: tf.Tensor2D; stats: BatchStats[] } {
  const stats: BatchStats[] = [];
  let h = x;
  model.hidden.forEach((layer, i) => {
    const z = dense(h, layer.dense);
    const { gamma, beta, moving } = layer;
    let n: tf.Tensor2D;
    if (model.normalizer === 'none' || !gamma || !beta) n = z;
    else if (model.normalizer === 'layer') n = layerNorm(z, gamma, beta, GUIDE_EPSILON);
    else if (model.normalizer === 'group')
      n = groupNorm(z, gamma, beta, model.groups, GUIDE_EPSILON);
    else if (phase === 'inference' || !moving)
      n = tf.batchNorm(
        z,
        moving!.mean,
        moving!.variance,
        beta,
        gamma,
        GUIDE_EPSILON,
      ) as tf.Tensor2D;
    else if (model.normalizer === 'renorm') {
      const out = batchRenorm(
        z,
        gamma,
        beta,
        moving,
        options.limits ?? RENORM_LIMITS,
        GUIDE_EPSILON,
      );
      stats.push(out.batch);
      n = out.y;
    } else {
      const out = normalizeWithBatchStats(z, gamma, beta, GUIDE_EPSILON);
      stats.push(out.cache.stats);
      n = out.y;
    }
    const noise = phase === 'training' ? options.noise?.[i] : undefined;
    if (noise) n = tf.add(tf.mul(n, noise.scale), noise.shift);
    h = tf.relu(n);
  });
  return { logits: dense(h, model.logits), stats };
}

/** The limits the Batch Renorm paper reaches after its warm-up. */
export const RENORM_LIMITS: RenormLimits = { rMax: 3, dMax: 5 };

/**
 * One SGD step with autodiff. The moving averages (batch norm and Batch Renorm) are updated
 * from the same forward pass, with the update op batch norm uses everywhere.
 */
export function normalizedStep(
  model: NormalizedMlp,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  learningRate: number,
  options: NormForwardOptions = {},
): number {
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const { logits, stats } = normalizedForward(model, x, 'training', options);
      model.hidden.forEach((layer, i) => {
        if (layer.moving && stats[i]) updateMovingAverages(layer.moving, stats[i]!, model.decay);
      });
      return crossEntropy(logits, y);
    }, normalizedMlpVariables(model));
    for (const variable of normalizedMlpVariables(model))
      variable.assign(tf.sub(variable, tf.mul(grads[variable.name]!, learningRate)));
    return value;
  });
  const value = loss.dataSync()[0]!;
  loss.dispose();
  return value;
}

/** Inference-phase loss and accuracy on a whole split. */
export function evaluateNormalized(
  model: NormalizedMlp,
  split: DeviceSplit,
): { loss: number; accuracy: number } {
  const [loss, acc] = tf.tidy(() => {
    const { logits } = normalizedForward(model, split.x, 'inference');
    return [crossEntropy(logits, split.y), accuracy(logits, split.y)];
  });
  const values = { loss: loss.dataSync()[0]!, accuracy: acc.dataSync()[0]! };
  tf.dispose([loss, acc]);
  return values;
}

export interface NormalizedRunConfig extends NormalizedMlpOptions {
  batchSize: number;
  steps: number;
  learningRate: number;
  /** Batch Renorm: steps over which rMax and dMax grow from (1, 0) to their limits. */
  renormWarmup?: number;
  /** Per step: the noise after each normalization (notebook 05). */
  noise?: (step: number) => NormForwardOptions['noise'];
  /** Evaluate on the test set every this many steps (and after the last). */
  evalEvery?: number;
}

export interface NormalizedRunPoint {
  step: number;
  /** Mean training loss over the steps since the previous point. */
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
}

/** Trains one normalized MLP and returns its test metrics as training goes. */
export async function trainNormalized(
  data: TrainTest,
  config: NormalizedRunConfig,
  hooks: { onStep?: (step: number) => void; signal?: AbortSignal } = {},
): Promise<NormalizedRunPoint[]> {
  const { batchSize, steps, learningRate, seed = 0, evalEvery = steps } = config;
  const model = createNormalizedMlp(config);
  const sampler = new BatchSampler(data.train.count, batchSize, `normalized-${seed}`);
  const warmup = config.renormWarmup ?? 0;
  const points: NormalizedRunPoint[] = [];
  let lossSum = 0;
  let lossCount = 0;
  try {
    for (let step = 1; step <= steps && !hooks.signal?.aborted; step++) {
      const ramp = warmup > 0 ? Math.min(1, step / warmup) : 1;
      const limits = {
        rMax: 1 + (RENORM_LIMITS.rMax - 1) * ramp,
        dMax: RENORM_LIMITS.dMax * ramp,
      };
      const { x, y } = gatherBatch(data.train, sampler.nextBatch());
      const noise = config.noise?.(step);
      lossSum += normalizedStep(model, x, y, learningRate, { limits, noise });
      lossCount++;
      tf.dispose([x, y, ...(noise ?? []).flatMap((n) => [n.scale, n.shift])]);
      if (step % evalEvery === 0 || step === steps) {
        const test = evaluateNormalized(model, data.test);
        points.push({
          step,
          trainLoss: lossSum / lossCount,
          testLoss: test.loss,
          testAccuracy: test.accuracy,
        });
        lossSum = 0;
        lossCount = 0;
      }
      if (step % 50 === 0 || step === steps) {
        hooks.onStep?.(step);
        await yieldToEventLoop();
      }
    }
  } finally {
    disposeNormalizedMlp(model);
  }
  return points;
}

/**
 * Notebook 05's noise: after every normalization, each unit is scaled and shifted by values
 * drawn afresh at every step, scale from [1/s, s] (log-uniform) and shift from [-m, m], so the
 * distribution each layer's input comes from changes all the time.
 */
export function shiftingNoise(
  seed: number,
  settings: { maxScale: number; maxShift: number; units?: number[] },
): (step: number) => NormForwardOptions['noise'] {
  const random = seededRandom(`noise-${seed}`);
  const units = settings.units ?? [100, 100];
  const draw = (n: number, f: () => number) => Array.from({ length: n }, f);
  const logS = Math.log(settings.maxScale);
  return () =>
    units.map((n) => ({
      scale: tf.tensor1d(draw(n, () => Math.exp((2 * random() - 1) * logS))),
      shift: tf.tensor1d(draw(n, () => (2 * random() - 1) * settings.maxShift)),
    }));
}
