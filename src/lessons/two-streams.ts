import { toDevice, type TrainTest } from '../data/device-split.js';
import type { Split } from '../data/mnist-format.js';

// Notebooks 04 and 06: one network fed two streams of digits. The network keeps the streams'
// moving statistics shared or apart (`statistics` in the training config); this file makes
// the second stream.

/** The same digits with their ink inverted (white on black becomes black on white). */
export function invertSplit(split: Split): Split {
  return { images: split.images.map((v) => 1 - v), labels: split.labels, count: split.count };
}

/** The inverted digits of both splits, on the backend: the second stream. */
export function invertedDigits(mnist: { train: Split; test: Split }): TrainTest {
  return { train: toDevice(invertSplit(mnist.train)), test: toDevice(invertSplit(mnist.test)) };
}
