// npm run bench: times the guide's training step (784-100-100-10, BN before ReLU, batch 100, SGD)
// on every backend that loads: the graph, fused, lean, autodiff and tf.layers steps in one process,
// in interleaved rounds, so that a drift of the machine's speed hits all of them alike. Then it
// times one full epoch per model with the default step to extrapolate the whole reproduction,
// and, on tensorflow, the fused step again in a process with TensorFlow's default threads.
// On tensorflow and wasm it also times notebook 08's LeNet with batch norm: the autodiff step,
// which trains convolutional networks, against the same network in tf.layers.
// Options: --backends tensorflow,wasm,cpu  --step graph|fused|lean|autodiff|layers  --rounds N
//          --out PATH  --full (run all 30 epochs instead of extrapolating)
//          --thread-sweep (each step kind under several thread settings, one process each)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { LENET_CONV, LENET_DENSE } from '../src/nn/conv.js';
import { createNetwork, disposeNetwork, type NetworkOptions } from '../src/nn/network.js';
import { isBackendChoice, useBackend, type BackendChoice } from '../src/runtime/backend.js';
import { writeAtomically } from '../src/runtime/files.js';
import { GUIDE_CONFIG } from '../src/train/config.js';
import { countNativeOps, hasNativeOps } from '../src/train/native-ops.js';
import {
  isStepKind,
  resolveStepKind,
  STEP_KINDS,
  STEP_SUPPORT,
  type StepKind,
  type TrainingStep,
} from '../src/train/step.js';
import { createTrainingStep } from '../src/train/steps.js';
import { train } from '../src/train/trainer.js';

const fail = (message: string): never => {
  console.error(`error: ${message}`);
  process.exit(2);
};
let args: {
  backends?: string;
  step?: string;
  rounds?: string;
  out?: string;
  full?: boolean;
  'thread-sweep'?: boolean;
  'steps-only'?: boolean;
  child?: boolean;
} = {};
try {
  args = parseArgs({
    options: {
      backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
      step: { type: 'string' },
      rounds: { type: 'string', default: '15' },
      out: { type: 'string', default: 'data/bench/latest.json' },
      full: { type: 'boolean', default: false },
      'thread-sweep': { type: 'boolean', default: false },
      // Internal: the default-threads run times steps only; a sweep's child adds one epoch
      // per model, and neither starts children of its own.
      'steps-only': { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
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
  model: ReturnType<typeof createNetwork>;
  perStep: number[];
}

/**
 * Median over rounds of the mean step time within a round (one sync per round, as in
 * training). The contenders take turns inside every round.
 */
async function timeSteps(
  kinds: StepKind[],
  data: DeviceSplit,
  stepsPerRound: number,
  network: NetworkOptions = { placement: 'pre' },
) {
  const sampler = new BatchSampler(data.count, 100, 'bench');
  const batches = Array.from({ length: stepsPerRound }, () =>
    gatherBatch(data, sampler.nextBatch()),
  );
  const contenders: Contender[] = [];
  for (const kind of kinds) {
    const model = createNetwork({ ...network, seed: 0 });
    const step = await createTrainingStep(kind, model, {
      batchSize: 100,
      learningRate: GUIDE_CONFIG.learningRate,
    });
    contenders.push({ kind, model, step, perStep: [] });
  }
  const runRound = (c: Contender) => {
    for (const { x, y } of batches) c.step.run(x, y);
    c.step.syncNetwork(); // reads back where the step trains a copy; a sync point for all
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
    graphOverFused: pairedRatio('graph', 'fused'),
    fusedOverLean: pairedRatio('fused', 'lean'),
    layersOverFused: pairedRatio('layers', 'fused'),
    layersOverLean: pairedRatio('layers', 'lean'),
    autodiffOverLean: pairedRatio('autodiff', 'lean'),
    layersOverAutodiff: pairedRatio('layers', 'autodiff'),
  };
  for (const c of contenders) {
    c.step.dispose();
    disposeNetwork(c.model);
  }
  for (const b of batches) tf.dispose([b.x, b.y]);
  return { timings, ratios };
}

interface BackendReport {
  backend: string;
  steps: Partial<Record<StepKind, StepTiming>>;
  ratios: Record<string, number | undefined>;
  /** Notebook 08's LeNet with batch norm before the ReLU: the steps that train it. */
  lenet?: { steps: Partial<Record<StepKind, StepTiming>>; layersOverAutodiff?: number };
}

const LENET: NetworkOptions = {
  placement: 'pre',
  convolutional: LENET_CONV,
  hiddenUnits: LENET_DENSE,
};

async function benchBackend(name: string, data: DeviceSplit): Promise<BackendReport> {
  const available = STEP_KINDS.filter((kind) => !STEP_SUPPORT[kind].native || hasNativeOps());
  const kinds = forcedStep ? [forcedStep] : available;
  const { timings, ratios } = await timeSteps(kinds, data, name === 'cpu' ? 5 : 25);
  const report: BackendReport = { backend: name, steps: timings, ratios };
  // The plain cpu backend would take minutes per LeNet round; a forced step is a step question.
  if (name !== 'cpu' && !forcedStep) {
    console.error(`timing LeNet's steps on ${name} ...`);
    const lenet = await timeSteps(['autodiff', 'layers'], data, 5, LENET);
    report.lenet = { steps: lenet.timings, layersOverAutodiff: lenet.ratios.layersOverAutodiff };
  }
  return report;
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
    disposeNetwork(run.network);
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

/** Thread settings: TensorFlow reads them once per process, so each runs in a process of its own. */
const THREAD_SETTINGS: Array<{ label: string; intra: string; inter: string }> = [
  // 0 is TensorFlow's own default: as many threads as cores, for each pool.
  { label: "TensorFlow's default (one per core)", intra: '0', inter: '0' },
  { label: 'intra 1, inter 1', intra: '1', inter: '1' },
  { label: 'intra 1, inter 2', intra: '1', inter: '2' },
  { label: 'intra 2, inter 1', intra: '2', inter: '1' },
  { label: 'intra 2, inter 2', intra: '2', inter: '2' },
];

/** This bench in a child process with other thread settings: what it measured, from its JSON. */
function benchInChild(
  intra: string,
  inter: string,
  extra: string[],
): { backends: BackendReport[]; fullRun?: FullRunEstimate } {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-threads-')), 'bench.json');
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/bench.ts',
      '--child',
      '--backends',
      'tensorflow',
      '--rounds',
      String(rounds),
      '--out',
      out,
      ...extra,
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, TF_NUM_INTRAOP_THREADS: intra, TF_NUM_INTEROP_THREADS: inter },
    },
  );
  if (child.status !== 0) fail(`the bench with threads intra ${intra}, inter ${inter} failed`);
  return JSON.parse(readFileSync(out, 'utf8')) as {
    backends: BackendReport[];
    fullRun?: FullRunEstimate;
  };
}

if (args['thread-sweep']) {
  const rows = THREAD_SETTINGS.map((setting) => {
    console.error(`timing every step, and one epoch per model, with ${setting.label} ...`);
    const measured = benchInChild(setting.intra, setting.inter, []);
    return { ...setting, steps: measured.backends[0]!.steps, fullRun: measured.fullRun };
  });
  console.log('\nms per step on tensorflow, median over rounds, one process per setting;');
  console.log('the full run extrapolated from one epoch per model with the default step');
  console.log('| threads | graph | fused | lean | autodiff | tf.layers | full run (s) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${STEP_KINDS.map((k) => (r.steps[k] ? r.steps[k]!.medianMs.toFixed(2) : '-')).join(' | ')} | ${r.fullRun?.fullRunSeconds.toFixed(0) ?? '-'} |`,
    );
  const machine = {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
  };
  await writeAtomically(
    args.out!,
    `${JSON.stringify({ createdAt: new Date().toISOString(), machine, rounds, threads: rows }, null, 2)}\n`,
  );
  console.log(`wrote ${args.out}`);
  process.exit(0);
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
  if ((forcedStep === 'fused' || forcedStep === 'graph') && !hasNativeOps()) {
    console.error(`skipping ${name}: the ${forcedStep} step needs the tensorflow backend`);
    continue;
  }
  const data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  console.error(`timing the training steps on ${name} (${rounds} interleaved rounds) ...`);
  reports.push(await benchBackend(name, data.train));
  if (!fullRun && name !== 'cpu' && !args['steps-only']) {
    console.error(`timing ${args.full ? 'the full run' : 'one epoch per model'} on ${name} ...`);
    fullRun = await estimateFullRun(data, name);
  }
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
}

if (reports.length === 0) fail(`no backend could be timed; ${args.out} is left as it was`);

// The project sets its thread counts before TensorFlow loads (src/runtime/native-env.ts); the
// same fused step under TensorFlow's defaults shows what they are worth.
let fusedDefaultThreads: StepTiming | undefined;
if (
  !args['steps-only'] &&
  !args.child &&
  reports.some((r) => r.backend === 'tensorflow' && r.steps.fused)
) {
  console.error("timing the fused step again with TensorFlow's default threads ...");
  fusedDefaultThreads = benchInChild('0', '0', ['--step', 'fused', '--steps-only']).backends[0]!
    .steps.fused;
}

const cell = (t?: StepTiming) =>
  t ? `${t.medianMs.toFixed(2)} (${t.minMs.toFixed(2)}-${t.maxMs.toFixed(2)})` : '-';
const count = (t?: StepTiming) => (t ? String(t.kernelsPerStep) : '-');
const ratio = (r?: number) => (r === undefined ? '-' : `${r.toFixed(2)}`);
console.log('\nms per step, median (min-max) over rounds; ratios are medians of per-round ratios');
console.log(
  '| backend | graph | fused | lean | autodiff | tf.layers | graph / fused | fused / lean | autodiff / lean | tf.layers / fused | calls into TF or kernels per step: graph, fused, lean, autodiff, tf.layers |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of reports) {
  const s = r.steps;
  console.log(
    `| ${r.backend} | ${STEP_KINDS.map((k) => cell(s[k])).join(' | ')} | ${ratio(r.ratios['graphOverFused'])} | ${ratio(r.ratios['fusedOverLean'])} | ${ratio(r.ratios['autodiffOverLean'])} | ${ratio(r.ratios['layersOverFused'])} | ${STEP_KINDS.map((k) => count(s[k])).join(', ')} |`,
  );
}
const lenetReports = reports.filter((r) => r.lenet);
if (lenetReports.length > 0) {
  console.log("\nnotebook 08's LeNet with batch norm, ms per step (batch 100), median (min-max)");
  console.log(
    '| backend | autodiff | tf.layers | tf.layers / autodiff | kernels per step: autodiff, tf.layers |',
  );
  console.log('|---|---|---|---|---|');
  for (const r of lenetReports) {
    const s = r.lenet!.steps;
    console.log(
      `| ${r.backend} | ${cell(s.autodiff)} | ${cell(s.layers)} | ${ratio(r.lenet!.layersOverAutodiff)} | ${count(s.autodiff)}, ${count(s.layers)} |`,
    );
  }
}
const threads = `TF_NUM_INTRAOP_THREADS=${process.env['TF_NUM_INTRAOP_THREADS']}, TF_NUM_INTEROP_THREADS=${process.env['TF_NUM_INTEROP_THREADS']}`;
if (reports.some((r) => r.backend === 'tensorflow')) console.log(`tensorflow threads: ${threads}`);
if (fusedDefaultThreads)
  console.log(
    `fused step with TensorFlow's default threads (another process): ${cell(fusedDefaultThreads)}`,
  );
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
  `${JSON.stringify({ createdAt: new Date().toISOString(), machine, rounds, threads, backends: reports, fusedDefaultThreads, fullRun, peakRssMiB }, null, 2)}\n`,
);
console.log(`wrote ${args.out}`);
