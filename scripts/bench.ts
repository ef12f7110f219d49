// npm run bench: times the guide's training step (784-100-100-10, BN before ReLU, batch 100, SGD)
// on every backend that loads, the lean step and the tf.layers step in the same run, then
// times one full epoch per model to extrapolate the whole reproduction run.
// Options: --backends tensorflow,wasm,cpu  --rounds N  --out PATH  --full (run all 30 epochs instead of extrapolating)
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { useBackend, type BackendChoice } from '../src/runtime/backend.js';
import { BatchSampler } from '../src/data/batches.js';
import { loadMnist } from '../src/data/mnist.js';
import { PLACEMENTS, type Placement } from '../src/nn/layers.js';
import { createModel, disposeModel } from '../src/nn/mlp.js';
import { copyWeightsToLayersModel, createLayersModel, layersTrainingStep } from '../src/train/layers-step.js';
import { writeAtomically } from '../src/runtime/results.js';
import { disposeDeviceSplit, gatherBatch, toDevice, type DeviceSplit } from '../src/data/device-split.js';
import { GUIDE_CONFIG } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';
import { leanStep } from '../src/train/lean-step.js';

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    rounds: { type: 'string', default: '15' },
    out: { type: 'string', default: 'data/bench/latest.json' },
    full: { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 3) {
  console.error(`error: --rounds must be an integer of at least 3, got '${args.rounds}'`);
  process.exit(2);
}

type Step = (x: tf.Tensor2D, y: tf.Tensor2D) => void;

interface StepTiming {
  medianMs: number;
  minMs: number;
  kernelsPerStep: number;
  tensorsBefore: number;
  tensorsAfter: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median over rounds of the mean step time within a round; one sync per round, as in training. */
async function timeStep(step: Step, data: DeviceSplit, stepsPerRound: number, sync: () => void): Promise<StepTiming> {
  const sampler = new BatchSampler(data.count, 100, 'bench');
  const batches = Array.from({ length: stepsPerRound }, () => gatherBatch(data, sampler.nextBatch()));
  const runRound = () => {
    for (const { x, y } of batches) step(x, y);
    sync();
  };
  runRound(); // warm-up: kernel caches, thread pools, first allocations
  const profile = await tf.profile(() => step(batches[0]!.x, batches[0]!.y));
  const tensorsBefore = tf.memory().numTensors;
  const perStep: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    runRound();
    perStep.push((performance.now() - start) / stepsPerRound);
  }
  const tensorsAfter = tf.memory().numTensors;
  for (const b of batches) tf.dispose([b.x, b.y]);
  return { medianMs: median(perStep), minMs: Math.min(...perStep), kernelsPerStep: profile.kernels.length, tensorsBefore, tensorsAfter };
}

interface BackendReport {
  backend: string;
  lean: StepTiming;
  layers: StepTiming;
  speedup: number;
}

async function benchBackend(name: Exclude<BackendChoice, 'auto'>, data: DeviceSplit): Promise<BackendReport> {
  const stepsPerRound = name === 'cpu' ? 5 : 25;
  const model = createModel({ placement: 'pre', seed: 0 });
  const lean = await timeStep((x, y) => leanStep(model, GUIDE_CONFIG.learningRate, x, y), data, stepsPerRound, () => model.logits.bias.dataSync());

  const layersModel = createLayersModel('pre');
  copyWeightsToLayersModel(model, layersModel);
  const layersOptimizer = tf.train.sgd(GUIDE_CONFIG.learningRate);
  const lastLayer = layersModel.layers.at(-1)!;
  const layers = await timeStep((x, y) => layersTrainingStep(layersModel, layersOptimizer, x, y), data, stepsPerRound, () => lastLayer.getWeights()[1]!.dataSync());

  disposeModel(model);
  layersModel.dispose();
  layersOptimizer.dispose();
  return { backend: name, lean, layers, speedup: layers.medianMs / lean.medianMs };
}

interface FullRunEstimate {
  backend: string;
  measuredEpochs: number;
  /** Per model: seconds of the measured epochs (training steps + both evaluations). */
  secondsPerModel: Record<Placement, number>;
  /** The guide's 3 models x 30 epochs, measured or extrapolated from the measured epochs. */
  fullRunSeconds: number;
  extrapolated: boolean;
  /** Per model: the tensor count after each epoch (flat when nothing leaks). */
  tensorsPerEpoch: Record<Placement, number[]>;
}

async function estimateFullRun(data: { train: DeviceSplit; test: DeviceSplit }, backend: string): Promise<FullRunEstimate> {
  const epochs = args.full ? GUIDE_CONFIG.epochs : 1;
  const secondsPerModel = {} as Record<Placement, number>;
  const tensorsPerEpoch = {} as Record<Placement, number[]>;
  for (const placement of PLACEMENTS) {
    const counts: number[] = (tensorsPerEpoch[placement] = []);
    const run = await train(data, { ...GUIDE_CONFIG, placement, epochs }, { onEpoch: () => counts.push(tf.memory().numTensors) });
    secondsPerModel[placement] = run.seconds;
    disposeModel(run.model);
  }
  const measured = Object.values(secondsPerModel).reduce((a, b) => a + b, 0);
  return {
    backend,
    measuredEpochs: epochs,
    secondsPerModel,
    fullRunSeconds: (measured * GUIDE_CONFIG.epochs) / epochs,
    extrapolated: epochs !== GUIDE_CONFIG.epochs,
    tensorsPerEpoch,
  };
}

const wanted = args.backends!.split(',') as Array<Exclude<BackendChoice, 'auto'>>;
const mnist = loadMnist('full');
const reports: BackendReport[] = [];
let fullRun: FullRunEstimate | undefined;
for (const name of wanted) {
  try {
    await useBackend(name);
  } catch (error) {
    console.error(`skipping ${name}: ${(error as Error).message}`);
    continue;
  }
  const data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  console.error(`timing the training step on ${name} ...`);
  reports.push(await benchBackend(name, data.train));
  if (!fullRun && name !== 'cpu') {
    console.error(`timing ${args.full ? 'the full run' : 'one epoch per model'} on ${name} ...`);
    fullRun = await estimateFullRun(data, name);
  }
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
}

const peakRssMiB = process.resourceUsage().maxRSS / 1024;
const rows = reports.map((r) =>
  [r.backend, r.lean.medianMs.toFixed(2), r.layers.medianMs.toFixed(2), `${r.speedup.toFixed(2)}x`, String(r.lean.kernelsPerStep), String(r.layers.kernelsPerStep)].join(' | '),
);
console.log('\n| backend | lean step (ms, median) | tf.layers step (ms, median) | speed-up | kernels/step lean | kernels/step tf.layers |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row} |`);
if (fullRun) {
  const label = fullRun.extrapolated ? `extrapolated from ${fullRun.measuredEpochs} measured epoch per model` : 'measured';
  console.log(`\nfull reproduction (3 models x 30 epochs x 500 steps + evaluations) on ${fullRun.backend}: ${fullRun.fullRunSeconds.toFixed(0)} s (${label})`);
  for (const [placement, counts] of Object.entries(fullRun.tensorsPerEpoch)) {
    console.log(`tensors after each epoch, ${placement}: ${counts.join(', ')}${new Set(counts).size === 1 ? ' (flat)' : ' (GROWING)'}`);
  }
}
console.log(`peak RSS: ${peakRssMiB.toFixed(0)} MiB`);

await writeAtomically(
  args.out!,
  `${JSON.stringify({ createdAt: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, steps: reports, fullRun, peakRssMiB }, null, 2)}\n`,
);
console.log(`wrote ${args.out}`);
