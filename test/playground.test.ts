import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import * as tf from '@tensorflow/tfjs';
import { chromiumSkip, launchBrowser, offlinePage } from './browser-helpers.js';
import { setUpBackend } from './helpers.js';
import { loadMnist } from '../src/data/mnist.js';
import { toDevice, disposeDeviceSplit } from '../src/data/device-split.js';
import { IMAGE_SIZE } from '../src/data/mnist-format.js';
import { train } from '../src/train/trainer.js';
import { GUIDE_EPSILON } from '../src/nn/batchnorm-state.js';
import { disposeNetwork } from '../src/nn/network.js';
import { saveModelFiles } from '../src/lessons/model-files.js';
import {
  disposeFoldedNetwork,
  foldConvNetwork,
  foldedNetworkLogits,
  foldedNetworkModel,
} from '../src/lessons/conv-folding.js';
import { LENET_CONV, LENET_DENSE } from '../src/nn/conv.js';

// The playground page built as `npm start` builds it, opened from disk with the network blocked.
const PAGE = join('build', 'test-playground', 'playground.html');
const SCREENSHOTS = join('build', 'screenshots');

interface PageState {
  state: string;
  backend?: string;
  seconds?: number;
  error?: string;
  deployed?: { accuracy?: number; parameters?: number; error?: string };
  runs?: Array<{
    placement: string;
    finalTestAccuracy: number;
    history: Array<{ testAccuracy: number }>;
  }>;
}

let browser: Browser;
before(async () => {
  if (chromiumSkip) return;
  const built = spawnSync('node_modules/.bin/tsx', ['scripts/build-playground.ts', '--out', PAGE], {
    encoding: 'utf8',
  });
  assert.equal(built.status, 0, built.stderr);
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Clicks Start with the given switches on, waits for the run, and returns what the page reports. */
async function run(page: Page, switches: string[] = []): Promise<PageState> {
  for (const id of ['skipMovingAverageUpdate', 'evaluateInTrainingMode']) {
    await page.setChecked(`#${id}`, switches.includes(id));
  }
  await page.click('#start');
  await page.waitForFunction(
    () => ['done', 'failed'].includes(window.bnPlayground?.state ?? ''),
    undefined,
    { timeout: 300_000 },
  );
  return page.evaluate(() => window.bnPlayground as PageState);
}

/**
 * What notebooks 06 and 08 deploy, made the same way here: a BN-before-ReLU MLP (or LeNet)
 * trained briefly on the small source, folded, saved as model.json and weights.bin. Returns the
 * files and its accuracy, worked out in Node, on the test digits the page carries (the split's
 * first ones).
 */
async function deployedModelFiles(
  dir: string,
  testDigits: number,
  convolutional = false,
): Promise<{ files: string[]; accuracy: number }> {
  await setUpBackend();
  const mnist = loadMnist('small', 0);
  const data = { train: toDevice(mnist.train), test: toDevice(mnist.test) };
  const run = await train(data, {
    placement: 'pre',
    ...(convolutional && { convolutional: LENET_CONV, hiddenUnits: LENET_DENSE }),
    trainSetEvaluation: 'never',
    epochs: 1,
    stepsPerEpoch: 150,
    batchSize: 50,
    learningRate: 0.1,
    seed: 0,
    decay: 0.9,
    epsilon: GUIDE_EPSILON,
  });
  disposeDeviceSplit(data.train);
  disposeDeviceSplit(data.test);
  // A network without convolutions folds into dense layers alone, as notebook 06's does.
  const folded = foldConvNetwork(run.network);
  disposeNetwork(run.network);
  const model = foldedNetworkModel(folded);
  await saveModelFiles(model, dir);
  model.dispose();
  const accuracy = tf.tidy(() => {
    const x = tf.tensor2d(mnist.test.images.subarray(0, testDigits * IMAGE_SIZE), [
      testDigits,
      IMAGE_SIZE,
    ]);
    const predicted = tf.argMax(foldedNetworkLogits(folded, x), 1).dataSync();
    return predicted.filter((p, i) => p === mnist.test.labels[i]).length / testDigits;
  });
  disposeFoldedNetwork(folded);
  return { files: ['model.json', 'weights.bin'].map((f) => join(dir, f)), accuracy };
}

const finalAccuracy = (state: PageState, placement: string) =>
  state.runs!.find((r) => r.placement === placement)!.finalTestAccuracy;

describe('the playground page, offline', { skip: chromiumSkip }, () => {
  test('it is one file under 10 MB that trains the three models, draws the curves and names its backend', async (t) => {
    const bytes = statSync(PAGE).size;
    assert.ok(bytes < 10 * 1024 * 1024, `${bytes} bytes`);
    const { page, errors, blocked } = await offlinePage(browser, { width: 1300, height: 1000 });
    await page.goto(pathToFileURL(resolve(PAGE)).href);
    await page.waitForFunction(() => window.bnPlayground?.state === 'idle', undefined, {
      timeout: 60_000,
    });

    const defaults = await run(page);
    assert.equal(defaults.state, 'done', defaults.error);
    t.diagnostic(`default run: ${defaults.seconds?.toFixed(1)} s on ${defaults.backend}`);
    assert.ok(['webgl', 'wasm', 'cpu'].includes(defaults.backend!), defaults.backend);
    assert.equal(
      await page.textContent('#backend'),
      defaults.backend,
      'the page shows the backend it runs',
    );
    assert.deepEqual(
      defaults.runs!.map((r) => r.placement),
      ['none', 'pre', 'post'],
    );
    for (const placement of ['pre', 'post']) {
      assert.ok(
        finalAccuracy(defaults, placement) > 0.9,
        `${placement}: ${finalAccuracy(defaults, placement)}`,
      );
    }
    // Two figures, three curves each, one point per epoch.
    const points = await page.$$eval('.js-plotly-plot', (plots) =>
      plots.map((p) =>
        ((p as unknown as { data: Array<{ x: unknown[] }> }).data ?? []).map(
          (trace) => trace.x.length,
        ),
      ),
    );
    const epochs = Number(await page.inputValue('#epochs'));
    assert.deepEqual(points, [
      [epochs, epochs, epochs],
      [epochs, epochs, epochs],
    ]);
    assert.equal(await page.locator('.js-plotly-plot .scatterlayer .trace').count(), 6);
    assert.match((await page.textContent('#results')) ?? '', /BN before ReLU/);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-default.png'), fullPage: true });

    // The guide's first pitfall: skip the update ops, and inference-mode accuracy drops.
    const skipped = await run(page, ['skipMovingAverageUpdate']);
    assert.equal(skipped.state, 'done', skipped.error);
    for (const placement of ['pre', 'post']) {
      const drop = finalAccuracy(defaults, placement) - finalAccuracy(skipped, placement);
      assert.ok(drop > 0.03, `${placement}: inference-mode test accuracy dropped only ${drop}`);
    }
    assert.equal(
      finalAccuracy(skipped, 'none'),
      finalAccuracy(defaults, 'none'),
      'no BN has nothing to skip',
    );
    await page.screenshot({
      path: join(SCREENSHOTS, 'playground-skip-updates.png'),
      fullPage: true,
    });

    assert.deepEqual(blocked, [], 'the page tried the network');
    assert.deepEqual(errors, [], 'the page logged errors');
    await page.context().close();
  });

  test("it tests notebook 06's deployed model from the files the reader picks, and names a wrong pick", async () => {
    const dir = join('build', 'test-playground', 'deployed');
    mkdirSync(dir, { recursive: true });
    // The page carries the first 1,000 test digits (build-playground's default).
    const { files, accuracy } = await deployedModelFiles(dir, 1000);
    const { page, errors, blocked } = await offlinePage(browser);
    await page.goto(pathToFileURL(resolve(PAGE)).href);
    await page.waitForFunction(() => window.bnPlayground?.state === 'idle', undefined, {
      timeout: 60_000,
    });
    await page.setInputFiles('#modelFiles', files);
    await page.waitForFunction(() => window.bnPlayground.deployed !== undefined);
    const deployed = (await page.evaluate(() => window.bnPlayground as PageState)).deployed!;
    assert.equal(deployed.error, undefined);
    assert.ok(accuracy > 0.8, `the model learned something: ${accuracy}`);
    // The browser's float32 kernels may break a near-tie differently: one digit in 1,000.
    const digitsApart = Math.round(Math.abs(deployed.accuracy! - accuracy) * 1000);
    assert.ok(digitsApart <= 1, `${deployed.accuracy} vs ${accuracy}`);
    assert.equal(deployed.parameters, 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10);
    assert.match(
      (await page.textContent('#deployedStatus')) ?? '',
      /^3 layers, 89,610 weights: test accuracy 0\.\d{4} on the 1000 test digits here\.$/,
    );

    // Notebook 08's folded LeNet: the same picker, a convolutional model.
    const lenetDir = join('build', 'test-playground', 'deployed-lenet');
    mkdirSync(lenetDir, { recursive: true });
    const lenet = await deployedModelFiles(lenetDir, 1000, true);
    await page.evaluate(() => (window.bnPlayground.deployed = undefined));
    await page.setInputFiles('#modelFiles', lenet.files);
    await page.waitForFunction(() => window.bnPlayground.deployed !== undefined);
    const deployedLenet = (await page.evaluate(() => window.bnPlayground as PageState)).deployed!;
    assert.equal(deployedLenet.error, undefined);
    assert.ok(lenet.accuracy > 0.8, `the LeNet learned something: ${lenet.accuracy}`);
    const lenetApart = Math.round(Math.abs(deployedLenet.accuracy! - lenet.accuracy) * 1000);
    assert.ok(lenetApart <= 1, `${deployedLenet.accuracy} vs ${lenet.accuracy}`);
    // 5x5x1x6 + 6, 5x5x6x16 + 16, 400x120 + 120, 120x84 + 84, 84x10 + 10.
    assert.equal(deployedLenet.parameters, 156 + 2416 + 48120 + 10164 + 850);
    assert.match(
      (await page.textContent('#deployedStatus')) ?? '',
      /^9 layers, 61,706 weights: test accuracy 0\.\d{4} on the 1000 test digits here\.$/,
    );

    await page.evaluate(() => (window.bnPlayground.deployed = undefined));
    await page.setInputFiles('#modelFiles', [files[1]!]);
    await page.waitForFunction(() => window.bnPlayground.deployed !== undefined);
    assert.equal(
      await page.textContent('#deployedStatus'),
      'Could not load that model: choose one model.json together with its weights file.',
    );
    assert.deepEqual(blocked, []);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('the normalization and the learning rate are controls: GroupNorm trains at batch 10, named in the curves and the table', async () => {
    const { page, errors, blocked } = await offlinePage(browser, { width: 1300, height: 1000 });
    await page.goto(pathToFileURL(resolve(PAGE)).href);
    await page.waitForFunction(() => window.bnPlayground?.state === 'idle', undefined, {
      timeout: 60_000,
    });
    assert.deepEqual(
      await page.$$eval('#normalization option', (options) =>
        options.map((o) => (o as HTMLOptionElement).value),
      ),
      ['batch', 'renorm', 'layer', 'group'],
    );
    // How to replay notebooks 05 and 06 is on the page, beside the controls.
    const why = (await page.textContent('#controls')) ?? '';
    assert.match(why, /To replay it, train all three models at 0\.01, then at 2\./);
    assert.match(
      why,
      /To replay it, set the batch size to 2 and the epochs to 1, and train once with BatchNorm/,
    );
    await page.selectOption('#placement', 'pre');
    await page.selectOption('#normalization', 'group');
    await page.fill('#batchSize', '10');
    await page.fill('#learningRate', '0.2');
    await page.fill('#epochs', '1');
    const state = await run(page);
    assert.equal(state.state, 'done', state.error);
    assert.deepEqual(
      state.runs!.map((r) => r.placement),
      ['pre'],
    );
    // 400 steps of 10 digits: chance is 0.1.
    assert.ok(finalAccuracy(state, 'pre') > 0.8, `${finalAccuracy(state, 'pre')}`);
    const names = await page.$$eval('.js-plotly-plot', (plots) =>
      plots.flatMap((p) =>
        ((p as unknown as { data: Array<{ name: string }> }).data ?? []).map((t) => t.name),
      ),
    );
    assert.deepEqual(names, ['GroupNorm before ReLU', 'GroupNorm before ReLU']);
    assert.match((await page.textContent('#results')) ?? '', /GroupNorm before ReLU/);
    await page.fill('#learningRate', '3');
    await page.click('#start');
    assert.match(
      (await page.textContent('#status')) ?? '',
      /^Cannot start: learningRate must be between 0\.001 and 2, got 3\.$/,
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-groupnorm.png'), fullPage: true });
    assert.deepEqual(blocked, []);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a setting out of range is refused in one line, and nothing trains', async () => {
    const { page, errors } = await offlinePage(browser);
    await page.goto(pathToFileURL(resolve(PAGE)).href);
    await page.waitForFunction(() => window.bnPlayground?.state === 'idle', undefined, {
      timeout: 60_000,
    });
    await page.fill('#batchSize', '0');
    await page.click('#start');
    assert.match(
      (await page.textContent('#status')) ?? '',
      /^Cannot start: batchSize must be between 2 and 500, got 0\.$/,
    );
    assert.equal(await page.evaluate(() => window.bnPlayground.state), 'idle');
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
