import { useBackend, backendFromEnv } from '../src/runtime/backend.js';
import { loadMnist } from '../src/data/mnist.js';
import { toDevice, type DeviceSplit } from '../src/data/device-split.js';
import { runPlayground } from '../src/playground/run.js';
import { DEFAULT_SETTINGS } from '../src/playground/settings.js';
await useBackend(backendFromEnv(), () => {});
const m = loadMnist('small', 0);
const cut = (s: typeof m.train, n: number) => ({
  ...s,
  count: n,
  images: s.images.subarray(0, n * 784),
  labels: s.labels.subarray(0, n),
});
const data = { train: toDevice(cut(m.train, 4000)), test: toDevice(cut(m.test, 1000)) };
const show = async (label: string, s: Partial<typeof DEFAULT_SETTINGS>) => {
  const t = performance.now();
  const runs = await runPlayground({ ...DEFAULT_SETTINGS, ...s }, data);
  console.log(
    label,
    runs.map((r) => `${r.label} ${r.finalTestAccuracy.toFixed(3)}`).join(', '),
    ((performance.now() - t) / 1000).toFixed(1),
    's',
  );
};
for (const lr of [0.01, 0.05, 0.3, 2]) await show(`rate ${lr}:`, { learningRate: lr });
for (const n of ['batch', 'group', 'layer'])
  await show(`batch 2 ${n}:`, { batchSize: 2, normalization: n, epochs: 1 });
