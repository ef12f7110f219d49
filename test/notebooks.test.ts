import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { PROFILE_SPECS } from '../src/runtime/profile.js';
import type { Figure } from '../src/report/figures.js';
import { executeNotebooksOnce, figuresIn } from './executed-notebooks.js';

// Every notebook executed in the quick profile with the project kernel, as `npm start` does.
let OUT = '';
const notebooks = readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).sort();

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: Array<{ output_type: string; data?: Record<string, string | string[]>; ename?: string; evalue?: string }>;
}

const text = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join('') : (value ?? ''));

before(() => {
  OUT = executeNotebooksOnce();
});

test('the notebooks are stored without outputs or execution counts', () => {
  for (const name of notebooks) {
    const nb = JSON.parse(readFileSync(join('notebooks', name), 'utf8')) as { cells: Array<NotebookCell & { execution_count?: number | null }> };
    for (const cell of nb.cells.filter((c) => c.cell_type === 'code')) {
      assert.deepEqual(cell.outputs, [], `${name} has outputs`);
      assert.equal(cell.execution_count, null, `${name} has execution counts`);
    }
  }
});

function executed(name: string): NotebookCell[] {
  return (JSON.parse(readFileSync(join(OUT, 'notebooks', name), 'utf8')) as { cells: NotebookCell[] }).cells;
}

function figuresOf(cells: NotebookCell[]): Figure[] {
  return cells.flatMap((c) => c.outputs ?? []).flatMap((o) => figuresIn(text(o.data?.['text/html'])));
}

function stdout(cells: NotebookCell[]): string {
  return cells.flatMap((c) => c.outputs ?? []).map((o) => text((o as { text?: string | string[] }).text)).join('');
}

for (const name of notebooks) {
  test(`${name}: every cell runs and every figure has data`, () => {
    const cells = executed(name);
    const outputs = cells.flatMap((c) => c.outputs ?? []);
    const errors = outputs.filter((o) => o.output_type === 'error');
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), []);
    const figures = figuresOf(cells);
    assert.ok(figures.length >= 1, `${name} shows no figure`);
    for (const figure of figures) {
      assert.ok(figure.data.length >= 1);
      for (const trace of figure.data) assert.ok((trace['y'] as number[]).every((v) => Number.isFinite(v)), `${name}: non-finite values`);
    }
  });

  test(`${name}: the HTML export carries exactly one plotly bundle and no external scripts`, () => {
    const html = readFileSync(join(OUT, 'html', name.replace(/\.ipynb$/, '.html')), 'utf8');
    assert.equal(html.split('plotly.js v').length - 1, 1);
    assert.equal(figuresIn(html).length, figuresOf(executed(name)).length);
    assert.doesNotMatch(html, /<script[^>]+src="https?:/);
  });
}

test('01: the comparison figures hold three models, one point per epoch, and BN beats no BN', () => {
  const figures = figuresOf(executed('01-batch-normalization-the-easy-way.ipynb'));
  assert.equal(figures.length, 4);
  const { epochs } = PROFILE_SPECS.quick;
  for (const figure of figures) {
    assert.deepEqual(figure.data.map((t) => t['name']), ['no BN', 'BN before ReLU', 'BN after ReLU']);
    for (const trace of figure.data) assert.equal((trace['y'] as number[]).length, epochs);
  }
  const testAccuracy = figures.find((f) => JSON.stringify(f.layout['title']).includes('Test accuracy'))!;
  const final = Object.fromEntries(testAccuracy.data.map((t) => [t['name'], (t['y'] as number[]).at(-1)!]));
  // Quick mode trains 600 steps with decay 0.99, enough for the BN models' moving averages to settle.
  assert.ok(final['BN before ReLU']! > final['no BN']!, JSON.stringify(final));
  assert.ok(final['BN after ReLU']! > final['no BN']!, JSON.stringify(final));
  assert.ok(final['no BN']! > 0.8, JSON.stringify(final));
});

test('02: the from-scratch layer matches tf.layers and passes the gradient check', () => {
  const out = stdout(executed('02-batch-norm-from-scratch.ipynb'));
  const match = /max \|difference\|: training outputs (\S+), moving mean (\S+), moving variance (\S+), inference outputs (\S+)/.exec(out);
  assert.ok(match, out);
  for (const value of match.slice(1)) assert.ok(Number(value) < 1e-5, match[0]);
  for (const m of out.matchAll(/relative error: dx (\S+), dgamma (\S+), dbeta (\S+)/g)) {
    for (const value of m.slice(1)) assert.ok(Number(value) < 1e-3, m[0]);
  }
  const stepGaps = [...out.matchAll(/(\w+) vs lean after 51 steps: max \|difference\| (\S+)/g)];
  assert.ok(stepGaps.length >= 1, out);
  for (const m of stepGaps) assert.ok(Number(m[2]) < 1e-4, m[0]);
  if (out.includes('TensorFlow ops per step')) assert.match(out, /TensorFlow ops per step: fused 46, lean \d+, layers \d+/);
});

test('03: forgetting the update step hurts inference accuracy; a batch of one predicts one answer', () => {
  const cells = executed('03-pitfalls-measured.ipynb');
  const forgot = figuresOf(cells).find((f) => JSON.stringify(f.layout['title']).includes('Forgot the update step'))!;
  const last = (name: string) => (forgot.data.find((t) => t['name'] === name)!['y'] as number[]).at(-1)!;
  assert.ok(last('without updates: test (inference mode)') < last('with updates: test (inference mode)') - 0.05);
  const logits = [...stdout(cells).matchAll(/test image \d \(label \d\): logits (.*)/g)].map((m) => m[1]);
  assert.equal(logits.length, 5);
  assert.equal(new Set(logits).size, 1, 'every single-example training-mode prediction is the same');
});

test('04: per-stream statistics beat shared ones on both streams', () => {
  const cells = executed('04-shared-statistics-and-questions.ipynb');
  const figure = figuresOf(cells).find((f) => JSON.stringify(f.layout['title']).includes('per stream'))!;
  const last = (name: string) => (figure.data.find((t) => t['name'] === name)!['y'] as number[]).at(-1)!;
  for (const stream of ['original', 'inverted']) {
    assert.ok(last(`${stream}, per-stream statistics`) > last(`${stream}, shared statistics`) + 0.1, stream);
  }
  assert.match(stdout(cells), /identical logits on \d+ test images: true/);
});
