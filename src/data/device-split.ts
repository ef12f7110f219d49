import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES, type Split } from './mnist-format.js';

/** A split as tensors on the backend: images [N, 784] and one-hot labels [N, 10]. */
export interface DeviceSplit {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  count: number;
  /** The same examples in host memory, where batches are cut without running a kernel. */
  host?: Split;
}

/** The guide's two data sets: training steps and train metrics on one, test metrics on the other. */
export interface TrainTest<T = DeviceSplit> {
  train: T;
  test: T;
}

export function toDevice(split: Split): DeviceSplit {
  const { x, y } = tf.tidy(() => ({
    x: tf.tensor2d(split.images, [split.count, IMAGE_SIZE]),
    y: tf.oneHot(tf.tensor1d(split.labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D,
  }));
  return { x, y, count: split.count, host: split };
}

export function disposeDeviceSplit(split: DeviceSplit): void {
  tf.dispose([split.x, split.y]);
}

/**
 * The examples at `indices` as a batch. Copied from host memory when the split has it:
 * that costs an upload but no kernel, where gathering on the backend costs two.
 */
export function gatherBatch(
  split: DeviceSplit,
  indices: Int32Array,
): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = indices.length;
  if (!split.host) {
    return tf.tidy(() => {
      const idx = tf.tensor1d(indices, 'int32');
      return { x: tf.gather(split.x, idx), y: tf.gather(split.y, idx) };
    });
  }
  const { images, labels } = split.host;
  const x = new Float32Array(n * IMAGE_SIZE);
  const y = new Float32Array(n * NUM_CLASSES);
  for (let row = 0; row < n; row++) {
    const example = indices[row]!;
    x.set(images.subarray(example * IMAGE_SIZE, (example + 1) * IMAGE_SIZE), row * IMAGE_SIZE);
    y[row * NUM_CLASSES + labels[example]!] = 1;
  }
  return { x: tf.tensor2d(x, [n, IMAGE_SIZE]), y: tf.tensor2d(y, [n, NUM_CLASSES]) };
}
