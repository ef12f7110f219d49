import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { Source } from '../data/mnist.js';
import type { Placement } from '../nn/layers.js';
import type { TrainConfig } from '../train/config.js';
import type { StepKind } from '../train/steps.js';
import type { EpochRecord } from '../train/trainer.js';

/** Bumped whenever a field below changes meaning. */
export const RESULTS_SCHEMA_VERSION = 1;

/**
 * What an experiment run writes as JSON (documented in the README):
 * the settings it ran with, where it ran, and each model's per-epoch history.
 */
export interface ExperimentResults {
  schemaVersion: number;
  createdAt: string;
  config: Omit<TrainConfig, 'placement' | 'step'> & {
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

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export async function writeAtomically(path: string, contents: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await writeFileAtomic(path, contents);
}
