import type { TrainTest } from '../data/device-split.js';
import { pollutingEvaluation } from '../lessons/pitfalls.js';
import { GUIDE_EPSILON } from '../nn/batchnorm-state.js';
import type { Placement } from '../nn/layers.js';
import { disposeNetwork } from '../nn/network.js';
import { modelLabel } from '../nn/normalizations.js';
import { evaluate } from '../train/evaluation.js';
import { train, type EpochRecord } from '../train/trainer.js';
import type { PlaygroundSettings } from './settings.js';

/** One model's run in the playground. */
export interface PlaygroundRun {
  placement: Placement;
  /** Its name in the figures and the table: 'GroupNorm before ReLU', say. */
  label: string;
  /** Per epoch; the test columns are in training mode when that pitfall is switched on. */
  history: EpochRecord[];
  /** Inference-mode test accuracy after the last epoch: what a deployed model would score. */
  finalTestAccuracy: number;
  stopped: boolean;
}

/** An epoch is one pass over the training digits. */
export function stepsPerEpochFor(settings: PlaygroundSettings, trainCount: number): number {
  return Math.max(1, Math.floor(trainCount / settings.batchSize));
}

export interface PlaygroundHooks {
  onStep?: (placement: Placement, step: number, totalSteps: number) => void;
  onEpoch?: (placement: Placement, record: EpochRecord) => void;
  signal?: AbortSignal;
}

/**
 * Trains the chosen models one after another with the project's trainer, as the notebooks do.
 * An epoch is one pass over the training digits. With `evaluateInTrainingMode`, each epoch's
 * test evaluation is done the tf.layers way, `apply(x, {training: true})`: batch statistics,
 * and every test batch folded into the moving averages.
 */
export async function runPlayground(
  settings: PlaygroundSettings,
  data: TrainTest,
  hooks: PlaygroundHooks = {},
): Promise<PlaygroundRun[]> {
  const runs: PlaygroundRun[] = [];
  const stepsPerEpoch = stepsPerEpochFor(settings, data.train.count);
  for (const placement of settings.placements) {
    if (hooks.signal?.aborted) break;
    const history: EpochRecord[] = [];
    const run = await train(
      data,
      {
        placement,
        normalization: settings.normalization,
        epochs: settings.epochs,
        stepsPerEpoch,
        batchSize: settings.batchSize,
        learningRate: settings.learningRate,
        seed: 0,
        decay: settings.decay,
        epsilon: GUIDE_EPSILON,
        updateMovingAverages: !settings.skipMovingAverageUpdate,
      },
      {
        signal: hooks.signal,
        progressEvery: 10,
        onStep: (step, total) => hooks.onStep?.(placement, step, total),
        onEpoch: (record, network) => {
          let shown = record;
          if (settings.evaluateInTrainingMode && placement !== 'none') {
            pollutingEvaluation(network, data.test, Math.min(settings.batchSize, data.test.count));
            const test = evaluate(network, data.test, 'training');
            shown = { ...record, testLoss: test.loss, testAccuracy: test.accuracy };
          }
          history.push(shown);
          hooks.onEpoch?.(placement, shown);
        },
      },
    );
    const finalTestAccuracy = evaluate(run.network, data.test, 'inference').accuracy;
    disposeNetwork(run.network);
    const label = modelLabel(placement, settings.normalization);
    runs.push({ placement, label, history, finalTestAccuracy, stopped: run.stopped });
  }
  return runs;
}
