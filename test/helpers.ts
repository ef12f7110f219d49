import { createRequire } from 'node:module';
import { backendFromEnv, useBackend } from '../src/runtime/backend.js';

/** The tests that compute run on the backend named by BN_BACKEND (default: the fastest available). */
export async function setUpBackend(): Promise<string> {
  const active = await useBackend(backendFromEnv(), () => {});
  return active.name;
}

/** Largest absolute elementwise difference between two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Whether @tensorflow/tfjs-node is installed (the native tests skip, with a reason, without it). */
export function hasNativeBinding(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}
