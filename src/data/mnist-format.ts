// What an MNIST split looks like once loaded, with no loader attached: browser code (the
// playground) imports this, while the file readers in mnist.ts stay Node-only.

export const IMAGE_SIZE = 28 * 28;
export const NUM_CLASSES = 10;

/** Images as [0,1] floats (row-major, IMAGE_SIZE per image) and digit labels. */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}
