import { existsSync, mkdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKENDS, backendFromEnv, type BackendChoice } from '../runtime/backend.js';
import { SOURCES, TRAIN_EXAMPLES, type Source } from '../data/mnist.js';
import { PLACEMENTS, type Placement } from '../nn/layers.js';
import {
  batchSizeProblem,
  GUIDE_CONFIG,
  settingProblem,
  type RuledSetting,
} from '../train/config.js';
import { STEP_KINDS, STEP_SUPPORT, type StepKind } from '../train/step.js';

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
  --backend B             ${BACKENDS.join(', ')}
                          (default: BN_BACKEND if set, else auto)
  --step S                ${STEP_KINDS.join(', ')}: the training step (default: graph on tensorflow, else lean)
  --out PATH              output path prefix                         (default data/results/experiment)
  --help                  show this text`;

/** A bad command line: the message is one line naming the option at fault. */
export class UsageError extends Error {}

/** The numeric options, each checked by the training config's own rule for its setting. */
const NUMERIC_OPTIONS = {
  epochs: 'epochs',
  'steps-per-epoch': 'stepsPerEpoch',
  'batch-size': 'batchSize',
  'learning-rate': 'learningRate',
  decay: 'decay',
  seed: 'seed',
} as const satisfies Record<string, RuledSetting>;
type NumericOption = keyof typeof NUMERIC_OPTIONS;

/** A number as typed: decimal notation only, so that '' or '0x10' is not read as a number. */
function numberFrom(raw: string): number {
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
}

function numericOption(option: NumericOption, raw: string): number {
  const value = numberFrom(raw);
  const problem = settingProblem(NUMERIC_OPTIONS[option], value);
  if (problem) throw new UsageError(`--${option} ${problem}, got '${raw}'`);
  return value;
}

/** One of `known`, or a one-line error naming the option and the choices. */
function choice<T extends string>(
  option: string,
  what: string,
  raw: string,
  known: readonly T[],
): T {
  if (!(known as readonly string[]).includes(raw))
    throw new UsageError(
      `--${option}: unknown ${what} '${raw}' (expected one of: ${known.join(', ')})`,
    );
  return raw as T;
}

function parseModels(raw: string): Placement[] {
  const models = raw.split(',').map((m) => choice('models', 'model', m.trim(), PLACEMENTS));
  if (new Set(models).size !== models.length)
    throw new UsageError(`--models lists a model twice: '${raw}'`);
  return models;
}

/** Without --backend, the one BN_BACKEND names (else auto), as the notebooks and tests do. */
function envBackend(): BackendChoice {
  try {
    return backendFromEnv();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseStep(raw: string | undefined, backend: BackendChoice): StepKind | undefined {
  if (raw === undefined) return undefined;
  const step = choice('step', 'step', raw, STEP_KINDS);
  if (STEP_SUPPORT[step].native && (backend === 'wasm' || backend === 'cpu'))
    throw new UsageError(
      `--step ${step} needs the tensorflow backend (tfjs-node), not --backend ${backend}`,
    );
  return step;
}

function parseOut(raw: string): string {
  const out = raw.replace(/\.(json|html)$/, '');
  if (out.trim() === '' || out.endsWith('/'))
    throw new UsageError(`--out must be a file path prefix, got '${raw}'`);
  checkOutputPrefix(out);
  return out;
}

function parseRaw(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        models: { type: 'string', default: PLACEMENTS.join(',') },
        ...(Object.fromEntries(
          Object.entries(NUMERIC_OPTIONS).map(([option, key]) => [
            option,
            { type: 'string', default: String(GUIDE_CONFIG[key]) },
          ]),
        ) as Record<NumericOption, { type: 'string'; default: string }>),
        source: { type: 'string', default: 'full' },
        backend: { type: 'string' },
        step: { type: 'string' },
        out: { type: 'string', default: 'data/results/experiment' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    // node's messages span lines; the contract here is one line.
    throw new UsageError((error as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}

export function parseExperimentArgs(argv: string[]): ExperimentOptions | 'help' {
  const v = parseRaw(argv);
  if (v.help) return 'help';
  const models = parseModels(v.models!);
  const source = choice('source', 'source', v.source!, SOURCES);
  const backend =
    v.backend === undefined ? envBackend() : choice('backend', 'backend', v.backend, BACKENDS);
  const step = parseStep(v.step, backend);
  const numbers = Object.fromEntries(
    (Object.keys(NUMERIC_OPTIONS) as NumericOption[]).map((o) => [o, numericOption(o, v[o]!)]),
  ) as Record<NumericOption, number>;
  const out = parseOut(v.out!);
  const tooLarge = batchSizeProblem(numbers['batch-size'], TRAIN_EXAMPLES[source]);
  if (tooLarge) throw new UsageError(`--batch-size ${tooLarge} of source '${source}'`);
  return {
    models,
    epochs: numbers.epochs,
    stepsPerEpoch: numbers['steps-per-epoch'],
    batchSize: numbers['batch-size'],
    learningRate: numbers['learning-rate'],
    decay: numbers.decay,
    source,
    seed: numbers.seed,
    backend,
    step,
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
