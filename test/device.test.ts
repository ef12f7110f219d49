import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendFromEnv, deviceFromEnv } from '../src/runtime/backend.js';
import { gpuFromLog, NO_GPU } from '../src/runtime/gpu-device.js';

test("the GPU build's device is read from TensorFlow's own log", () => {
  const created =
    'I0000 00:00:1796320712.5 29349 gpu_device.cc:2020] Created device ' +
    '/job:localhost/replica:0/task:0/device:GPU:0 with 139264 MB memory:  -> device: 0, ' +
    'name: NVIDIA H200, pci bus id: 0000:19:00.0, compute capability: 9.0';
  assert.equal(gpuFromLog(created), 'GPU 0: NVIDIA H200, compute capability 9.0, 139264 MB');
  // What TensorFlow 2.21's GPU build logs on this machine, which has no GPU.
  const none =
    'I0000 00:00:1796320712.040768   29349 cudart_stub.cc:31] Could not find cuda drivers on ' +
    'your machine, GPU will not be used.\nE0000 00:00:1796320712.097620   29349 ' +
    'cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: ' +
    'UNKNOWN ERROR (303)';
  assert.equal(gpuFromLog(none), NO_GPU);
  assert.equal(NO_GPU, 'no GPU found: the GPU build is running on the CPU');
});

test('BN_BACKEND and BN_DEVICE choose the backend and the build, and refuse anything else in one line', () => {
  assert.equal(backendFromEnv({}), 'auto');
  assert.equal(backendFromEnv({ BN_BACKEND: 'wasm' }), 'wasm');
  assert.throws(
    () => backendFromEnv({ BN_BACKEND: 'webgpu' }),
    /^Error: BN_BACKEND must be one of auto, tensorflow, tensorflow-gpu, wasm, cpu, got 'webgpu'$/,
  );
  assert.equal(deviceFromEnv({}), 'cpu');
  assert.equal(deviceFromEnv({ BN_DEVICE: 'gpu' }), 'gpu');
  assert.throws(
    () => deviceFromEnv({ BN_DEVICE: 'tpu' }),
    /^Error: BN_DEVICE must be one of cpu, gpu, got 'tpu'$/,
  );
});
