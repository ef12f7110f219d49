import * as tf from '@tensorflow/tfjs';
import type { TrainTest } from '../data/device-split.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { createNetwork, disposeNetwork, type Network, type NetworkOptions } from '../nn/network.js';
import { yieldToEventLoop } from '../runtime/event-loop.js';
import { validateConfig, type TrainConfig } from './config.js';
import type { Metrics } from './metrics.js';
import { resolveStepKind, type StepKind, type TrainingStep } from './step.js';
import { createTrainingStep } from './steps.js';
import {
  batchSource,
  checkStreamSettings,
  streamsOf,
  type Batch,
  type TrainingData,
} from './training-data.js';

/** The guide's four numbers after an epoch: train metrics in the training phase, test in inference. */
export interface EpochMetrics {
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

/** One row of the guide's history: [epoch, train loss, train acc, test loss, test acc]. */
export interface EpochRecord extends EpochMetrics {
  epoch: number;
  /** Training steps taken so far. */
  step: number;
  /** Wall seconds of this epoch's training steps, and of its evaluations. */
  trainSeconds: number;
  evalSeconds: number;
  /** With several streams: each one's metrics (the fields above are their mean, by examples). */
  streams?: Record<string, EpochMetrics>;
}

export interface TrainHooks {
  /** Called every `progressEvery` steps and after the last one; `step` counts from 1 over the whole run. */
  onStep?: (step: number, totalSteps: number, network: Network) => void;
  /** Called after each epoch's evaluations, with the network for any further inspection. */
  onEpoch?: (record: EpochRecord, network: Network) => void;
  /** Stops training between steps; the run returns what it has with `stopped: true`. */
  signal?: AbortSignal;
  progressEvery?: number;
}

export interface TrainResult {
  history: EpochRecord[];
  /** The trained network; the caller owns it (disposeNetwork). */
  network: Network;
  /** The step implementation that ran. */
  step: StepKind;
  stopped: boolean;
  seconds: number;
}

/** The network a run trains: the config's options, with statistics per stream if asked. */
function networkOptionsOf(config: TrainConfig, streams: string[]): NetworkOptions {
  const perStream = config.statistics === 'per-stream';
  return { ...config, streams: perStream ? streams : [DEFAULT_STREAM] };
}

/**
 * The training loop, the only one: builds the network a run describes, then trains it epoch by
 * epoch with the step that can run it, and after every epoch records the guide's two
 * evaluations (per stream where the data has several). Hooks see progress and every epoch; an
 * abort signal stops it between steps.
 */
export async function train(
  data: TrainingData,
  config: TrainConfig,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const streams = streamsOf(data);
  validateConfig(config, Math.min(...Object.values(streams).map((s) => s.train.count)));
  checkStreamSettings(config, Object.keys(streams));
  const started = performance.now();
  const network = createNetwork(networkOptionsOf(config, Object.keys(streams)));
  let step: TrainingStep | undefined;
  try {
    const kind = resolveStepKind(config.step, {
      network,
      updateMovingAverages: config.updateMovingAverages,
      weightDecay: config.weightDecay,
    });
    step = await createTrainingStep(kind, network, config);
    const { history, stopped } = await runEpochs(step, network, streams, config, hooks);
    return { history, network, step: kind, stopped, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    disposeNetwork(network);
    throw error;
  } finally {
    step?.dispose();
  }
}

/**
 * Epoch after epoch: the epoch's training steps, then the guide's two evaluations, recorded.
 * Stops early, with what it has, when the abort signal fires between steps.
 */
export async function runEpochs(
  step: TrainingStep,
  network: Network,
  streams: Record<string, TrainTest>,
  config: TrainConfig,
  hooks: TrainHooks,
): Promise<{ history: EpochRecord[]; stopped: boolean }> {
  const nextBatch = batchSource(streams, config);
  const total = config.epochs * config.stepsPerEpoch;
  const history: EpochRecord[] = [];
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const epochStart = performance.now();
    const first = (epoch - 1) * config.stepsPerEpoch + 1;
    const done = await trainSteps(
      step,
      network,
      nextBatch,
      { first, last: first + config.stepsPerEpoch - 1, total },
      hooks,
    );
    step.syncNetwork();
    if (done < config.stepsPerEpoch) return { history, stopped: true };
    const evalStart = performance.now();
    const schedule = config.trainSetEvaluation ?? 'every-epoch';
    const skipTrainSet =
      schedule === 'never' || (schedule === 'last-epoch' && epoch < config.epochs);
    const metrics = evaluateStreams(step, streams, { trainSet: !skipTrainSet });
    const record: EpochRecord = {
      epoch,
      step: epoch * config.stepsPerEpoch,
      ...metrics.mean,
      ...(metrics.perStream && { streams: metrics.perStream }),
      trainSeconds: (evalStart - epochStart) / 1000,
      evalSeconds: (performance.now() - evalStart) / 1000,
    };
    history.push(record);
    hooks.onEpoch?.(record, network);
    await yieldToEventLoop();
  }
  return { history, stopped: false };
}

/** Steps `first` to `last` (counted over the whole run); returns how many ran before any abort. */
async function trainSteps(
  step: TrainingStep,
  network: Network,
  nextBatch: () => Batch,
  range: { first: number; last: number; total: number },
  hooks: TrainHooks,
): Promise<number> {
  const { onStep, signal, progressEvery = 50 } = hooks;
  for (let n = range.first; n <= range.last; n++) {
    if (signal?.aborted) return n - range.first;
    const { x, y, stream } = nextBatch();
    step.run(x, y, stream);
    tf.dispose([x, y]);
    if (n % progressEvery === 0 || n === range.total) {
      if (onStep) {
        // The hook may look at the network, so it must hold the current values.
        step.syncNetwork();
        onStep(n, range.total, network);
      }
      await yieldToEventLoop();
    }
  }
  return range.last - range.first + 1;
}

/**
 * The guide's two evaluations after an epoch: the whole training set in the training phase
 * (each layer normalizes with the statistics of all of it at once) and the test set in the
 * inference phase (with the moving averages). Neither writes anything.
 */
export function guideEvaluations(
  step: TrainingStep,
  data: TrainTest,
  stream?: string,
  { trainSet = true } = {},
): EpochMetrics {
  const train = trainSet ? step.evaluate(data.train, 'training', stream) : NOT_EVALUATED;
  const test = step.evaluate(data.test, 'inference', stream);
  return {
    trainLoss: train.loss,
    trainAccuracy: train.accuracy,
    testLoss: test.loss,
    testAccuracy: test.accuracy,
  };
}

/** What a skipped evaluation records. */
const NOT_EVALUATED: Metrics = { loss: Number.NaN, accuracy: Number.NaN };

/**
 * The guide's two evaluations, for every stream: the training set in the training phase (each
 * layer normalizing with the statistics of the whole set) and the test set in inference. With
 * several streams, their mean weighted by examples heads the record. Without `trainSet`, the
 * training set is not evaluated and its metrics are NaN.
 */
export function evaluateStreams(
  step: TrainingStep,
  streams: Record<string, TrainTest>,
  { trainSet = true } = {},
): { mean: EpochMetrics; perStream?: Record<string, EpochMetrics> } {
  const perStream: Record<string, EpochMetrics> = {};
  for (const [name, data] of Object.entries(streams))
    perStream[name] = guideEvaluations(step, data, name, { trainSet });
  const names = Object.keys(streams);
  if (names.length === 1) return { mean: perStream[names[0]!]! };
  const weighted = (key: keyof EpochMetrics, split: 'train' | 'test') => {
    const counts = names.map((n) => streams[n]![split].count);
    const sum = names.reduce((s, n, i) => s + perStream[n]![key] * counts[i]!, 0);
    return sum / counts.reduce((a, b) => a + b, 0);
  };
  return {
    mean: {
      trainLoss: weighted('trainLoss', 'train'),
      trainAccuracy: weighted('trainAccuracy', 'train'),
      testLoss: weighted('testLoss', 'test'),
      testAccuracy: weighted('testAccuracy', 'test'),
    },
    perStream,
  };
}
