import { readFileSync } from 'node:fs';

/** The two IDX kinds MNIST ships: unsigned-byte images (rank 3) and labels (rank 1). */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export interface IdxArray {
  /** Sizes of each dimension, outermost first, as stored in the header. */
  dims: number[];
  /** The payload, one byte per element, row-major. */
  data: Uint8Array;
}

/**
 * Parses an IDX buffer of unsigned bytes. `name` only labels error messages,
 * so a bad file is reported by the path the user gave.
 */
export function parseIdx(buffer: Uint8Array, expectedMagic: number, name: string): IdxArray {
  if (buffer.byteLength < 4) {
    throw new Error(`${name}: not an IDX file (only ${buffer.byteLength} bytes)`);
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new Error(`${name}: bad IDX magic number ${magic}, expected ${expectedMagic}`);
  }
  // The low byte of the magic number is the rank; the type byte 0x08 means unsigned byte.
  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (buffer.byteLength < headerBytes) {
    throw new Error(`${name}: truncated IDX header (${buffer.byteLength} of ${headerBytes} bytes)`);
  }
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    if (size === 0) throw new Error(`${name}: IDX dimension ${d} is zero`);
    dims.push(size);
  }
  const expected = headerBytes + dims.reduce((a, b) => a * b, 1);
  if (buffer.byteLength < expected) {
    throw new Error(`${name}: truncated IDX file (${buffer.byteLength} of ${expected} bytes)`);
  }
  if (buffer.byteLength > expected) {
    throw new Error(
      `${name}: corrupt IDX file (${buffer.byteLength - expected} bytes past the declared data)`,
    );
  }
  return { dims, data: buffer.subarray(headerBytes, expected) };
}

/** Reads an IDX image file (N x rows x cols). */
export function readIdxImages(path: string): IdxArray {
  const parsed = parseIdx(readFileSync(path), IDX_IMAGES_MAGIC, path);
  if (parsed.dims.length !== 3)
    throw new Error(`${path}: expected 3 image dimensions, found ${parsed.dims.length}`);
  return parsed;
}

/** Reads an IDX label file (N) and checks every label is a digit. */
export function readIdxLabels(path: string): IdxArray {
  const parsed = parseIdx(readFileSync(path), IDX_LABELS_MAGIC, path);
  if (parsed.dims.length !== 1)
    throw new Error(`${path}: expected 1 label dimension, found ${parsed.dims.length}`);
  const bad = parsed.data.findIndex((label) => label > 9);
  if (bad >= 0) throw new Error(`${path}: corrupt label ${parsed.data[bad]} at index ${bad}`);
  return parsed;
}
