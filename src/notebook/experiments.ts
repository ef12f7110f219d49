import { PLACEMENT_LABELS } from '../nn/layers.js';
import { disposeNetwork, type Network } from '../nn/network.js';
import {
  lineFigure,
  liveAxes,
  metricFigure,
  type Metric,
  type ModelHistory,
  type Series,
} from '../report/figures.js';
import { resultsTableHtml } from '../report/results-table.js';
import type { TrainConfig } from '../train/config.js';
import { runExperiment, type ExperimentSpec } from '../train/experiment.js';
import type { ExperimentResults } from '../train/results.js';
import { train, type EpochRecord } from '../train/trainer.js';
import type { TrainingData } from '../train/training-data.js';
import { showFigures } from './display.js';
import { runsFigure, watchTraining } from './live-training.js';

/** What `trainRuns` returns for one run. */
export interface RunResult {
  history: EpochRecord[];
  /** The trained network, when asked to keep it (the caller then disposes it). */
  network?: Network;
}

export interface TrainRunsOptions {
  /** The metric the live figure grows with (default: inference-mode test accuracy). */
  metric?: Metric;
  /** Keep the trained networks (default false: they are disposed). */
  keepNetworks?: boolean;
  /** Keep the live figure in the finished output (default false: plot what matters after). */
  keepFigure?: boolean;
  /** Called after each epoch's evaluations, with the run's name and network. */
  onEpoch?: (run: string, network: Network, record: EpochRecord) => void;
  /** Called every `progressEvery` steps (default: the trainer's), with the run's name and network. */
  onStep?: (run: string, network: Network, step: number) => void;
  /** Steps between `onStep` calls: one number for every run, or per run (undefined: the default). */
  progressEvery?: number | ((run: string) => number | undefined);
}

/**
 * Trains one model per named configuration, one after another, under one live output
 * (progress bars and a figure growing epoch by epoch), in the manner of d2l's training
 * helpers: the cell that calls it shows only the experiment.
 */
export async function trainRuns<Name extends string>(
  data: TrainingData,
  configs: Record<Name, TrainConfig>,
  options: TrainRunsOptions = {},
): Promise<Record<Name, RunResult>> {
  const names = Object.keys(configs) as Name[];
  const results = {} as Record<Name, RunResult>;
  await watchTraining(
    {
      runs: names,
      stepsPerRun: names.map((n) => configs[n].epochs * configs[n].stepsPerEpoch),
      figures: (histories) => [runsFigure(histories, options.metric)],
      keepFigures: options.keepFigure ?? false,
    },
    async (watch) => {
      for (const name of names) {
        const onEpoch = options.onEpoch
          ? (record: EpochRecord, network: Network) => options.onEpoch!(name, network, record)
          : undefined;
        const onStep = options.onStep
          ? (step: number, _total: number, network: Network) => options.onStep!(name, network, step)
          : undefined;
        const every = options.progressEvery;
        const progressEvery = typeof every === 'function' ? every(name) : every;
        const hooks = watch.hooks(name, { onEpoch, onStep, progressEvery });
        const run = await train(data, configs[name], hooks);
        if (!options.keepNetworks) disposeNetwork(run.network);
        results[name] = {
          history: run.history,
          network: options.keepNetworks ? run.network : undefined,
        };
      }
    },
  );
  return results;
}

/**
 * Trains the guide's comparison with live progress and curves in one output (`watchTraining`):
 * test accuracy, the guide's figure, and test loss, which shows the first epochs' lag. The
 * finished output keeps both figures and a plain table of the headline numbers.
 */
export async function trainWithProgress(
  spec: ExperimentSpec,
  backendName: string,
): Promise<ExperimentResults> {
  const placementOf = new Map(spec.models.map((p) => [PLACEMENT_LABELS[p], p]));
  const asModels = (histories: ReadonlyMap<string, EpochRecord[]>): ModelHistory[] =>
    [...histories].map(([run, history]) => ({ placement: placementOf.get(run)!, history }));
  return watchTraining(
    {
      runs: spec.models.map((p) => PLACEMENT_LABELS[p]),
      stepsPerRun: spec.epochs * spec.stepsPerEpoch,
      figures: (histories) =>
        (['testAccuracy', 'testLoss'] as const).map((metric) =>
          liveAxes(metricFigure(asModels(histories), metric, spec.stepsPerEpoch), spec.epochs),
        ),
      summary: (histories) => resultsTableHtml(asModels(histories)),
    },
    async (watch) =>
      runExperiment(spec, backendName, {
        signal: watch.signal,
        onStep: (placement, step) => watch.progress(PLACEMENT_LABELS[placement], step),
        onEpoch: (placement, record) => watch.record(PLACEMENT_LABELS[placement], record),
      }),
  );
}

/** The last epoch's record of a run. */
export function lastEpoch(run: RunResult): EpochRecord {
  const last = run.history.at(-1);
  if (!last) throw new Error('the run recorded no epoch');
  return last;
}

/**
 * d2l's `plot`: one figure, one line per series. `series` maps legend names to points, or is
 * a list of fully specified series (colours, dashes).
 */
export function plot(
  title: string,
  axes: { x: string; y: string; logX?: boolean; logY?: boolean; integerX?: boolean },
  series: Series[] | Record<string, { x: number[]; y: number[] }>,
): void {
  const lines = Array.isArray(series)
    ? series
    : Object.entries(series).map(([name, points]) => ({ name, ...points }));
  showFigures(
    lineFigure(title, axes.x, axes.y, lines, {
      logX: axes.logX,
      logY: axes.logY,
      integerX: axes.integerX,
    }),
  );
}

/** A run's per-epoch values of one metric, as a plottable series. */
export function curve(run: RunResult, metric: Metric, style: Omit<Series, 'x' | 'y'>): Series {
  return {
    ...style,
    x: run.history.map((r) => r.epoch),
    y: run.history.map((r) => r[metric]),
  };
}
