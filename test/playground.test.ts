import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser, offlinePage } from './browser-helpers.js';

// The playground page built as `npm start` builds it, opened from disk with the network blocked.
const PAGE = join('build', 'test-playground', 'playground.html');
const SCREENSHOTS = join('build', 'screenshots');

interface PageState {
  state: string;
  backend?: string;
  seconds?: number;
  error?: string;
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
