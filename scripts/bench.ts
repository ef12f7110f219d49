// npm run bench: times the guide's training step (784-100-100-10, BN before ReLU, batch 100, SGD)
// on every backend that loads: the fused, lean and tf.layers steps in the same process, in
// interleaved rounds, so that a drift of the machine's speed hits all three alike. Then it
// times one full epoch per model with the default step to extrapolate the whole reproduction.
// Options: --backends tensorflow,wasm,cpu  --step fused|lean|layers  --rounds N  --out PATH
//          --full (run all 30 epochs instead of extrapolating)
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { BatchSampler } from '../src/data/batches.js';
import {
  disposeDeviceSplit,
  gatherBatch,
  toDevice,
  type DeviceSplit,
  type TrainTest,
} from '../src/data/device-split.js';
import { loadMnist } from '../src/data/mnist.js';
import { PLACEMENTS, type Placement } from '../src/nn/layers.js';
import { createModel, disposeModel } from '../src/nn/mlp.js';
import { isBackendChoice, useBackend, type BackendChoice } from '../src/runtime/backend.js';
import { writeAtomically } from '../src/runtime/files.js';
import { GUIDE_CONFIG } from '../src/train/config.js';
import { countNativeOps, hasNativeOps } from '../src/train/native-ops.js';
import {
  createTrainingStep,
  isStepKind,
  resolveStepKind,
  STEP_KINDS,
  type StepKind,
  type TrainingStep,
} from '../src/train/steps.js';
import { train } from '../src/train/trainer.js';

const fail = (message: string): never => {
  console.error(`error: ${message}`);
  process.exit(2);
};
let args: { backends?: string; step?: string; rounds?: string; out?: string; full?: boolean } = {};
try {
  args = parseArgs({
    options: {
      backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
      step: { type: 'string' },
      rounds: { type: 'string', default: '15' },
      out: { type: 'string', default: 'data/bench/latest.json' },
      full: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  fail((error as Error).message.replace(/\s*\n\s*/g, ' '));
}
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 3)
  fail(`--rounds must be an integer of at least 3, got '${args.rounds}'`);
if (args.step !== undefined && !isStepKind(args.step))
  fail(`--step: unknown step '${args.step}' (expected one of: ${STEP_KINDS.join(', ')})`);
const forcedStep = args.step as StepKind | undefined;

interface StepTiming {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** TensorFlow ops dispatched per step on the tensorflow backend; tfjs kernels elsewhere. */
  kernelsPerStep: number;
  tensorsBefore: number;
  tensorsAfter: number;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Contender {
  kind: StepKind;
  step: TrainingStep;
  model: ReturnType<typeof createModel>;
  perStep: number[];
}

/**
 * Median over rounds of the mean step time within a round (one sync per round, as in
 * training). The contenders take turns inside every round.
 */
async function timeSteps(kinds: StepKind[], data: DeviceSplit, stepsPerRound: number) {
  const sampler = new BatchSampler(data.count, 100, 'bench');
  const batches = Array.from({ length: stepsPerRound }, () =>
    gatherBatch(data, sampler.nextBatch()),
  );
  const contenders: Contender[] = kinds.map((kind) => {
    const model = createModel({ placement: 'pre', seed: 0 });
    return {
      kind,
      model,
      step: createTrainingStep(kind, model, {
        batchSize: 100,
        learningRate: GUIDE_CONFIG.learningRate,
      }),
      perStep: [],
    };
  });
  const runRound = (c: Contender) => {
    for (const { x, y } of batches) c.step.run(x, y);
    c.step.syncModel(); // reads back where the step trains a copy; a sync point for all
    c.model.logits.bias.dataSync();
  };
  const kernels = new Map<StepKind, number>();
  for (const c of contenders) {
    runRound(c); // warm-up: kernel caches, thread pools, first allocations
    const { x, y } = batches[0]!;
    kernels.set(
      c.kind,
      hasNativeOps()
        ? countNativeOps(() => c.step.run(x, y))
        : (await tf.profile(() => c.step.run(x, y))).kernels.length,
    );
  }
  const tensorsBefore = tf.memory().numTensors;
  for (let r = 0; r < rounds; r++) {
    for (const c of r % 2 === 0 ? contenders : [...contenders].reverse()) {
      const start = performance.now();
      runRound(c);
      c.perStep.push((performance.now() - start) / stepsPerRound);
    }
  }
  const tensorsAfter = tf.memory().numTensors;
  const timings = {} as Partial<Record<StepKind, StepTiming>>;
  for (const c of contenders) {
    timings[c.kind] = {
      medianMs: median(c.perStep),
      minMs: Math.min(...c.perStep),
      maxMs: Math.max(...c.perStep),
      kernelsPerStep: kernels.get(c.kind)!,
      tensorsBefore,
      tensorsAfter,
    };
  }
  // Ratios within a round: robust to the machine's drift between rounds.
  const pairedRatio = (a: StepKind, b: StepKind) => {
    const ca = contenders.find((c) => c.kind === a);
    const cb = contenders.find((c) => c.kind === b);
    return ca && cb ? median(ca.perStep.map((t, i) => t / cb.perStep[i]!)) : undefined;
  };
  const ratios = {
    fusedOverLean: pairedRatio('fused', 'lean'),
    layersOverFused: pairedRatio('layers', 'fused'),
    layersOverLean: pairedRatio('layers', 'lean'),
  };
  for (const c of contenders) {
    c.step.dispose();
    disposeModel(c.model);
  }
  for (const b of batches) tf.dispose([b.x, b.y]);
  return { timings, ratios };
}

interface BackendReport {
  backend: string;
  steps: Partial<Record<StepKind, StepTiming>>;
  ratios: Record<string, number | undefined>;
}

async function benchBackend(name: string, data: DeviceSplit): Promise<BackendReport> {
  const available = STEP_KINDS.filter((kind) => kind !== 'fused' || hasNativeOps());
  const kinds = forcedStep ? [forcedStep] : available;
  const { timings, ratios } = await timeSteps(kinds, data, name === 'cpu' ? 5 : 25);
  return { backend: name, steps: timings, ratios };
}

interface FullRunEstimate {
  backend: string;
  step: StepKind;
  measuredEpochs: number;
  /** Per model: seconds of the measured epochs (training steps + both evaluations). */
  secondsPerModel: Record<Placement, number>;
  /** The guide's 3 models x 30 epochs, measured or extrapolated from the measured epochs. */
  fullRunSeconds: number;
  extrapolated: boolean;
  /** Per model: the tensor count after each epoch (flat when nothing leaks). */
  tensorsPerEpoch: Record<Placement, number[]>;
}

async function estimateFullRun(data: TrainTest, backend: string): Promise<FullRunEstimate> {
  const epochs = args.full ? GUIDE_CONFIG.epochs : 1;
  const step = resolveStepKind(forcedStep);
  const secondsPerModel = {} as Record<Placement, number>;
  const tensorsPerEpoch = {} as Record<Placement, number[]>;
  for (const placement of PLACEMENTS) {
    const counts: number[] = (tensorsPerEpoch[placement] = []);
    const run = await train(
      data,
      { ...GUIDE_CONFIG, placement, epochs, step },
      { onEpoch: () => counts.push(tf.memory().numTensors) },
    );
    secondsPerModel[placement] = run.seconds;
    disposeModel(run.model);
  }
  const measured = Object.values(secondsPerModel).reduce((a, b) => a + b, 0);
  return {
    backend,
    step,
    measuredEpochs: epochs,
    secondsPerModel,
    fullRunSeconds: (measured * GUIDE_CONFIG.epochs) / epochs,
    extrapolated: epochs !== GUIDE_CONFIG.epochs,
    tensorsPerEpoch,
  };
}

const wanted = args.backends!.split(',') as string[];
for (const name of wanted) {
  if (!isBackendChoice(name) || name === 'auto') {
    fail(
      `--backends: unknown backend '${name}' (expected tensorflow, tensorflow-gpu, wasm or cpu)`,
    );
  }
}
const mnist = loadMnist('full');
const reports: BackendReport[] = [];
let fullRun: FullRunEstimate | undefined;
for (const name of wanted) {
  try {
    await useBackend(name as BackendChoice);
  } catch (error) {
    console.error(`skipping ${name}: ${(error as Error).message}`);
    continue;
  }
  if (forcedStep === 'fused' && !hasNativeOps()) {
    console.error(`skipping ${name}: the fused step needs the tensorflow backend`);
    continue;
  }
  const data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  console.error(`timing the training steps on ${name} (${rounds} interleaved rounds) ...`);
  reports.push(await benchBackend(name, data.train));
  if (!fullRun && name !== 'cpu') {
    console.error(`timing ${args.full ? 'the full run' : 'one epoch per model'} on ${name} ...`);
    fullRun = await estimateFullRun(data, name);
  }
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
}

if (reports.length === 0) fail(`no backend could be timed; ${args.out} is left as it was`);

const cell = (t?: StepTiming) =>
  t ? `${t.medianMs.toFixed(2)} (${t.minMs.toFixed(2)}-${t.maxMs.toFixed(2)})` : '-';
const count = (t?: StepTiming) => (t ? String(t.kernelsPerStep) : '-');
const ratio = (r?: number) => (r === undefined ? '-' : `${r.toFixed(2)}`);
console.log('\nms per step, median (min-max) over rounds; ratios are medians of per-round ratios');
console.log(
  '| backend | fused | lean | tf.layers | fused / lean | tf.layers / fused | kernels/step fused, lean, tf.layers |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of reports) {
  const s = r.steps;
  console.log(
    `| ${r.backend} | ${cell(s.fused)} | ${cell(s.lean)} | ${cell(s.layers)} | ${ratio(r.ratios['fusedOverLean'])} | ${ratio(r.ratios['layersOverFused'])} | ${count(s.fused)}, ${count(s.lean)}, ${count(s.layers)} |`,
  );
}
if (fullRun) {
  const label = fullRun.extrapolated
    ? `extrapolated from ${fullRun.measuredEpochs} measured epoch per model`
    : 'measured';
  console.log(
    `\nfull reproduction (3 models x 30 epochs x 500 steps + evaluations) on ${fullRun.backend}, ${fullRun.step} step: ${fullRun.fullRunSeconds.toFixed(0)} s (${label})`,
  );
  for (const [placement, counts] of Object.entries(fullRun.tensorsPerEpoch)) {
    console.log(
      `tensors after each epoch, ${placement}: ${counts.join(', ')}${new Set(counts).size === 1 ? ' (flat)' : ' (GROWING)'}`,
    );
  }
}
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log(`peak RSS: ${peakRssMiB.toFixed(0)} MiB`);

const machine = {
  cpuModel: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  platform: `${process.platform}-${process.arch}`,
  node: process.version,
};
await writeAtomically(
  args.out!,
  `${JSON.stringify({ createdAt: new Date().toISOString(), machine, rounds, backends: reports, fullRun, peakRssMiB }, null, 2)}\n`,
);
console.log(`wrote ${args.out}`);
