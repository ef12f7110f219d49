#!/usr/bin/env bash
# For a machine with an NVIDIA GPU: sets up the GPU build (tfjs-node-gpu on TensorFlow 2.21's
# GPU wheel, with CUDA 12.5 and cuDNN 9.3 from PyPI), times the graph, fused and tf.layers steps
# on the GPU build and on the CPU build, runs notebook 01 in the quick profile on the GPU build,
# and prints one table. Everything it writes goes to build/gpu-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/gpu-check
rm -rf "$out" && mkdir -p "$out"

npm install --no-audit --no-fund >"$out/install.log" 2>&1
node scripts/setup.mjs --gpu 2>&1 | tee "$out/setup.log" >&2

device=$(BN_DEVICE=gpu node --import tsx --input-type=module -e \
  "const { useBackend } = await import('./src/runtime/backend.ts');
   console.log((await useBackend('tensorflow', () => {})).device);" 2>/dev/null | tail -n 1)

for build in cpu gpu; do
  BN_DEVICE=$build node --import tsx scripts/bench.ts --backends tensorflow --steps-only \
    --out "$out/bench-$build.json" >"$out/bench-$build.log" 2>&1
done

SECONDS=0
BN_DEVICE=gpu .venv/bin/python scripts/run_notebooks.py --profile quick --out "$out/notebooks" \
  notebooks/01-batch-normalization-the-easy-way.ipynb >"$out/notebook.log" 2>&1
notebook_seconds=$SECONDS

node --input-type=module - "$out" "$device" "$notebook_seconds" <<'NODE'
import { readFileSync } from 'node:fs';
const [out, device, notebookSeconds] = process.argv.slice(2);
const steps = (build) =>
  JSON.parse(readFileSync(`${out}/bench-${build}.json`, 'utf8')).backends[0].steps;
const [cpu, gpu] = [steps('cpu'), steps('gpu')];
console.log(`GPU build on: ${device}`);
console.log('| step | CPU build (ms) | GPU build (ms) | GPU / CPU |');
console.log('|---|---|---|---|');
for (const kind of ['graph', 'fused', 'layers']) {
  const [c, g] = [cpu[kind]?.medianMs, gpu[kind]?.medianMs];
  const cell = (v) => (v === undefined ? '-' : v.toFixed(2));
  console.log(`| ${kind} | ${cell(c)} | ${cell(g)} | ${c && g ? (g / c).toFixed(2) : '-'} |`);
}
console.log(`| notebook 01, quick profile, GPU build | - | ${Number(notebookSeconds).toFixed(0)} s | - |`);
NODE
