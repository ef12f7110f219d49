import type { ExperimentSpec } from './experiment.js';
import { PLACEMENTS } from '../nn/layers.js';
import { GUIDE_CONFIG } from './config.js';

export const PROFILES = ['full', 'quick'] as const;
export type ProfileName = (typeof PROFILES)[number];

/**
 * How much a notebook trains. `full` is the guide's run (full MNIST, 30 x 500 steps).
 * `quick` fits in CI: the small source, 4 x 150 steps, and decay 0.99 so the moving
 * averages catch up within so few steps (with 0.999, 600 steps leave 55% of the initial 0/1).
 */
export const PROFILE_SPECS: Record<ProfileName, ExperimentSpec> = {
  full: { ...GUIDE_CONFIG, models: [...PLACEMENTS], source: 'full' },
  quick: {
    ...GUIDE_CONFIG,
    models: [...PLACEMENTS],
    source: 'small',
    epochs: 4,
    stepsPerEpoch: 150,
    decay: 0.99,
  },
};

/** The profile named by BN_PROFILE (default full), with a clear error for anything else. */
export function profileFromEnv(env: Record<string, string | undefined> = process.env): {
  name: ProfileName;
  spec: ExperimentSpec;
} {
  const raw = env['BN_PROFILE'] ?? 'full';
  if (!(PROFILES as readonly string[]).includes(raw)) {
    throw new Error(`BN_PROFILE must be one of ${PROFILES.join(', ')}, got '${raw}'`);
  }
  const name = raw as ProfileName;
  return { name, spec: PROFILE_SPECS[name] };
}

/** Sizes of the experiments in notebooks 02-09 under each profile. */
export interface ExperimentBudget {
  /** Training examples per batch size in the small-batch sweeps (divisible by 2, 8, 32, 100). */
  sweepExamples: number;
  /** Steps of the two-stream training. */
  streamSteps: number;
  /** Steps between moving-mean samples in the decay experiment. */
  traceEvery: number;
  /** Epochs whose activation histograms notebook 04 shows. */
  histogramEpochs: number[];
  /** Notebook 05: epochs x steps of each learning-rate and initialisation run. */
  sweepEpochs: number;
  sweepStepsPerEpoch: number;
  /** Notebook 05: epochs (of 100 steps) between which the loss landscape is measured. */
  landscapeEpochs: number;
  /** Notebook 05: steps of each run on 1,000 digits (regularization) and of each weight-decay run. */
  memorizeSteps: number;
  decaySteps: number;
  /** Notebook 05: steps of each shifting-noise run (three models on three seeds). */
  noiseSteps: number;
  /** Notebook 06: steps of each mixed-stream run. */
  streamVariantSteps: number;
  /** Notebook 06: training examples per batch size in the normalizers' sweep. */
  normalizerSweepExamples: number;
  /** Notebook 08: steps (batches of 100) of each LeNet run. */
  lenetSteps: number;
  /** Notebook 08: training examples per batch size in the GroupNorm against batch norm sweep (divisible by 2 and 32). */
  convSweepExamples: number;
  /** Notebook 09: steps (batches of 100) of each deep run, in epochs of 50 steps. */
  deepSteps: number;
}

export const PROFILE_BUDGETS: Record<ProfileName, ExperimentBudget> = {
  full: {
    sweepExamples: 32000,
    streamSteps: 6000,
    traceEvery: 25,
    histogramEpochs: [1, 5, 15],
    sweepEpochs: 2,
    sweepStepsPerEpoch: 500,
    landscapeEpochs: 16,
    memorizeSteps: 500,
    decaySteps: 600,
    noiseSteps: 1000,
    streamVariantSteps: 2000,
    normalizerSweepExamples: 3200,
    lenetSteps: 140,
    convSweepExamples: 1280,
    deepSteps: 300,
  },
  quick: {
    sweepExamples: 3200,
    streamSteps: 600,
    traceEvery: 10,
    histogramEpochs: [1, 2, 4],
    sweepEpochs: 2,
    sweepStepsPerEpoch: 150,
    landscapeEpochs: 6,
    memorizeSteps: 500,
    decaySteps: 600,
    noiseSteps: 300,
    streamVariantSteps: 600,
    normalizerSweepExamples: 1600,
    lenetSteps: 60,
    convSweepExamples: 320,
    deepSteps: 100,
  },
};
