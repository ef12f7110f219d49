import type { TrainTest } from '../data/device-split.js';
import { disposeModel, type Mlp } from '../nn/mlp.js';
import { lineFigure, type Metric, type Series } from '../report/figures.js';
import type { TrainConfig } from '../train/config.js';
import { train, type EpochRecord } from '../train/trainer.js';
import { showFigures } from './display.js';
import { runsFigure, watchTraining } from './live-training.js';

/** What `trainRuns` returns for one run. */
export interface RunResult {
  history: EpochRecord[];
  /** The trained model, when asked to keep it (the caller then disposes it). */
  model?: Mlp;
}

export interface TrainRunsOptions {
  /** The metric the live figure grows with (default: inference-mode test accuracy). */
  metric?: Metric;
  /** Keep the trained models (default false: they are disposed). */
  keepModels?: boolean;
  /** Keep the live figure in the finished output (default false: plot what matters after). */
  keepFigure?: boolean;
  /** Called after each epoch's evaluations, with the run's name and model. */
  onEpoch?: (run: string, model: Mlp, record: EpochRecord) => void;
}

/**
 * Trains one model per named configuration, one after another, under one live output
 * (progress bars and a figure growing epoch by epoch), in the manner of d2l's training
 * helpers: the cell that calls it shows only the experiment.
 */
export async function trainRuns<Name extends string>(
  data: TrainTest,
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
          ? (record: EpochRecord, model: Mlp) => options.onEpoch!(name, model, record)
          : undefined;
        const run = await train(data, configs[name], watch.callbacks(name, { onEpoch }));
        if (!options.keepModels) disposeModel(run.model);
        results[name] = {
          history: run.history,
          model: options.keepModels ? run.model : undefined,
        };
      }
    },
  );
  return results;
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
  axes: { x: string; y: string; logX?: boolean; integerX?: boolean },
  series: Series[] | Record<string, { x: number[]; y: number[] }>,
): void {
  const lines = Array.isArray(series)
    ? series
    : Object.entries(series).map(([name, points]) => ({ name, ...points }));
  showFigures(
    lineFigure(title, axes.x, axes.y, lines, { logX: axes.logX, integerX: axes.integerX }),
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
