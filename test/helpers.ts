import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { disposeDeviceSplit, toDevice, type TrainTest } from '../src/data/device-split.js';
import { loadMnist } from '../src/data/mnist.js';
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

/**
 * The small MNIST source on the device for the test file that calls this: loaded (with the
 * backend) before its tests, freed after them. Read `.data` inside the tests.
 */
export function smallMnistOnDevice(): { data: TrainTest } {
  const holder = {} as { data: TrainTest };
  before(async () => {
    await setUpBackend();
    const mnist = loadMnist('small', 0);
    holder.data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  });
  after(() => {
    disposeDeviceSplit(holder.data.train);
    disposeDeviceSplit(holder.data.test);
  });
  return holder;
}
