import { IMAGE_SIZE, type Split } from '../data/mnist-format.js';

/** The digits a playground page carries: a grayscale PNG sprite (28x28 cells) and the labels. */
export interface EmbeddedDigits {
  /** data: URL of the sprite; cells are laid out row by row, `columns` to a row. */
  png: string;
  /** Base64 of one byte per digit, training digits first. */
  labels: string;
  columns: number;
  train: number;
  test: number;
}

function base64Bytes(text: string): Uint8Array {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Decodes the sprite in the page (no request: the image is a data: URL) into two splits. */
export async function decodeDigits(
  embedded: EmbeddedDigits,
): Promise<{ train: Split; test: Split }> {
  const image = new Image();
  image.src = embedded.png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const labels = base64Bytes(embedded.labels);
  const total = embedded.train + embedded.test;
  if (labels.length !== total)
    throw new Error(`the page carries ${labels.length} labels for ${total} digits`);
  const images = new Float32Array(total * IMAGE_SIZE);
  for (let d = 0; d < total; d++) {
    const [top, left] = [Math.floor(d / embedded.columns) * 28, (d % embedded.columns) * 28];
    for (let p = 0; p < IMAGE_SIZE; p++) {
      const at = ((top + Math.floor(p / 28)) * canvas.width + left + (p % 28)) * 4;
      images[d * IMAGE_SIZE + p] = pixels[at]! / 255;
    }
  }
  const split = (start: number, count: number): Split => ({
    images: images.subarray(start * IMAGE_SIZE, (start + count) * IMAGE_SIZE),
    labels: labels.subarray(start, start + count),
    count,
  });
  return { train: split(0, embedded.train), test: split(embedded.train, embedded.test) };
}
