import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from '../runtime/event-loop.js';
import { BatchSampler } from '../data/batches.js';
import { IMAGE_SIZE, NUM_CLASSES, type Split } from '../data/mnist-format.js';
import { createDenseParams, dense, type DenseParams } from '../nn/layers.js';
import { AutodiffBatchNorm, DEFAULT_STREAM } from '../nn/batchnorm-autodiff.js';
import { accuracy, crossEntropy } from '../train/metrics.js';
import {
  gatherBatch,
  toDevice,
  disposeDeviceSplit,
  type DeviceSplit,
} from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';

/**
 * One network fed by several data streams. Gamma and beta are always shared; the moving
 * statistics are either shared by all streams or kept per stream, the choice the guide's
 * author gave his custom batch-norm layer.
 */
export type StatisticsSharing = 'shared' | 'per-stream';

export interface StreamModel {
  hidden: Array<{ dense: DenseParams; bn: AutodiffBatchNorm }>;
  logits: DenseParams;
  sharing: StatisticsSharing;
}

export function createStreamModel(
  streams: string[],
  sharing: StatisticsSharing,
  options: { seed?: number; decay?: number; hiddenUnits?: number[] } = {},
): StreamModel {
  const { seed = 0, decay, hiddenUnits = [100, 100] } = options;
  let inputs = IMAGE_SIZE;
  const hidden = hiddenUnits.map((units, i) => {
    const layer = {
      dense: createDenseParams(inputs, units, seed * 100 + i),
      bn: new AutodiffBatchNorm({
        units,
        decay,
        streams: sharing === 'shared' ? [DEFAULT_STREAM] : streams,
      }),
    };
    inputs = units;
    return layer;
  });
  return {
    hidden,
    logits: createDenseParams(inputs, NUM_CLASSES, seed * 100 + hiddenUnits.length),
    sharing,
  };
}

/** Which set of moving statistics a stream uses under the model's sharing. */
function statisticsKey(model: StreamModel, stream: string): string {
  return model.sharing === 'shared' ? DEFAULT_STREAM : stream;
}

/** dense -> BN -> ReLU blocks, then the logits; in training, also each BN's batch statistics. */
export function streamForward(model: StreamModel, x: tf.Tensor2D, phase: Phase, stream: string) {
  const key = statisticsKey(model, stream);
  let h = x;
  const stats = [];
  for (const layer of model.hidden) {
    const out = layer.bn.apply(dense(h, layer.dense), phase, key);
    if (out.stats) stats.push(out.stats);
    h = tf.relu(out.y) as tf.Tensor2D;
  }
  return { logits: dense(h, model.logits), stats };
}

export function streamModelVariables(model: StreamModel): tf.Variable[] {
  return [
    ...model.hidden.flatMap((l) => [l.dense.kernel, l.dense.bias, ...l.bn.trainableVariables]),
    model.logits.kernel,
    model.logits.bias,
  ];
}

/** One SGD step on a batch of one stream: autodiff for the gradients, then that stream's update ops. */
export function streamTrainingStep(
  model: StreamModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  stream: string,
): void {
  tf.tidy(() => {
    const key = statisticsKey(model, stream);
    optimizer.minimize(
      () => {
        const { logits, stats } = streamForward(model, x, 'training', stream);
        model.hidden.forEach((layer, i) => layer.bn.updateMovingAverages(stats[i]!, key));
        return crossEntropy(logits, y);
      },
      false,
      streamModelVariables(model),
    );
  });
}

export function disposeStreamModel(model: StreamModel): void {
  for (const layer of model.hidden) {
    tf.dispose([layer.dense.kernel, layer.dense.bias]);
    layer.bn.dispose();
  }
  tf.dispose([model.logits.kernel, model.logits.bias]);
}

/** The same digits with their ink inverted (white on black becomes black on white). */
export function invertSplit(split: Split): Split {
  return { images: split.images.map((v) => 1 - v), labels: split.labels, count: split.count };
}

export interface StreamData {
  train: Split;
  test: Split;
}

export interface TwoStreamConfig {
  steps: number;
  batchSize: number;
  learningRate: number;
  decay: number;
  seed: number;
  /** Evaluate every this many steps. */
  evalEvery: number;
  /**
   * 'alternate' (default): each batch comes from one stream, the streams taking turns.
   * 'mixed': each batch holds half of each stream, so its statistics are the mixture's.
   */
  batches?: 'alternate' | 'mixed';
}

export interface StreamHistoryPoint {
  step: number;
  /** Inference-mode test accuracy per stream. */
  testAccuracy: Record<string, number>;
}

/**
 * Trains one model on several streams, with batches that alternate between them or mix them,
 * and records each stream's inference-mode test accuracy as training goes.
 */
export async function trainOnStreams(
  streams: Record<string, StreamData>,
  sharing: StatisticsSharing,
  config: TwoStreamConfig,
  hooks: {
    onStep?: (step: number) => void;
    onPoint?: (point: StreamHistoryPoint) => void;
    signal?: AbortSignal;
  } = {},
): Promise<StreamHistoryPoint[]> {
  const names = Object.keys(streams);
  const model = createStreamModel(names, sharing, { seed: config.seed, decay: config.decay });
  const optimizer = tf.train.sgd(config.learningRate);
  const device = Object.fromEntries(
    names.map((n) => [n, { train: toDevice(streams[n]!.train), test: toDevice(streams[n]!.test) }]),
  );
  const mixed = config.batches === 'mixed';
  if (mixed && (sharing !== 'shared' || config.batchSize % names.length !== 0))
    throw new Error(
      `mixed batches need shared statistics and a batch size divisible by ${names.length}`,
    );
  const perBatch = mixed ? config.batchSize / names.length : config.batchSize;
  const samplers = Object.fromEntries(
    names.map((n, i) => [
      n,
      new BatchSampler(streams[n]!.train.count, perBatch, `stream-${config.seed}-${i}`),
    ]),
  );
  const nextBatch = (step: number): { x: tf.Tensor2D; y: tf.Tensor2D; stream: string } => {
    if (!mixed) {
      const stream = names[(step - 1) % names.length]!;
      return { ...gatherBatch(device[stream]!.train, samplers[stream]!.nextBatch()), stream };
    }
    const parts = names.map((n) => gatherBatch(device[n]!.train, samplers[n]!.nextBatch()));
    const batch = {
      x: tf.concat(parts.map((p) => p.x)) as tf.Tensor2D,
      y: tf.concat(parts.map((p) => p.y)) as tf.Tensor2D,
      stream: names[0]!,
    };
    tf.dispose(parts.flatMap((p) => [p.x, p.y]));
    return batch;
  };
  const history: StreamHistoryPoint[] = [];
  try {
    for (let step = 1; step <= config.steps && !hooks.signal?.aborted; step++) {
      const { x, y, stream } = nextBatch(step);
      streamTrainingStep(model, optimizer, x, y, stream);
      tf.dispose([x, y]);
      if (step % config.evalEvery === 0 || step === config.steps) {
        const testAccuracy: Record<string, number> = {};
        for (const name of names)
          testAccuracy[name] = streamAccuracy(model, device[name]!.test, name);
        history.push({ step, testAccuracy });
        hooks.onPoint?.({ step, testAccuracy });
      }
      if (step % 50 === 0 || step === config.steps) {
        hooks.onStep?.(step);
        await yieldToEventLoop();
      }
    }
  } finally {
    for (const d of Object.values(device)) {
      disposeDeviceSplit(d.train);
      disposeDeviceSplit(d.test);
    }
    optimizer.dispose();
    disposeStreamModel(model);
  }
  return history;
}

/** Inference-mode accuracy of a stream's test set, normalized with that stream's statistics. */
export function streamAccuracy(model: StreamModel, split: DeviceSplit, stream: string): number {
  const acc = tf.tidy(() =>
    accuracy(streamForward(model, split.x, 'inference', stream).logits, split.y),
  );
  const value = acc.dataSync()[0]!;
  acc.dispose();
  return value;
}
