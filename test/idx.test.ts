import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  parseIdx,
  readIdxImages,
  readIdxLabels,
} from '../src/data/idx.js';
import { readIdxSplit } from '../src/data/mnist.js';
import { tempDir } from './temp-dirs.js';

const dir = tempDir('idx-test-');

/** Builds an IDX file by hand: big-endian magic, dimensions, then the bytes. */
function idxBytes(magic: number, dims: number[], payload: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(payload)]);
}

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test('reads a well-formed image file and its labels', () => {
  const pixels = Array.from({ length: 2 * 28 * 28 }, (_, i) => i % 256);
  const images = write('ok-images', idxBytes(IDX_IMAGES_MAGIC, [2, 28, 28], pixels));
  const labels = write('ok-labels', idxBytes(IDX_LABELS_MAGIC, [2], [7, 3]));
  const parsedImages = readIdxImages(images);
  assert.deepEqual(parsedImages.dims, [2, 28, 28]);
  assert.equal(parsedImages.data[300], 300 % 256);
  assert.deepEqual([...readIdxLabels(labels).data], [7, 3]);

  const split = readIdxSplit(images, labels);
  assert.equal(split.count, 2);
  assert.equal(split.images[255], 1); // 255 / 255
  assert.equal(split.images[256], 0);
  assert.ok(Math.abs(split.images[128]! - 128 / 255) < 1e-7);
  assert.deepEqual([...split.labels], [7, 3]);
});

test('a wrong magic number is rejected with the file named', () => {
  const path = write('swapped', idxBytes(IDX_LABELS_MAGIC, [1], [1]));
  assert.throws(
    () => readIdxImages(path),
    (e: Error) => e.message.includes(path) && /magic number 2049, expected 2051/.test(e.message),
  );
});

test('a truncated file is rejected with the file named', () => {
  const full = idxBytes(IDX_IMAGES_MAGIC, [3, 28, 28], new Array(3 * 784).fill(9));
  const path = write('truncated', full.subarray(0, full.length - 100));
  assert.throws(
    () => readIdxImages(path),
    (e: Error) => e.message.startsWith(`${path}: truncated IDX file`),
  );
  const header = write('truncated-header', full.subarray(0, 10));
  assert.throws(() => readIdxImages(header), /truncated IDX header/);
});

test('trailing bytes and out-of-range labels are reported as corrupt', () => {
  const extra = write('extra', idxBytes(IDX_LABELS_MAGIC, [2], [1, 2, 3]));
  assert.throws(() => readIdxLabels(extra), /corrupt IDX file \(1 bytes past/);
  const badLabel = write('bad-label', idxBytes(IDX_LABELS_MAGIC, [3], [1, 12, 3]));
  assert.throws(() => readIdxLabels(badLabel), /corrupt label 12 at index 1/);
});

test('mismatched image and label counts are rejected', () => {
  const images = write(
    'three-images',
    idxBytes(IDX_IMAGES_MAGIC, [3, 28, 28], new Array(3 * 784).fill(0)),
  );
  const labels = write('two-labels', idxBytes(IDX_LABELS_MAGIC, [2], [0, 1]));
  assert.throws(() => readIdxSplit(images, labels), /2 labels for 3 images/);
});

test('parseIdx rejects a buffer too short to hold a magic number', () => {
  assert.throws(
    () => parseIdx(new Uint8Array([8, 3]), IDX_IMAGES_MAGIC, 'tiny'),
    /tiny: not an IDX file/,
  );
});
