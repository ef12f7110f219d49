import type { Metric, Series } from '../report/figures.js';
import type { TrainConfig } from '../train/config.js';
import type { TrainingData } from '../train/training-data.js';
import { trainRuns, type RunResult, type TrainRunsOptions } from './experiments.js';

// One seed's difference of 0.01 can be the seed's alone: the notebooks train their headline
// comparisons on several seeds and claim a difference only where it exceeds the spread.

/** `count` consecutive seeds from `first`: the headline seed, then the others. */
export function seedsFrom(first: number, count = 3): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

/** The name a configuration's run with one seed has in `trainSeeds`' live output and hooks. */
export const seedRunName = (name: string, seed: number): string => `${name}, seed ${seed}`;

/**
 * Every configuration trained once per seed (its weights and batch order), under one live
 * output: `results[name][i]` is the run with `seeds[i]`. An `onEpoch` hook gets the run's
 * `seedRunName`.
 */
export async function trainSeeds<Name extends string>(
  data: TrainingData,
  configs: Record<Name, TrainConfig>,
  seeds: readonly number[],
  options: TrainRunsOptions = {},
): Promise<Record<Name, RunResult[]>> {
  const names = Object.keys(configs) as Name[];
  const runName = seedRunName;
  const runs = await trainRuns(
    data,
    Object.fromEntries(
      names.flatMap((name) =>
        seeds.map((seed) => [runName(name, seed), { ...configs[name], seed }]),
      ),
    ),
    options,
  );
  return Object.fromEntries(
    names.map((name) => [name, seeds.map((seed) => runs[runName(name, seed)]!)]),
  ) as Record<Name, RunResult[]>;
}

export interface Spread {
  mean: number;
  min: number;
  max: number;
}

/** Mean, lowest and highest of a set of values (one per seed). */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  return {
    mean: values.reduce((sum, v) => sum + v, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/**
 * The lowest of `higher` minus the highest of `lower`: above 0 only when every seed of the one
 * beats every seed of the other, by at least that much.
 */
export function separation(higher: readonly number[], lower: readonly number[]): number {
  return spread(higher).min - spread(lower).max;
}

/** A metric's last-epoch value in each run (one per seed). */
export function finalValues(runs: readonly RunResult[], metric: Metric): number[] {
  return runs.map((run) => {
    const last = run.history.at(-1);
    if (!last) throw new Error('a run recorded no epoch');
    return last[metric];
  });
}

/**
 * One metric per epoch over several seeds, as a line (the first run, the headline) inside the
 * band from the lowest to the highest seed at each epoch.
 */
export function seedBand(
  runs: readonly RunResult[],
  metric: Metric,
  style: Omit<Series, 'x' | 'y' | 'band'>,
): Series {
  const [headline] = runs;
  if (!headline) throw new Error('a band needs at least one run');
  const atEpoch = (i: number) => runs.map((run) => run.history[i]![metric]);
  return {
    ...style,
    x: headline.history.map((r) => r.epoch),
    y: headline.history.map((r) => r[metric]),
    band: {
      lower: headline.history.map((_, i) => Math.min(...atEpoch(i))),
      upper: headline.history.map((_, i) => Math.max(...atEpoch(i))),
    },
  };
}

/**
 * A sweep over x (learning rates, say) with several seeds at each point: the first seed's
 * final value as the line, the lowest and highest seed's as the band.
 */
export function sweepSeries(
  xs: readonly number[],
  runsAt: (x: number) => readonly RunResult[],
  metric: Metric,
  style: Omit<Series, 'x' | 'y' | 'band'>,
): Series {
  const finals = xs.map((x) => finalValues(runsAt(x), metric));
  return {
    ...style,
    x: [...xs],
    y: finals.map((values) => values[0]!),
    band: { lower: finals.map((v) => Math.min(...v)), upper: finals.map((v) => Math.max(...v)) },
  };
}
