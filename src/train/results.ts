import type { Source } from '../data/mnist.js';
import type { Placement } from '../nn/layers.js';
import type { RunSettings } from './config.js';
import type { StepKind } from './step.js';
import type { EpochRecord } from './trainer.js';

/** Bumped whenever a field below changes meaning. */
export const RESULTS_SCHEMA_VERSION = 1;

/**
 * What an experiment run writes as JSON (documented in the README):
 * the settings it ran with, where it ran, and each model's per-epoch history.
 */
export interface ExperimentResults {
  schemaVersion: number;
  createdAt: string;
  config: Omit<RunSettings, 'step'> & {
    step: StepKind;
    source: Source;
    models: Placement[];
    trainExamples: number;
    testExamples: number;
  };
  backend: { name: string; tfjsVersion: string; node: string; platform: string };
  models: Array<{ placement: Placement; label: string; seconds: number; history: EpochRecord[] }>;
  /** Wall seconds of the whole run, data loading included. */
  wallSeconds: number;
}
