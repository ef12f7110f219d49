import { existsSync, mkdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKENDS, isBackendChoice, type BackendChoice } from '../runtime/backend.js';
import { SOURCES, TRAIN_EXAMPLES, type Source } from '../data/mnist.js';
import { PLACEMENTS, type Placement } from '../nn/layers.js';
import { GUIDE_CONFIG } from '../train/config.js';
import { isStepKind, STEP_KINDS, type StepKind } from '../train/steps.js';

export interface ExperimentOptions {
  models: Placement[];
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  learningRate: number;
  decay: number;
  source: Source;
  seed: number;
  backend: BackendChoice;
  /** Forced step implementation; undefined lets the backend decide. */
  step?: StepKind;
  /** Path prefix: writes `<out>.json` and `<out>.html`. */
  out: string;
}

export const USAGE = `usage: npm run experiment -- [options]

Trains the guide's 784-100-100-10 MLP without BN, with BN before ReLU and with BN after ReLU,
then writes <out>.json (results) and <out>.html (an offline plotly report).

  --models LIST           comma-separated, from ${PLACEMENTS.join(', ')}      (default ${PLACEMENTS.join(',')})
  --epochs N              epochs to train                            (default ${GUIDE_CONFIG.epochs})
  --steps-per-epoch N     SGD steps per epoch                        (default ${GUIDE_CONFIG.stepsPerEpoch})
  --batch-size N          examples per step                          (default ${GUIDE_CONFIG.batchSize})
  --learning-rate R       SGD learning rate                          (default ${GUIDE_CONFIG.learningRate})
  --decay D               BN moving-average decay, in [0, 1)         (default ${GUIDE_CONFIG.decay})
  --source S              full (60k/10k MNIST) or small (10k digits) (default full)
  --seed N                seeds weights, batches and the small split (default ${GUIDE_CONFIG.seed})
  --backend B             ${BACKENDS.join(', ')}   (default auto)
  --step S                ${STEP_KINDS.join(', ')}: the training step (default: graph on tensorflow, else lean)
  --out PATH              output path prefix                         (default data/results/experiment)
  --help                  show this text`;

/** A bad command line: the message is one line naming the option at fault. */
export class UsageError extends Error {}

function positiveInteger(name: string, raw: string): number {
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  }
  return value;
}

function positiveNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0)
    throw new UsageError(`--${name} must be a positive number, got '${raw}'`);
  return value;
}

export function parseExperimentArgs(argv: string[]): ExperimentOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        models: { type: 'string', default: PLACEMENTS.join(',') },
        epochs: { type: 'string', default: String(GUIDE_CONFIG.epochs) },
        'steps-per-epoch': { type: 'string', default: String(GUIDE_CONFIG.stepsPerEpoch) },
        'batch-size': { type: 'string', default: String(GUIDE_CONFIG.batchSize) },
        'learning-rate': { type: 'string', default: String(GUIDE_CONFIG.learningRate) },
        decay: { type: 'string', default: String(GUIDE_CONFIG.decay) },
        source: { type: 'string', default: 'full' },
        seed: { type: 'string', default: String(GUIDE_CONFIG.seed) },
        backend: { type: 'string', default: 'auto' },
        step: { type: 'string' },
        out: { type: 'string', default: 'data/results/experiment' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    // node's messages span lines; the contract here is one line.
    throw new UsageError((error as Error).message.replace(/\s*\n\s*/g, ' '));
  }
  const v = parsed.values;
  if (v.help) return 'help';

  const models = v.models!.split(',').map((m) => m.trim());
  for (const m of models) {
    if (!(PLACEMENTS as readonly string[]).includes(m)) {
      throw new UsageError(
        `--models: unknown model '${m}' (expected one of: ${PLACEMENTS.join(', ')})`,
      );
    }
  }
  if (new Set(models).size !== models.length)
    throw new UsageError(`--models lists a model twice: '${v.models}'`);
  if (!(SOURCES as readonly string[]).includes(v.source!)) {
    throw new UsageError(
      `--source: unknown source '${v.source}' (expected one of: ${SOURCES.join(', ')})`,
    );
  }
  if (!isBackendChoice(v.backend!))
    throw new UsageError(
      `--backend: unknown backend '${v.backend}' (expected one of: ${BACKENDS.join(', ')})`,
    );
  if (v.step !== undefined && !isStepKind(v.step))
    throw new UsageError(
      `--step: unknown step '${v.step}' (expected one of: ${STEP_KINDS.join(', ')})`,
    );
  if ((v.step === 'fused' || v.step === 'graph') && (v.backend === 'wasm' || v.backend === 'cpu')) {
    throw new UsageError(
      `--step ${v.step} needs the tensorflow backend (tfjs-node), not --backend ${v.backend}`,
    );
  }
  const decay = Number(v.decay);
  if (v.decay!.trim() === '' || !(decay >= 0 && decay < 1))
    throw new UsageError(`--decay must be a number in [0, 1), got '${v.decay}'`);
  const seed = Number(v.seed);
  if (!/^\s*-?\d+\s*$/.test(v.seed!) || !Number.isSafeInteger(seed))
    throw new UsageError(`--seed must be an integer, got '${v.seed}'`);
  const out = v.out!.replace(/\.(json|html)$/, '');
  if (out.trim() === '' || out.endsWith('/'))
    throw new UsageError(`--out must be a file path prefix, got '${v.out}'`);
  checkOutputPrefix(out);

  const source = v.source as Source;
  const batchSize = positiveInteger('batch-size', v['batch-size']!);
  if (batchSize > TRAIN_EXAMPLES[source]) {
    throw new UsageError(
      `--batch-size ${batchSize} is larger than the ${TRAIN_EXAMPLES[source]} training examples of source '${source}'`,
    );
  }

  return {
    models: models as Placement[],
    epochs: positiveInteger('epochs', v.epochs!),
    stepsPerEpoch: positiveInteger('steps-per-epoch', v['steps-per-epoch']!),
    batchSize,
    learningRate: positiveNumber('learning-rate', v['learning-rate']!),
    decay,
    source,
    seed,
    backend: v.backend as BackendChoice,
    step: v.step as StepKind | undefined,
    out,
  };
}

/**
 * Fails before any training when `<out>.json` or `<out>.html` could not be written: it creates
 * what the writes will create (missing folders, a file), then removes it all again.
 */
function checkOutputPrefix(out: string): void {
  for (const target of [`${out}.json`, `${out}.html`]) {
    if (existsSync(target) && statSync(target).isDirectory())
      throw new UsageError(`--out: '${target}' is a directory`);
  }
  const folder = resolve(dirname(out));
  const missing: string[] = [];
  let ancestor = folder;
  while (!existsSync(ancestor)) {
    missing.unshift(ancestor);
    ancestor = dirname(ancestor);
  }
  if (!statSync(ancestor).isDirectory())
    throw new UsageError(`--out: '${ancestor}' is not a directory`);
  const created: string[] = [];
  try {
    for (const dir of missing) {
      mkdirSync(dir);
      created.push(dir);
    }
    const probe = join(folder, `.${basename(out)}.${process.pid}.write-test`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(`--out: cannot write in '${missing[created.length] ?? folder}' (${code})`);
  } finally {
    for (const dir of created.reverse()) rmdirSync(dir);
  }
}
