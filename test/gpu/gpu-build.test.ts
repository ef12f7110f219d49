import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { NO_GPU } from '../../src/runtime/gpu-device.js';

// npm run test:gpu: the GPU build (tfjs-node-gpu on TensorFlow 2.21's GPU wheel, set up without
// CUDA) on a machine without a GPU. It must say so in one line and train exactly as the CPU
// build does. Where a GPU is present, scripts/gpu-check.sh compares the two there.

interface Trained {
  backend: string;
  device: string;
  /** How far training moved layer 1's kernel from its start. */
  moved: number;
  variables: Record<string, number[]>;
}

function trainFifty(device: 'cpu' | 'gpu'): Trained {
  const env: NodeJS.ProcessEnv = { ...process.env, BN_DEVICE: device };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/gpu/train-fifty.ts'], {
    encoding: 'utf8',
    env,
    timeout: 300_000,
    // Every variable as JSON is a few MB.
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Trained;
}

test('the GPU build without a GPU says so in one line and trains 50 steps as the CPU build does, to 1e-5', (t) => {
  const gpu = trainFifty('gpu');
  const cpu = trainFifty('cpu');
  assert.equal(gpu.backend, 'tensorflow-gpu');
  assert.equal(cpu.backend, 'tensorflow');
  assert.equal(cpu.device, 'CPU');
  if (gpu.device !== NO_GPU) {
    t.diagnostic(
      `a GPU is present (${gpu.device}): scripts/gpu-check.sh compares the builds there`,
    );
    return;
  }
  let worst = 0;
  for (const [name, values] of Object.entries(cpu.variables)) {
    const other = gpu.variables[name]!;
    assert.equal(other.length, values.length, name);
    values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - other[i]!))));
  }
  t.diagnostic(`largest difference over every variable: ${worst}`);
  assert.ok(worst <= 1e-5, `the builds differ by ${worst}`);
  // The comparison is between trained networks: training moved the weights far beyond 1e-5.
  assert.ok(cpu.moved > 1e-3 && gpu.moved > 1e-3, `moved ${cpu.moved}, ${gpu.moved}`);
});
