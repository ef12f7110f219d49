import * as tf from '@tensorflow/tfjs';
import { loadMnist, type Source } from '../data/mnist.js';
import { PLACEMENT_LABELS, type Placement } from '../nn/layers.js';
import { disposeNetwork } from '../nn/network.js';
import { RESULTS_SCHEMA_VERSION, type ExperimentResults } from './results.js';
import { disposeDeviceSplit, toDevice } from '../data/device-split.js';
import { train, type EpochRecord } from './trainer.js';
import { validateConfig, type RunSettings } from './config.js';
import { resolveStepKind } from './step.js';

export interface ExperimentSpec extends RunSettings {
  models: Placement[];
  source: Source;
}

export interface ExperimentHooks {
  onModelStart?: (placement: Placement, index: number) => void;
  onStep?: (placement: Placement, step: number, totalSteps: number) => void;
  onEpoch?: (placement: Placement, record: EpochRecord) => void;
  signal?: AbortSignal;
}

/** Thrown when the signal stops a run part-way; nothing of the run is returned. */
export class ExperimentStopped extends Error {
  constructor() {
    super('experiment stopped before it finished');
  }
}

/**
 * The guide's comparison: each model trained from the same seed on the same data, one
 * after another, on whatever backend is active. Data stays on the backend for the whole run.
 */
export async function runExperiment(
  spec: ExperimentSpec,
  backendName: string,
  hooks: ExperimentHooks = {},
): Promise<ExperimentResults> {
  const started = performance.now();
  const mnist = loadMnist(spec.source, spec.seed);
  const { models, source, ...settings } = spec;
  validateConfig(settings, mnist.train.count);
  // Resolved once, so the results say which step ran.
  const shared = { ...settings, step: resolveStepKind(settings.step) };
  const data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  const results: ExperimentResults['models'] = [];
  try {
    for (const [index, placement] of models.entries()) {
      hooks.onModelStart?.(placement, index);
      const run = await train(
        data,
        { ...shared, placement },
        {
          signal: hooks.signal,
          onStep: (step, total) => hooks.onStep?.(placement, step, total),
          onEpoch: (record) => hooks.onEpoch?.(placement, record),
        },
      );
      disposeNetwork(run.network);
      if (run.stopped) throw new ExperimentStopped();
      results.push({
        placement,
        label: PLACEMENT_LABELS[placement],
        seconds: run.seconds,
        history: run.history,
      });
    }
  } finally {
    disposeDeviceSplit(data.train);
    disposeDeviceSplit(data.test);
  }
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    config: {
      ...shared,
      source,
      models,
      trainExamples: mnist.train.count,
      testExamples: mnist.test.count,
    },
    backend: {
      name: backendName,
      tfjsVersion: tf.version.tfjs,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    models: results,
    wallSeconds: (performance.now() - started) / 1000,
  };
}
