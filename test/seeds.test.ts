import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  finalValues,
  seedBand,
  seedsFrom,
  seedRunName,
  separation,
  spread,
  sweepSeries,
  trainSeeds,
} from '../src/notebook/seeds.js';
import type { RunResult } from '../src/notebook/experiments.js';
import { lineFigure, seedDotsFigure } from '../src/report/figures.js';
import { translucent } from '../src/report/style.js';
import { GUIDE_CONFIG, type TrainConfig } from '../src/train/config.js';
import type { EpochRecord } from '../src/train/trainer.js';
import { train } from '../src/train/trainer.js';
import { disposeNetwork } from '../src/nn/network.js';
import { smallMnistOnDevice } from './helpers.js';

/** A run whose test accuracy per epoch is given; the other metrics do not matter here. */
const runOf = (accuracies: number[]): RunResult => ({
  history: accuracies.map((testAccuracy, i): EpochRecord => ({
    epoch: i + 1,
    step: 10 * (i + 1),
    trainLoss: 0,
    trainAccuracy: 0,
    testLoss: 0,
    testAccuracy,
    trainSeconds: 0,
    evalSeconds: 0,
  })),
});

test('spread and separation by hand', () => {
  assert.deepEqual(spread([0.9, 0.8, 1.0]), { mean: 0.9, min: 0.8, max: 1.0 });
  // Every seed of the first above every seed of the second, by 0.95 - 0.93.
  assert.ok(Math.abs(separation([0.95, 0.97, 0.96], [0.91, 0.93, 0.92]) - 0.02) < 1e-12);
  // Overlapping seeds: negative, however far apart the means.
  assert.ok(separation([0.9, 0.99], [0.95, 0.8]) < 0);
  assert.throws(() => spread([]), /spread of no values/);
  assert.deepEqual(seedsFrom(4), [4, 5, 6]);
  assert.deepEqual(seedsFrom(1, 2), [1, 2]);
});

test('seedBand: the first run as the line, the lowest and highest seed per epoch as the band', () => {
  const runs = [runOf([0.5, 0.7]), runOf([0.4, 0.9]), runOf([0.6, 0.8])];
  const band = seedBand(runs, 'testAccuracy', { name: 'model', color: '#1f77b4' });
  assert.deepEqual(band.x, [1, 2]);
  assert.deepEqual(band.y, [0.5, 0.7]);
  assert.deepEqual(band.band, { lower: [0.4, 0.7], upper: [0.6, 0.9] });
  assert.deepEqual(finalValues(runs, 'testAccuracy'), [0.7, 0.9, 0.8]);
  // In a figure: the band's two edges first, the lower one filled up to the upper, then the line.
  const figure = lineFigure('t', 'x', 'y', [band]);
  assert.deepEqual(
    figure.data.map((t) => [t['name'], t['fill'] ?? null, t['showlegend'] ?? true]),
    [
      ['model (highest)', null, false],
      ['model (lowest)', 'tonexty', false],
      ['model', null, true],
    ],
  );
  assert.equal(figure.data[1]!['fillcolor'], 'rgba(31, 119, 180, 0.18)');
  assert.equal(translucent('#7f7f7f', 0.5), 'rgba(127, 127, 127, 0.5)');
});

test("sweepSeries: at each x, the first seed as the line and the seeds' range as the band", () => {
  const runs: Record<number, RunResult[]> = {
    0.1: [runOf([0.2, 0.9]), runOf([0.1, 0.8]), runOf([0.3, 0.95])],
    1: [runOf([0.5, 0.4]), runOf([0.6, 0.7]), runOf([0.1, 0.2])],
  };
  const series = sweepSeries([0.1, 1], (x) => runs[x]!, 'testAccuracy', { name: 'rate' });
  assert.deepEqual(series.x, [0.1, 1]);
  assert.deepEqual(series.y, [0.9, 0.4]);
  assert.deepEqual(series.band, { lower: [0.8, 0.2], upper: [0.95, 0.7] });
  assert.equal(seedRunName('pre, rate 2', 3), 'pre, rate 2, seed 3');
});

test('seedDotsFigure: one dot per seed, categories along x, one trace per group', () => {
  const figure = seedDotsFigure('t', 'accuracy', [
    { name: 'batch 2', color: '#111111', values: { BatchNorm: [0.5, 0.6], LayerNorm: [0.8, 0.9] } },
    { name: 'batch 100', color: '#222222', values: { BatchNorm: [0.95, 0.96] } },
  ]);
  assert.deepEqual(figure.data[0]!['x'], ['BatchNorm', 'BatchNorm', 'LayerNorm', 'LayerNorm']);
  assert.deepEqual(figure.data[0]!['y'], [0.5, 0.6, 0.8, 0.9]);
  assert.deepEqual(figure.data[1]!['y'], [0.95, 0.96]);
  assert.equal((figure.layout['xaxis'] as Record<string, unknown>)['type'], 'category');
});

const small = smallMnistOnDevice();

test('trainSeeds: each seed trains as train() does with that seed, and no tensor is left', async () => {
  const config: TrainConfig = {
    ...GUIDE_CONFIG,
    placement: 'pre',
    epochs: 1,
    stepsPerEpoch: 40,
    learningRate: 0.05,
    decay: 0.99,
  };
  const before = tf.memory().numTensors;
  const runs = await trainSeeds(small.data, { pre: config }, [3, 4]);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(runs.pre.length, 2);
  const alone = await train(small.data, { ...config, seed: 4 });
  disposeNetwork(alone.network);
  assert.equal(runs.pre[1]!.history[0]!.testAccuracy, alone.history[0]!.testAccuracy);
  assert.equal(runs.pre[1]!.history[0]!.trainLoss, alone.history[0]!.trainLoss);
  assert.notEqual(runs.pre[0]!.history[0]!.trainLoss, runs.pre[1]!.history[0]!.trainLoss);
});
