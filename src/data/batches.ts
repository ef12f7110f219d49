import { seededRandom, shuffleInPlace } from '../runtime/random.js';

/**
 * Mini-batch indices the way TensorFlow's `next_batch` handed them out: walk a shuffled
 * order of the whole set, reshuffle on every pass, and fill a batch that crosses the end
 * of a pass with the start of the next one. Epochs of the trainer need not line up with passes.
 */
export class BatchSampler {
  private readonly random: () => number;
  private readonly order: Int32Array;
  private position: number;
  /** Completed passes over the data. */
  passes = 0;

  constructor(
    readonly size: number,
    readonly batchSize: number,
    seed: string | number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize <= 0)
      throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    if (batchSize > size)
      throw new Error(`batch size ${batchSize} is larger than the ${size} examples`);
    this.random = seededRandom(seed);
    this.order = new Int32Array(size);
    for (let i = 0; i < size; i++) this.order[i] = i;
    shuffleInPlace(this.order, this.random);
    this.position = 0;
  }

  /** The indices of the next batch (a fresh array the caller may keep). */
  nextBatch(): Int32Array {
    const batch = new Int32Array(this.batchSize);
    let filled = 0;
    while (filled < this.batchSize) {
      if (this.position === this.size) {
        shuffleInPlace(this.order, this.random);
        this.position = 0;
        this.passes++;
      }
      const take = Math.min(this.batchSize - filled, this.size - this.position);
      batch.set(this.order.subarray(this.position, this.position + take), filled);
      this.position += take;
      filled += take;
    }
    return batch;
  }
}
