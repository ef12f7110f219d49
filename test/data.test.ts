import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BatchSampler } from '../src/data/batches.js';
import {
  FULL_VALIDATION_SIZE,
  fullIdxDirectory,
  IMAGE_SIZE,
  loadMnist,
  readIdxSplit,
  SMALL_SIZES,
  TRAIN_EXAMPLES,
  type Split,
} from '../src/data/mnist.js';

function imageKey(split: Split, i: number): string {
  return Buffer.from(
    split.images.buffer,
    split.images.byteOffset + i * IMAGE_SIZE * 4,
    IMAGE_SIZE * 4,
  ).toString('base64');
}

test('full source: the 55k/5k/10k split of read_data_sets, validation first', () => {
  const data = loadMnist('full');
  assert.equal(data.train.count, 55000);
  assert.equal(data.validation.count, 5000);
  assert.equal(data.test.count, 10000);
  assert.equal(TRAIN_EXAMPLES.full, data.train.count);
  const dir = fullIdxDirectory();
  const raw = readIdxSplit(
    join(dir, 'train-images-idx3-ubyte'),
    join(dir, 'train-labels-idx1-ubyte'),
  );
  // Validation is rows 0..4999 of the training file and train is rows 5000..59999, in order.
  assert.deepEqual(data.validation.labels, raw.labels.subarray(0, FULL_VALIDATION_SIZE));
  assert.deepEqual(data.train.labels, raw.labels.subarray(FULL_VALIDATION_SIZE));
  assert.deepEqual(
    data.train.images.subarray(0, IMAGE_SIZE),
    raw.images.subarray(FULL_VALIDATION_SIZE * IMAGE_SIZE, (FULL_VALIDATION_SIZE + 1) * IMAGE_SIZE),
  );
  // Pixels are scaled into [0, 1].
  let min = Infinity;
  let max = -Infinity;
  for (const v of data.test.images) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

test('small source: seeded split of the 10k digits with no overlap', () => {
  const a = loadMnist('small', 0);
  assert.equal(a.train.count, SMALL_SIZES.train);
  assert.equal(a.validation.count, SMALL_SIZES.validation);
  assert.equal(a.test.count, 10000 - SMALL_SIZES.train - SMALL_SIZES.validation);
  // The package holds 10,000 distinct images; each lands in exactly one split.
  const seen = new Map<string, string>();
  for (const [name, split] of Object.entries({
    train: a.train,
    validation: a.validation,
    test: a.test,
  })) {
    for (let i = 0; i < split.count; i++) {
      const key = imageKey(split, i);
      assert.ok(
        !seen.has(key) || seen.get(key) === name,
        `an image is in both ${seen.get(key)} and ${name}`,
      );
      seen.set(key, name);
    }
  }
  const counts = new Array(10).fill(0);
  for (const label of a.train.labels) counts[label]++;
  assert.ok(
    counts.every((c) => c > 600),
    `every digit is well represented: ${counts}`,
  );

  const again = loadMnist('small', 0);
  assert.deepEqual(again.test.labels, a.test.labels);
  const other = loadMnist('small', 1);
  assert.notDeepEqual(other.test.labels, a.test.labels);
});

test('an unknown source is rejected by name', () => {
  assert.throws(() => loadMnist('tiny' as never), /unknown data source 'tiny'/);
});

test('batch sampler: each pass is a permutation, batches straddle passes, seeds repeat', () => {
  const sampler = new BatchSampler(10, 4, 'seed');
  const stream = Array.from({ length: 5 }, () => [...sampler.nextBatch()]).flat(); // 20 indices = 2 passes
  assert.deepEqual(
    [...stream.slice(0, 10)].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(
    [...stream.slice(10, 20)].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.notDeepEqual(stream.slice(0, 10), stream.slice(10, 20), 'reshuffled between passes');
  assert.equal(sampler.passes, 1);

  const twin = new BatchSampler(10, 4, 'seed');
  assert.deepEqual(Array.from({ length: 5 }, () => [...twin.nextBatch()]).flat(), stream);
  const other = new BatchSampler(10, 4, 'other');
  assert.notDeepEqual(Array.from({ length: 5 }, () => [...other.nextBatch()]).flat(), stream);
});

test('batch sampler rejects a batch larger than the data', () => {
  assert.throws(() => new BatchSampler(10, 11, 0), /batch size 11 is larger than the 10 examples/);
  assert.throws(() => new BatchSampler(10, 0, 0), /positive integer/);
});
