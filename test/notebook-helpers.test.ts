import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { check, checkBetween } from '../src/notebook/check.js';
import { findSource } from '../src/notebook/show-code.js';
import { liveAxes, metricFigure } from '../src/report/figures.js';

test('findSource returns an exported function exactly as it stands in src/, doc comment included', () => {
  const snippet = findSource('hiddenBlock');
  assert.equal(snippet.file, 'src/nn/network.ts');
  const lines = readFileSync('src/nn/network.ts', 'utf8').split('\n');
  assert.equal(snippet.code, lines.slice(snippet.startLine - 1, snippet.endLine).join('\n'));
  assert.match(snippet.code, /^\/\*\*/, 'starts at its doc comment');
  assert.match(snippet.code, /export function hiddenBlock\(/);
  assert.match(snippet.code, /\n}$/, 'ends with the function');
});

test('findSource finds class members, constants and types, with the indentation removed', () => {
  const method = findSource('BatchNormLayer.update');
  assert.equal(method.file, 'src/nn/batchnorm-layer.ts');
  assert.match(method.code, /^\/\*\* The update op/);
  assert.match(method.code, /^update\(saved: BatchNormCache, stream = DEFAULT_STREAM\)/m);
  assert.match(findSource('GUIDE_DECAY').code, /export const GUIDE_DECAY = 0\.999;/);
  assert.match(findSource('Phase').code, /export type Phase = 'training' \| 'inference';/);
});

test('findSource names what is wrong in one line', () => {
  assert.throws(
    () => findSource('hiddenBlocks'),
    /^Error: showCode: nothing exported from src\/ is named 'hiddenBlocks' \(did you mean hiddenBlock\?\)$/,
  );
  assert.throws(() => findSource('BatchNormLayer.fly'), /has no member 'fly'/);
  // batchNormBackward is exported by the closed-form module only; a path narrows the search.
  assert.equal(
    findSource('batchNormBackward', 'closed-form').file,
    'src/nn/batchnorm-closed-form.ts',
  );
  assert.throws(() => findSource('batchNormBackward', 'layer'), /within 'layer'/);
});

test('check passes within the tolerance and throws beyond it, naming the values', () => {
  assert.doesNotThrow(() => check('close', 1.0000001, 1, 1e-6));
  assert.doesNotThrow(() => check('arrays', [1, 2, 3], new Float32Array([1, 2, 3.5]), 0.5));
  assert.throws(
    () => check('far', 1.1, 1, 1e-3),
    /^Error: check failed: far: 1\.1 vs 1, max \|difference\| 0\.1 > 0\.001$/,
  );
  assert.throws(() => check('nan', Number.NaN, 1, 1), /check failed: nan/);
  assert.throws(() => check('lengths', [1, 2], [1], 1), /2 values against 1 expected/);
  assert.doesNotThrow(() => checkBetween('bounded', 0.5, { min: 0, max: 1 }));
  assert.throws(
    () => checkBetween('too small', -0.2, { min: 0 }),
    /^Error: check failed: too small: -0\.2 is not ≥ 0$/,
  );
});

test('a growing figure keeps its axes: ticks follow the fixed epoch range, accuracies stay in [0, 1]', () => {
  const history = [1, 2, 3].map((epoch) => ({
    epoch,
    trainLoss: 1 / epoch,
    trainAccuracy: 0.9,
    testLoss: 1 / epoch,
    testAccuracy: 0.9 + epoch / 100,
    trainSeconds: 0,
    evalSeconds: 0,
    step: epoch,
  }));
  const figure = (metric: 'testAccuracy' | 'testLoss', epochs: number) =>
    liveAxes(metricFigure([{ placement: 'pre', history }], metric), epochs).layout as {
      xaxis: Record<string, unknown>;
      yaxis: { range: number[] };
    };
  // Three epochs drawn of a hundred: one tick per epoch would be a hundred labels.
  const long = figure('testAccuracy', 100);
  assert.deepEqual(long.xaxis['range'], [0.5, 100.5]);
  assert.equal(long.xaxis['dtick'], undefined);
  assert.equal(long.xaxis['tickformat'], 'd');
  assert.equal(figure('testAccuracy', 4).xaxis['dtick'], 1);
  // 0.91..0.93 plus a margin of 0.05, clipped at 1; losses start at 0.
  assert.deepEqual(
    long.yaxis.range.map((v) => +v.toFixed(4)),
    [0.86, 0.98],
  );
  assert.deepEqual(
    figure('testLoss', 4).yaxis.range.map((v) => +v.toFixed(4)),
    [0, 1.15],
  );
});
