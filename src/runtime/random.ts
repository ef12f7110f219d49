import seedrandom from 'seedrandom';

/** A seeded uniform [0,1) generator; the same seed gives the same stream on every machine. */
export function seededRandom(seed: string | number): () => number {
  return seedrandom.alea(String(seed));
}

/** In-place Fisher-Yates shuffle driven by `random`. */
export function shuffleInPlace(values: Int32Array, random: () => number): Int32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = values[i]!;
    values[i] = values[j]!;
    values[j] = tmp;
  }
  return values;
}

/** 0..n-1 in a seeded random order. */
export function shuffledIndices(n: number, seed: string | number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffleInPlace(order, seededRandom(seed));
}
