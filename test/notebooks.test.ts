import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { PROFILE_SPECS } from '../src/train/profiles.js';
import type { Figure } from '../src/report/figures.js';
import { CHECK_MIME } from '../src/notebook/check.js';
import { executeNotebooksOnce, figuresIn } from './executed-notebooks.js';
import { setUpBackend } from './helpers.js';

// Every notebook executed in the quick profile with the project kernel, as `npm start` does.
let OUT = '';
const notebooks = readdirSync('notebooks')
  .filter((f) => f.endsWith('.ipynb'))
  .sort();

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: Array<{
    output_type: string;
    data?: Record<string, string | string[]>;
    ename?: string;
    evalue?: string;
    text?: string | string[];
  }>;
}

const text = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value.join('') : (value ?? '');

// Whether the notebooks run on native TensorFlow is the environment's to say, not their output's:
// the kernel starts with this environment and picks its backend the way this process does.
let native = false;
before(async () => {
  native = (await setUpBackend()) === 'tensorflow';
  OUT = executeNotebooksOnce();
});

test('the notebooks are stored without outputs or execution counts', () => {
  for (const name of notebooks) {
    const nb = JSON.parse(readFileSync(join('notebooks', name), 'utf8')) as {
      cells: Array<NotebookCell & { execution_count?: number | null }>;
    };
    for (const cell of nb.cells.filter((c) => c.cell_type === 'code')) {
      assert.deepEqual(cell.outputs, [], `${name} has outputs`);
      assert.equal(cell.execution_count, null, `${name} has execution counts`);
    }
  }
});

function executed(name: string): NotebookCell[] {
  return (
    JSON.parse(readFileSync(join(OUT, 'notebooks', name), 'utf8')) as { cells: NotebookCell[] }
  ).cells;
}

function figuresOf(cells: NotebookCell[]): Figure[] {
  return cells
    .flatMap((c) => c.outputs ?? [])
    .flatMap((o) => figuresIn(text(o.data?.['text/html'])));
}

for (const name of notebooks) {
  test(`${name}: every cell runs and every figure has data`, () => {
    const cells = executed(name);
    const outputs = cells.flatMap((c) => c.outputs ?? []);
    const errors = outputs.filter((o) => o.output_type === 'error');
    assert.deepEqual(
      errors.map((e) => `${e.ename}: ${e.evalue}`),
      [],
    );
    // A cell that ends in an expression shows its value: a dump of objects is not for the reader.
    const dumps = outputs
      .filter((o) => o.output_type === 'execute_result' || o.output_type === 'stream')
      .map((o) => text(o.text ?? o.data?.['text/plain']))
      .filter((t) => /\[Object\]|^\s*[[{]\s*$|^Promise \{/m.test(t));
    assert.deepEqual(dumps, [], `${name} prints a value dump`);
    const figures = figuresOf(cells);
    assert.ok(figures.length >= 1, `${name} shows no figure`);
    for (const figure of figures) {
      assert.ok(figure.data.length >= 1);
      for (const trace of figure.data)
        assert.ok(
          // A horizontal bar chart carries its values on x and its labels on y.
          (trace[trace['orientation'] === 'h' ? 'x' : 'y'] as number[]).every((v) =>
            Number.isFinite(v),
          ),
          `${name}: non-finite values`,
        );
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
  const all = figuresOf(executed('01-batch-normalization-the-easy-way.ipynb'));
  // The guide's four views, then the three seeds' figure.
  assert.equal(all.length, 5);
  const figures = all.slice(0, 4);
  const { epochs } = PROFILE_SPECS.quick;
  for (const figure of figures) {
    assert.deepEqual(
      figure.data.map((t) => t['name']),
      ['no BN', 'BN before ReLU', 'BN after ReLU'],
    );
    for (const trace of figure.data) assert.equal((trace['y'] as number[]).length, epochs);
  }
  const testAccuracy = figures.find((f) =>
    JSON.stringify(f.layout['title']).includes('Test accuracy'),
  )!;
  const final = Object.fromEntries(
    testAccuracy.data.map((t) => [t['name'], (t['y'] as number[]).at(-1)!]),
  );
  // Quick mode trains 600 steps with decay 0.99, enough for the BN models' moving averages to settle.
  assert.ok(final['BN before ReLU']! > final['no BN']!, JSON.stringify(final));
  assert.ok(final['BN after ReLU']! > final['no BN']!, JSON.stringify(final));
  assert.ok(final['no BN']! > 0.8, JSON.stringify(final));
  // The seeds' figure: per model a band (its two edges) around the headline line, which is the
  // headline run's own test accuracy and lies inside the band at every epoch.
  const seeds = all[4]!;
  assert.match(JSON.stringify(seeds.layout['title']), /three seeds/);
  for (const name of ['no BN', 'BN before ReLU', 'BN after ReLU']) {
    const [upper, lower, line] = [`${name} (highest)`, `${name} (lowest)`, name].map((traceName) =>
      seeds.data.find((t) => t['name'] === traceName)!,
    );
    const y = (t: Record<string, unknown>) => t['y'] as number[];
    assert.deepEqual(y(line!), testAccuracy.data.find((t) => t['name'] === name)!['y']);
    y(line!).forEach((v, i) =>
      assert.ok(y(lower!)[i]! <= v && v <= y(upper!)[i]!, `${name}, epoch ${i + 1}`),
    );
  }
});

interface CheckOutput {
  label: string;
  passed: boolean;
}

/** The checks a notebook ran, read from their structured outputs (not from the printed lines). */
function checksOf(cells: NotebookCell[]): CheckOutput[] {
  return cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => o.data?.[CHECK_MIME])
    .filter((data) => data !== undefined)
    .map((data) => JSON.parse(text(data)) as CheckOutput);
}

/** Labels of the checks each notebook must run (in the quick profile, on any backend). */
const EXPECTED_CHECKS: Record<string, RegExp[]> = {
  '01-batch-normalization-the-easy-way.ipynb': [
    /^training phase: mean after BN and ReLU/,
    /^train_step alone: layer1 moving mean, still 0$/,
    /^train_step alone: layer2 moving variance, still 1$/,
    /^training-phase accuracy on the training set: alone vs with the dependency$/,
    /^inference-phase test accuracy lost without the dependency$/,
    /^inference-phase test accuracy without the dependency$/,
    /^our model: moving mean after a training-mode evaluation$/,
    /^tf\.layers model: how far apply/,
    /^final test accuracy, every seed: BN before ReLU's lowest minus no BN's highest$/,
    /^final test accuracy, every seed: BN after ReLU's lowest minus no BN's highest$/,
  ],
  '02-batch-norm-from-scratch.ipynb': [
    /^gamma = sqrt\(var \+ eps\), beta = mean: output vs input$/,
    /^moving mean after 500 updates vs \(1 - 0\.999\^500\) c$/,
    /^dx: step by step along the paths vs the closed form$/,
    /^column sums of dx: the gradient of a bias before BN$/,
    /^forward: this notebook vs src\/$/,
    /^dx: this notebook vs src\/$/,
    /^dx: closed form vs autodiff$/,
    /^closedForm: relative error of dx vs finite differences$/,
    /^moving variance: ours vs tf\.layers$/,
    /^inference outputs: ours vs tf\.layers$/,
    /^every weight and statistic after 50 steps: tf\.layers vs the written-out step$/,
    /^largest \|layer-1 dense bias\| after 50 steps, BN before ReLU/,
    /^exercise 2: largest change as a share of the largest \|dx\|$/,
    /^exercise 2: the column sums of the dropped term$/,
    /^exercise 3: batch of two/,
  ],
  '03-pitfalls-measured.ipynb': [
    /^test accuracy \(inference mode\), every seed: with updates lowest minus without highest$/,
    /^without updates, smallest over the seeds: training-mode accuracy minus inference-mode test$/,
    /^test accuracy, every seed: clean lowest minus polluted highest$/,
    /^epoch-1 test loss, every seed: decay 0\.999 lowest minus decay 0\.99 highest$/,
    /^batch 2, every seed: no BN lowest minus BN highest$/,
    /^batch 100, every seed: BN lowest minus no BN highest$/,
    /^batch 2 after \d+ examples, every seed: no BN lowest minus BN highest$/,
    /^training-mode logits of a single image: image 4 vs image 0$/,
    /^tfjs stored moving variance/,
  ],
  '04-shared-statistics-and-questions.ipynb': [
    /^original digits: test accuracy, per-stream minus shared statistics$/,
    /^inverted digits: test accuracy, per-stream minus shared statistics$/,
    /^logits on \d+ test images: reloaded from JSON vs trained$/,
    /^logits: tf\.layers model after setWeights vs ours$/,
    /^tensors left after running both phases$/,
    /^inference phase: largest logit change after beta \+= 1$/,
    /^exercise 3: test accuracy with only the statistics loaded$/,
  ],
  '05-why-batch-norm-helps.ipynb': [
    /^no BN at learning rate 2: highest test accuracy over the seeds/,
    /^BN before ReLU at learning rate 2: lowest test accuracy over the seeds$/,
    /^at the guide's rate 0\.01, every seed: BN before ReLU's lowest minus no BN's highest$/,
    /^gradient at 10 W1, times 10, vs the gradient at W1$/,
    /^per unit: sum_i W_ij dL\/dW_ij/,
    /^BN before ReLU: effective step at rate 2 over rate 0\.01/,
    /^no BN, every seed: lowest from weights x1 minus highest from weights x0\.1$/,
    /^BN, every seed: lowest from weights x1 minus highest from weights x10$/,
    /^gradient change along the gradient, median: BN over no BN, highest over the seeds$/,
    /^effective beta-smoothness, median: BN over no BN, highest over the seeds$/,
    /^noisy BN over no BN, every seed: smallest separation over the evaluations$/,
    /^clean BN over noisy BN: final test accuracy, mean over the seeds$/,
    /^plain network: largest one-step drift of a layer's mean, over the noise's per-step shift$/,
    /^plain network, whole run: largest drift of a layer's mean, over the noise's per-step shift$/,
    /^BN, ghost batches of 10: lowest training accuracy over the seeds$/,
    /^test accuracy, BN against no BN: the larger of the two separations/,
    /^test accuracy: best ghost-batch seed minus best batch-of-100 seed$/,
    /^λ = 0\.01: measured over predicted equilibrium angle$/,
    /^λ = 0: RMS angle in the second half over the first$/,
  ],
  '06-when-batch-statistics-fail.ipynb': [
    /^epoch-1 test loss: recalibrated minus as trained, highest over the seeds$/,
    /^batch 100, every seed: BatchNorm minus the better of LayerNorm and GroupNorm$/,
    /^LayerNorm: ours vs tf\.layers\.layerNormalization$/,
    /^GroupNorm with 1 group vs LayerNorm$/,
    /^Batch Renorm with rMax 1, dMax 0: its gradient vs batch norm closed form$/,
    /^LayerNorm, training phase: 10 images alone vs among the test set$/,
    /^BatchNorm, training phase: the same 10 images, largest logit change$/,
    /^batch 2, every seed: no normalization minus BatchNorm$/,
    /^batch 2, every seed: Batch Renorm minus BatchNorm$/,
    /^batch 2, every seed: LayerNorm minus BatchNorm$/,
    /^original: mixed batches minus one-stream batches, both with shared statistics$/,
    /^folded vs batch-norm logits on \d+ test images$/,
    /^reloaded from model\.json vs the folded logits$/,
  ],
  '07-under-the-hood.ipynb': [
    /^forward: closed form vs tf\.batchNorm on (tensorflow|wasm|cpu)$/,
    /^dx: closed form vs autodiff through tf\.batchNorm$/,
    /^every weight and statistic after 50 steps: autodiff vs lean$/,
    /^every weight and statistic after 50 steps: layers vs lean$/,
  ],
  '08-convolutional-networks.ipynb': [
    /^forward: from scratch vs the layer on \[NHW, C\]$/,
    /^forward: from scratch vs tf\.layers\.batchNormalization$/,
    /^dx: closed form on \[NHW, C\] vs autodiff through the map$/,
    /^GroupNorm on a map, 2 groups: from scratch vs the layer$/,
    /^GroupNorm: the first example alone vs within the batch$/,
    /^folded vs batch-norm LeNet: logits of 1,000 test digits$/,
    /^reloaded LeNet from model\.json vs the model before saving$/,
  ],
  '09-deep-networks.ipynb': [
    /^no BN: RMS of layer 10 over layer 2, as a share of the halving rule 2\^-4$/,
    /^BN before ReLU: std of every layer vs sqrt\(1\/2 - 1\/\(2 pi\)\)$/,
    /^no BN: gradient std at layer 1 over layer 10, as a share of the halving rule 2\^-4\.5$/,
    /^after training, layer 1: BN ratio minus no-BN ratio \(log10\)$/,
    /^tanh, BN before it, scale 3: saturated share of every layer vs 0\.0364$/,
  ],
};
/** Checks that exist only where TensorFlow's own kernels can be called. */
const NATIVE_CHECKS: Record<string, RegExp[]> = {
  '08-convolutional-networks.ipynb': [
    /^forward: from scratch vs FusedBatchNormV3 on NHWC$/,
    /^dx: autodiff vs FusedBatchNormGradV3 on NHWC$/,
  ],
  '07-under-the-hood.ipynb': [
    /^forward: closed form vs FusedBatchNormV3$/,
    /^running variance: the kernel vs the unbiased-variance update$/,
    /^dx: closed form vs FusedBatchNormGradV3$/,
    /^every weight and statistic after 50 steps: fused vs lean$/,
    /^every weight and statistic after 50 steps: graph vs lean$/,
    /^fused calls per step, as a share of lean$/,
    /^graph: calls into TensorFlow per step$/,
  ],
};

for (const name of notebooks) {
  test(`${name}: every check ran and passed, the claims included`, () => {
    const cells = executed(name);
    const checks = checksOf(cells);
    assert.ok(checks.length >= 4, `${name} runs only ${checks.length} checks`);
    assert.deepEqual(
      checks.filter((c) => !c.passed).map((c) => c.label),
      [],
    );
    const expectedChecks = [
      ...(EXPECTED_CHECKS[name] ?? []),
      ...(native ? (NATIVE_CHECKS[name] ?? []) : []),
    ];
    for (const expected of expectedChecks) {
      assert.ok(
        checks.some((c) => expected.test(c.label)),
        `${name}: no check matches ${expected}`,
      );
    }
  });

  test(`${name}: shows the code it teaches, has math and exercises, code lines within 100 columns`, () => {
    const cells = executed(name);
    const shown = cells
      .flatMap((c) => c.outputs ?? [])
      .map((o) => text(o.data?.['text/markdown']))
      .filter((t) => t.includes('```ts'));
    assert.ok(shown.length >= 1, `${name} shows no source from src/`);
    for (const snippet of shown) assert.match(snippet, /^`src\/[\w/-]+\.ts`, lines \d+-\d+/);
    const markdown = cells
      .filter((c) => c.cell_type === 'markdown')
      .map((c) => text(c.source))
      .join('\n');
    assert.match(markdown, /\$[^$]+\$/, `${name} has no math`);
    // The exports' math renderer reads inline math on one line only.
    for (const line of markdown.split('\n'))
      assert.ok(
        line.replace(/\$\$/g, '').split('$').length % 2 === 1,
        `${name}: inline math runs past this line: ${line}`,
      );
    const exercises = markdown.slice(markdown.indexOf('## Exercises'));
    assert.ok(markdown.includes('## Exercises'), `${name} has no exercises`);
    const count = (exercises.match(/^\d+\. \*\*/gm) ?? []).length;
    assert.ok(count >= 3 && count <= 5, `${name}: ${count} exercises`);
    assert.ok(
      (exercises.match(/<details><summary>Answer<\/summary>/g) ?? []).length === count,
      `${name}: an exercise lacks its answer`,
    );
    for (const cell of cells.filter((c) => c.cell_type === 'code')) {
      for (const line of text(cell.source).split('\n'))
        assert.ok(line.length <= 100, `${name}: ${line.length} columns: ${line}`);
    }
  });
}

test('02: the notebook writes batch norm itself: forward, update and backward in its own cells', () => {
  const code = executed('02-batch-norm-from-scratch.ipynb')
    .filter((c) => c.cell_type === 'code')
    .map((c) => text(c.source))
    .join('\n');
  assert.match(code, /^function batchNormTraining\(/m);
  assert.match(code, /^function batchNormInference\(/m);
  assert.match(code, /^function batchNormBackwardByPaths\(/m);
  assert.match(code, /^function updateMovingAverages\(/m);
  assert.match(code, /^function batchNormBackward\(/m);
});

test('03: forgetting the update step hurts inference accuracy in the figure too', () => {
  const cells = executed('03-pitfalls-measured.ipynb');
  const forgot = figuresOf(cells).find((f) =>
    JSON.stringify(f.layout['title']).includes('Forgot the update step'),
  )!;
  const last = (name: string) =>
    (forgot.data.find((t) => t['name'] === name)!['y'] as number[]).at(-1)!;
  assert.ok(
    last('without updates: test (inference mode)') <
      last('with updates: test (inference mode)') - 0.05,
  );
});
