import { GUIDE_DECAY, GUIDE_EPSILON } from '../nn/batchnorm-state.js';
import type { NetworkOptions } from '../nn/network.js';
import type { StepKind } from './step.js';

/** How a run trains, whatever the network: the guide's procedure and its knobs. */
export interface RunSettings {
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the initial weights and the batch order. */
  seed: number;
  decay: number;
  epsilon: number;
  /** L2 weight decay on the kernels (default 0); the lean and autodiff steps apply it. */
  weightDecay?: number;
  /** Run the update ops in each step (default true); false shows what forgetting them does. */
  updateMovingAverages?: boolean;
  /** Which implementation of the step runs; by default the first that can (`resolveStepKind`). */
  step?: StepKind;
  /**
   * When the training set is evaluated (default every epoch, the guide's schedule). 'last-epoch'
   * saves that pass where only the test curve is wanted, 'never' where only the test set is
   * read: the records it skips hold NaN for the training loss and accuracy.
   */
  trainSetEvaluation?: 'every-epoch' | 'last-epoch' | 'never';
}

/** One run: the network (its options) and how it trains. */
export interface TrainConfig
  extends RunSettings, Omit<NetworkOptions, 'seed' | 'decay' | 'epsilon' | 'streams'> {
  /** Data in several streams: one set of moving statistics for all (default), or one each. */
  statistics?: 'shared' | 'per-stream';
  /** Data in several streams: batches from one stream in turn (default), or half of each. */
  streamBatches?: 'alternate' | 'mixed';
}

/** The guide's procedure: SGD 0.01, batches of 100, 30 epochs of 500 steps. */
export const GUIDE_CONFIG: RunSettings = {
  epochs: 30,
  stepsPerEpoch: 500,
  batchSize: 100,
  learningRate: 0.01,
  seed: 0,
  decay: GUIDE_DECAY,
  epsilon: GUIDE_EPSILON,
};

/** A number's rule: what it must be, or undefined when it is fine. */
type Rule = (value: number) => string | undefined;

const positiveInteger: Rule = (v) =>
  Number.isSafeInteger(v) && v > 0 ? undefined : 'must be a positive integer';
const positiveNumber: Rule = (v) =>
  Number.isFinite(v) && v > 0 ? undefined : 'must be a positive number';
const integer: Rule = (v) => (Number.isSafeInteger(v) ? undefined : 'must be an integer');
const nonNegativeNumber: Rule = (v) =>
  Number.isFinite(v) && v >= 0 ? undefined : 'must be a number >= 0';
const unitInterval: Rule = (v) => (v >= 0 && v < 1 ? undefined : 'must be a number in [0, 1)');

/** The one set of rules for the numeric settings; the CLI's checks are these. */
export const SETTING_RULES = {
  epochs: positiveInteger,
  stepsPerEpoch: positiveInteger,
  batchSize: positiveInteger,
  learningRate: positiveNumber,
  decay: unitInterval,
  epsilon: positiveNumber,
  seed: integer,
  initScale: positiveNumber,
  weightDecay: nonNegativeNumber,
} as const satisfies Record<string, Rule>;

export type RuledSetting = keyof typeof SETTING_RULES;

/** What is wrong with one setting's value ('must be ...'), or undefined. */
export function settingProblem(key: RuledSetting, value: number): string | undefined {
  return SETTING_RULES[key](value);
}

/** The batch size against the training examples it is drawn from, or undefined. */
export function batchSizeProblem(batchSize: number, trainCount: number): string | undefined {
  return batchSize > trainCount
    ? `${batchSize} is larger than the ${trainCount} training examples`
    : undefined;
}

/** Throws one line naming the first setting that cannot train. */
export function validateConfig(
  config: RunSettings & { initScale?: number },
  trainCount: number,
): void {
  for (const key of Object.keys(SETTING_RULES) as RuledSetting[]) {
    const value = config[key];
    if (value === undefined && (key === 'initScale' || key === 'weightDecay')) continue;
    const problem = settingProblem(key, value as number);
    if (problem) throw new Error(`${key} ${problem}, got ${String(value)}`);
  }
  const tooLarge = batchSizeProblem(config.batchSize, trainCount);
  if (tooLarge) throw new Error(`batchSize ${tooLarge}`);
}
