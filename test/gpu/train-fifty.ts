// Trains the guide's BN-before-ReLU network for 50 graph steps on the native build BN_DEVICE
// names, and prints the device line and every variable as JSON, for gpu-build.test.ts.
import { loadMnist } from '../../src/data/mnist.js';
import { toDevice } from '../../src/data/device-split.js';
import { createNetwork, namedVariables, variableOf } from '../../src/nn/network.js';
import { useBackend } from '../../src/runtime/backend.js';
import { GUIDE_CONFIG } from '../../src/train/config.js';
import { train } from '../../src/train/trainer.js';

const backend = await useBackend('tensorflow', () => {});
const mnist = loadMnist('small', 0);
const data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
const config = { ...GUIDE_CONFIG, placement: 'pre' as const, seed: 11, epochs: 1 };
const run = await train(data, { ...config, stepsPerEpoch: 50, step: 'graph' });
const variables = Object.fromEntries(
  namedVariables(run.network).map(([name, v]) => [name, [...v.dataSync()]]),
);
// How far training moved layer 1's kernel from its seeded start.
const start = variableOf(createNetwork({ placement: 'pre', seed: 11 }), 'layer1/dense/kernel');
const trained = variables['layer1/dense/kernel']!;
const moved = Math.max(...start.dataSync().map((v, i) => Math.abs(v - trained[i]!)));
console.log(JSON.stringify({ backend: backend.name, device: backend.device, moved, variables }));
