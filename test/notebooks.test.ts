import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { PROFILE_SPECS } from '../src/profile.js';
import type { Figure } from '../src/report/figures.js';

// Executes every notebook in the quick profile with the project kernel, as `npm start` does.
const OUT = join('build', 'test-notebooks');
const notebooks = readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).sort();

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: Array<{ output_type: string; data?: Record<string, string | string[]>; ename?: string; evalue?: string }>;
}

const text = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join('') : (value ?? ''));

function figuresIn(html: string): Figure[] {
  const blocks = html.matchAll(/<script[^>]*class="bn-figure-data"[^>]*>([\s\S]*?)<\/script>/g);
  return [...blocks].map((m) => JSON.parse(m[1]!) as Figure);
}

before(() => {
  const run = spawnSync('.venv/bin/python', ['scripts/run_notebooks.py', '--profile', 'quick', '--out', OUT], { encoding: 'utf8', timeout: 1_200_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
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

for (const name of notebooks) {
  test(`${name}: every cell runs, figures hold three models, BN beats no BN`, () => {
    const nb = JSON.parse(readFileSync(join(OUT, 'notebooks', name), 'utf8')) as { cells: NotebookCell[] };
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    const errors = outputs.filter((o) => o.output_type === 'error');
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), []);

    const figures = outputs.flatMap((o) => figuresIn(text(o.data?.['text/html'])));
    assert.ok(figures.length >= 4, `found ${figures.length} figures`);
    const { epochs } = PROFILE_SPECS.quick;
    for (const figure of figures) {
      assert.deepEqual(figure.data.map((t) => t['name']), ['no BN', 'BN before ReLU', 'BN after ReLU']);
      for (const trace of figure.data) assert.equal((trace['y'] as number[]).length, epochs);
    }
    const testAccuracy = figures.find((f) => JSON.stringify(f.layout['title']).includes('Test accuracy'))!;
    const final = Object.fromEntries(testAccuracy.data.map((t) => [t['name'], (t['y'] as number[]).at(-1)!]));
    assert.ok(final['BN before ReLU']! > final['no BN']!, JSON.stringify(final));
    assert.ok(final['BN after ReLU']! > final['no BN']!, JSON.stringify(final));
    assert.ok(final['no BN']! > 0.8, JSON.stringify(final));
  });

  test(`${name}: the HTML export carries exactly one plotly bundle and no external scripts`, () => {
    const html = readFileSync(join(OUT, 'html', name.replace(/\.ipynb$/, '.html')), 'utf8');
    assert.equal(html.split('plotly.js v').length - 1, 1);
    const figures = figuresIn(html);
    assert.ok(figures.length >= 4);
    assert.doesNotMatch(html, /<script[^>]+src="https?:/);
  });
}
