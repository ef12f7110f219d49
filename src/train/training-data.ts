import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../data/batches.js';
import { gatherBatch, type TrainTest } from '../data/device-split.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import type { TrainConfig } from './config.js';

/** What the training loop trains on: one data set, or several named streams of them. */
export type TrainingData = TrainTest | { streams: Record<string, TrainTest> };

/** The data as named streams; a single data set is the one stream DEFAULT_STREAM. */
export function streamsOf(data: TrainingData): Record<string, TrainTest> {
  return 'streams' in data ? data.streams : { [DEFAULT_STREAM]: data };
}

/** A training batch and the stream it comes from. */
export interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  stream: string;
}

/** Throws one line where the stream settings cannot work with these streams. */
export function checkStreamSettings(config: TrainConfig, streams: string[]): void {
  if (streams.length === 0) throw new Error('the training data has no stream');
  if (config.streamBatches !== 'mixed') return;
  if (config.statistics === 'per-stream')
    throw new Error('mixed batches hold every stream, so they need shared statistics');
  if (config.batchSize % streams.length !== 0)
    throw new Error(
      `mixed batches need a batch size divisible by the ${streams.length} streams, got ${config.batchSize}`,
    );
}

/**
 * The run's batches in their seeded order, one per call, as TensorFlow's `next_batch` handed
 * them out. Several streams take turns ('alternate'), or each batch holds an equal share of
 * every stream ('mixed'), whose statistics are then the mixture's.
 */
export function batchSource(
  streams: Record<string, TrainTest>,
  config: Pick<TrainConfig, 'batchSize' | 'seed' | 'streamBatches'>,
): () => Batch {
  const names = Object.keys(streams);
  if (names.length === 1) {
    const [name] = names as [string];
    const split = streams[name]!.train;
    const sampler = new BatchSampler(split.count, config.batchSize, `batches-${config.seed}`);
    return () => ({ ...gatherBatch(split, sampler.nextBatch()), stream: name });
  }
  const mixed = config.streamBatches === 'mixed';
  const perBatch = mixed ? config.batchSize / names.length : config.batchSize;
  const samplers = names.map(
    (n, i) => new BatchSampler(streams[n]!.train.count, perBatch, `stream-${config.seed}-${i}`),
  );
  const draw = (i: number) => gatherBatch(streams[names[i]!]!.train, samplers[i]!.nextBatch());
  let turn = 0;
  if (!mixed)
    return () => {
      const i = turn++ % names.length;
      return { ...draw(i), stream: names[i]! };
    };
  return () => ({ ...concatRows(names.map((_, i) => draw(i))), stream: DEFAULT_STREAM });
}

/** The parts stacked into one batch; the parts are freed. */
function concatRows(parts: Array<{ x: tf.Tensor2D; y: tf.Tensor2D }>): {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
} {
  const batch = {
    x: tf.concat(parts.map((p) => p.x)) as tf.Tensor2D,
    y: tf.concat(parts.map((p) => p.y)) as tf.Tensor2D,
  };
  tf.dispose(parts.flatMap((p) => [p.x, p.y]));
  return batch;
}
