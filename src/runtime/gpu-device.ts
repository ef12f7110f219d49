import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which GPU the GPU build computes on. tfjs-node-gpu has no call that lists devices, but
 * TensorFlow logs each device it creates; a child process loads the build with its log on,
 * runs one op, and its log is read here. Nothing of this runs on the CPU build.
 */

/** The line for a GPU build that found no GPU (no driver, or no CUDA libraries). */
export const NO_GPU = 'no GPU found: the GPU build is running on the CPU';

/**
 * The GPU TensorFlow created, from its log line ('Created device .../device:GPU:0 with 139264 MB
 * memory: -> device: 0, name: NVIDIA H200, pci bus id: 0000:19:00.0, compute capability: 9.0'),
 * or NO_GPU when it created none.
 */
export function gpuFromLog(log: string): string {
  const created =
    /Created device \S*GPU:(\d+) with (\d+) MB memory:.*?name: ([^,]+), pci bus id: [^,]+, compute capability: ([\d.]+)/.exec(
      log,
    );
  if (!created) return NO_GPU;
  const [, index, memory, name, capability] = created;
  return `GPU ${index}: ${name}, compute capability ${capability}, ${memory} MB`;
}

/** The GPU the GPU build runs on, or NO_GPU; asks a child process (a few seconds). */
export function describeGpu(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'scripts', 'gpu-device.ts')],
    { cwd: root, encoding: 'utf8', timeout: 120_000 },
  );
  if (child.status !== 0)
    throw new Error(
      `the GPU build did not start: ${(child.stderr || child.stdout).trim().split('\n').at(-1)}`,
    );
  return gpuFromLog(`${child.stderr}\n${child.stdout}`);
}
