import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RESULTS_SCHEMA_VERSION, type ExperimentResults } from '../src/train/results.js';
import { tempDir } from './temp-dirs.js';

const backend = process.env['BN_BACKEND'] ?? 'auto';

function experiment(args: string[], nodeOptions: string[] = []) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', ...nodeOptions, 'src/cli/experiment.ts', ...args],
    { encoding: 'utf8', timeout: 300_000 },
  );
}

const BAD_INPUTS: Array<[string[], RegExp]> = [
  [['--models', 'none,batchnorm'], /--models: unknown model 'batchnorm'/],
  [['--backend', 'tpu'], /--backend: unknown backend 'tpu'/],
  [['--source', 'fashion'], /--source: unknown source 'fashion'/],
  [['--epochs', '0'], /--epochs must be a positive integer, got '0'/],
  [['--epochs=-3'], /--epochs must be a positive integer, got '-3'/],
  [['--epochs', '-3'], /Option '--epochs' argument is ambiguous\. .*'--epochs=-XYZ'/],
  [['--steps-per-epoch', '2.5'], /--steps-per-epoch must be a positive integer, got '2.5'/],
  [['--learning-rate', '0'], /--learning-rate must be a positive number, got '0'/],
  [['--learning-rate', 'fast'], /--learning-rate must be a positive number, got 'fast'/],
  [['--batch-size', '0'], /--batch-size must be a positive integer, got '0'/],
  [
    ['--batch-size', '60000'],
    /--batch-size 60000 is larger than the 55000 training examples of source 'full'/,
  ],
  [
    ['--source', 'small', '--batch-size', '8000'],
    /--batch-size 8000 is larger than the 7500 training examples of source 'small'/,
  ],
  [['--decay', '1'], /--decay must be a number in \[0, 1\), got '1'/],
  [['--seed', 'abc'], /--seed must be an integer, got 'abc'/],
  [['--learnig-rate', '0.1'], /Unknown option '--learnig-rate'/],
  [
    ['--step', 'turbo'],
    /--step: unknown step 'turbo' \(expected one of: graph, fused, lean, autodiff, layers\)/,
  ],
  [
    ['--step', 'fused', '--backend', 'wasm'],
    /--step fused needs the tensorflow backend \(tfjs-node\), not --backend wasm/,
  ],
  [
    ['--step', 'graph', '--backend', 'cpu'],
    /--step graph needs the tensorflow backend \(tfjs-node\), not --backend cpu/,
  ],
];

for (const [args, message] of BAD_INPUTS) {
  test(`bad input ${args.join(' ')}: one-line error, exit 2, no files`, () => {
    const dir = tempDir('cli-bad-');
    const result = experiment([...args, '--out', join(dir, 'run')]);
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^error: /);
    assert.match(lines[0]!, message);
    assert.deepEqual(readdirSync(dir), []);
  });
}

test('an output path that cannot be written fails before training, in one line', () => {
  const dir = tempDir('cli-out-');
  mkdirSync(join(dir, 'taken.json'));
  writeFileSync(join(dir, 'file'), 'not a directory');
  for (const [out, message] of [
    [join(dir, 'taken'), /--out: '.*taken\.json' is a directory/],
    [join(dir, 'file', 'run'), /--out: '.*file' is not a directory/],
    // /proc exists and root may "write" there by its mode bits, but no folder can be made in it.
    ['/proc/nope/run', /--out: cannot write in '\/proc\/nope' \(ENOENT\)/],
  ] as const) {
    const result = experiment(['--source', 'small', '--out', out]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr.trim(), message);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  }
  assert.deepEqual(readdirSync(dir).sort(), ['file', 'taken.json']);
});

test('an unavailable explicit backend fails in one line and writes nothing', () => {
  const dir = tempDir('cli-gpu-');
  // Whether or not this machine has the GPU build, the CLI sees none.
  const result = experiment(
    ['--backend', 'tensorflow-gpu', '--source', 'small', '--out', join(dir, 'run')],
    ['--import', './test/fixtures/without-gpu-package.mjs'],
  );
  assert.equal(result.status, 1);
  assert.match(result.stderr.trim(), /^error: backend 'tensorflow-gpu' is not available: /);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.deepEqual(readdirSync(dir), []);
});

test('a forced step is the one that runs, and the results say so', () => {
  const dir = tempDir('cli-step-');
  const out = join(dir, 'run');
  const result = experiment([
    '--source',
    'small',
    '--epochs',
    '1',
    '--steps-per-epoch',
    '10',
    '--models',
    'post',
    '--step',
    'layers',
    '--backend',
    backend,
    '--out',
    out,
  ]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /step: layers/);
  assert.equal(
    (JSON.parse(readFileSync(`${out}.json`, 'utf8')) as ExperimentResults).config.step,
    'layers',
  );
});

test('a short run writes the results JSON and a self-contained report', () => {
  const dir = tempDir('cli-ok-');
  const out = join(dir, 'nested', 'run');
  const result = experiment([
    '--source',
    'small',
    '--epochs',
    '2',
    '--steps-per-epoch',
    '20',
    '--models',
    'pre,none',
    '--backend',
    backend,
    '--out',
    out,
  ]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /wrote .*run\.json and .*run\.html/);
  assert.deepEqual(readdirSync(join(dir, 'nested')).sort(), ['run.html', 'run.json']);

  const results = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as ExperimentResults;
  assert.equal(results.schemaVersion, RESULTS_SCHEMA_VERSION);
  assert.deepEqual(results.config.models, ['pre', 'none']);
  assert.deepEqual(Object.keys(results.config).sort(), [
    'batchSize',
    'decay',
    'epochs',
    'epsilon',
    'learningRate',
    'models',
    'seed',
    'source',
    'step',
    'stepsPerEpoch',
    'testExamples',
    'trainExamples',
  ]);
  assert.equal(
    results.config.step,
    results.backend.name === 'tensorflow' ? 'graph' : 'lean',
    'the backend decides the step',
  );
  assert.equal(results.config.trainExamples, 7500);
  assert.deepEqual(
    results.models.map((m) => m.label),
    ['BN before ReLU', 'no BN'],
  );
  for (const m of results.models) {
    assert.deepEqual(
      m.history.map((r) => r.epoch),
      [1, 2],
    );
    for (const r of m.history)
      assert.ok(r.testAccuracy > 0.1 && r.testAccuracy <= 1 && r.trainLoss > 0);
  }

  const html = readFileSync(`${out}.html`, 'utf8');
  assert.equal(
    html.split('plotly.js v').length - 1,
    1,
    'the plotly bundle is inlined exactly once',
  );
  assert.equal((html.match(/class="bn-figure"/g) ?? []).length, 4);
  assert.doesNotMatch(html, /<script[^>]+src=/, 'no external scripts');
  assert.ok(!existsSync(`${out}.json.tmp`));
});
