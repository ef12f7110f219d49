import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  chromiumSkip,
  FIGURE_WIDTHS,
  geometryFaults,
  launchBrowser,
  measureFigures,
  offlinePage as offlinePageIn,
} from './browser-helpers.js';
import { executeNotebooksOnce, figuresIn } from './executed-notebooks.js';

const skip = chromiumSkip;
const SCREENSHOTS = join('build', 'screenshots');
const MODEL_NAMES = ['no BN', 'BN before ReLU', 'BN after ReLU'];

let browser: Browser;

before(async () => {
  if (skip) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const offlinePage = (viewport?: { width: number; height: number }) =>
  offlinePageIn(browser, viewport);

/** Figures drawn: as many plots as expected, each with traces. */
const allDrawn = (page: Page, expected: number) =>
  page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('.js-plotly-plot')].filter((p) =>
        p.querySelector('.main-svg .trace'),
      ).length === n,
    expected,
    { timeout: 60_000 },
  );

describe('exported HTML, opened from disk with no network', { skip }, () => {
  let pages: Array<{ name: string; path: string; figures: number }> = [];
  before(() => {
    const out = executeNotebooksOnce();
    const htmlDir = join(out, 'html');
    pages = readdirSync(htmlDir)
      .filter((f) => f.endsWith('.html') && f !== 'index.html')
      .map((f) => ({
        name: f.replace(/\.html$/, ''),
        path: resolve(htmlDir, f),
        figures: figuresIn(readFileSync(join(htmlDir, f), 'utf8')).length,
      }));
    assert.equal(pages.length, readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).length);
  });

  test('every figure renders with SVG traces, no console errors, no network requests', async () => {
    for (const { name, path, figures } of pages) {
      const { page, errors, blocked } = await offlinePage();
      await page.goto(pathToFileURL(path).href);
      await page.waitForFunction(
        (n) => document.querySelectorAll('.js-plotly-plot').length === n,
        figures,
        { timeout: 60_000 },
      );
      const withTraces = await page.$$eval(
        '.js-plotly-plot',
        (plots) => plots.filter((p) => p.querySelector('svg.main-svg .trace')).length,
      );
      assert.equal(withTraces, figures, `${name}: ${withTraces} of ${figures} figures drew traces`);
      assert.deepEqual(blocked, [], `${name} tried the network`);
      assert.deepEqual(errors, [], `${name} logged errors`);
      await page
        .locator('.js-plotly-plot')
        .first()
        .screenshot({ path: join(SCREENSHOTS, `${name}-first-figure.png`) });
      await page.context().close();
    }
  });

  test('every figure fills its box, with its titles inside, at 800, 1280 and 1920 px', async () => {
    const faults: string[] = [];
    for (const { name, path, figures } of pages) {
      for (const width of FIGURE_WIDTHS) {
        const { page } = await offlinePage({ width, height: 1000 });
        await page.goto(pathToFileURL(path).href);
        await allDrawn(page, figures);
        faults.push(...geometryFaults(await measureFigures(page), `${name} at ${width} px`));
        if (name.startsWith('01'))
          await page.screenshot({
            path: join(SCREENSHOTS, `export-${name}-${width}.png`),
            fullPage: true,
          });
        await page.context().close();
      }
    }
    assert.deepEqual(faults, []);
  });

  test('math is rendered MathML, with no raw LaTeX left, and the taught code is on the page', async () => {
    for (const { name, path } of pages) {
      const { page, errors, blocked } = await offlinePage();
      await page.goto(pathToFileURL(path).href);
      const math = await page.$$eval('math', (nodes) =>
        nodes.map((n) => (n as HTMLElement).getBoundingClientRect().width),
      );
      assert.ok(math.length >= 1, `${name}: no <math> elements`);
      assert.ok(
        math.every((width) => width > 0),
        `${name}: a formula has no width`,
      );
      const prose = await page.$$eval('.jp-MarkdownCell', (cells) =>
        cells.map((c) => (c as HTMLElement).innerText).join('\n'),
      );
      assert.doesNotMatch(prose, /\$\$|\\frac|\\hat|\\sum/, `${name}: raw LaTeX in the prose`);
      const code = await page.$$eval('.jp-OutputArea-output pre', (blocks) =>
        blocks.map((b) => (b as HTMLElement).innerText).join('\n'),
      );
      assert.match(
        code,
        /export (async )?function \w+|^\s*\w+\(.*\): \w+/m,
        `${name}: no code from src/ shown`,
      );
      if (name.startsWith('02')) {
        await page
          .locator('.jp-MarkdownCell', { hasText: 'The forward pass' })
          .first()
          .screenshot({ path: join(SCREENSHOTS, `${name}-equations.png`) });
      }
      assert.deepEqual(blocked, [], `${name} tried the network`);
      assert.deepEqual(errors, [], `${name} logged errors`);
      await page.context().close();
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** How many figures the outputs of a stored notebook hold. */
function figuresInNotebook(path: string): number {
  const notebook = JSON.parse(readFileSync(path, 'utf8')) as {
    cells: Array<{ outputs?: Array<{ data?: Record<string, string | string[]> }> }>;
  };
  const html = notebook.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => [o.data?.['text/html'] ?? ''].flat().join(''))
    .join('\n');
  return figuresIn(html).length;
}

/** Waits until the page holds `count` figures, each with its traces drawn. */
async function allFiguresDrawn(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll('.js-plotly-plot').length === n &&
      [...document.querySelectorAll('.js-plotly-plot')].every((p) =>
        p.querySelector('.main-svg .trace'),
      ),
    count,
    { timeout: 60_000 },
  );
}

/** Geometry faults of a notebook's figures, and a fault if some were not on the page. */
async function notebookFigureFaults(
  page: Page,
  expected: number,
  where: string,
): Promise<string[]> {
  const figures = await measureFigures(page);
  const missing =
    figures.length === expected ? [] : [`${where}: ${figures.length} of ${expected} figures found`];
  return [...missing, ...geometryFaults(figures, where)];
}

describe('JupyterLab', { skip }, () => {
  const token = randomBytes(16).toString('hex');
  const workDir = join('build', 'lab-test');
  let port = 0;
  let lab: ChildProcess | undefined;
  let labLog = '';
  // The token goes in a header: the server skips its XSRF check only for header-authenticated calls.
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      ...init,
      headers: { Authorization: `token ${token}` },
    });

  before(async () => {
    // Lab saves notebooks as it runs them: give it copies, inside the project so kernels find `batchnorm-ts`.
    rmSync(workDir, { recursive: true, force: true });
    cpSync('notebooks', workDir, { recursive: true });
    port = await freePort();
    lab = spawn(
      '.venv/bin/jupyter',
      [
        'lab',
        '--no-browser',
        '--allow-root',
        '--ip=127.0.0.1',
        `--port=${port}`,
        `--IdentityProvider.token=${token}`,
        `--ServerApp.root_dir=${resolve(workDir)}`,
      ],
      {
        env: { ...process.env, BN_PROFILE: 'quick' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    lab.stdout!.on('data', (d) => (labLog += d));
    lab.stderr!.on('data', (d) => (labLog += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await api('/api/status')).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`JupyterLab did not start:\n${labLog.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async () => {
    if (!lab || lab.exitCode !== null) return;
    await api('/api/shutdown', { method: 'POST' }).catch(() => undefined);
    const exited = new Promise((r) => lab!.once('exit', r));
    const timer = setTimeout(() => lab!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });

  async function openNotebook(name: string, ui: 'lab' | 'notebook' = 'lab'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await page.goto(
      // `reset`: a fresh workspace, not the notebooks an earlier test left open.
      `http://127.0.0.1:${port}/${ui === 'lab' ? 'lab/tree' : 'notebooks'}/${name}?${ui === 'lab' ? 'reset&' : ''}token=${token}`,
    );
    await page.locator('.jp-Notebook').first().waitFor({ timeout: 60_000 });
    // The kernel is up when the server reports it idle; asked of the server, not of a status
    // bar, because Lab and Notebook 7 show the kernel's state in different places.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const sessions = (await (await api('/api/sessions')).json()) as Array<{
        path: string;
        kernel: { execution_state: string } | null;
      }>;
      if (sessions.some((s) => s.path === name && s.kernel?.execution_state === 'idle')) break;
      assert.ok(Date.now() < deadline, `${name}: no idle kernel after 120 s`);
      await page.waitForTimeout(250);
    }
    return page;
  }

  /** Waits until notebook 01's four comparison figures are on the page, with traces drawn. */
  /** Waits until notebook 01 has run to its end: its five figures drawn and no cell queued. */
  async function waitForComparison(page: Page): Promise<void> {
    await page.waitForFunction(
      () =>
        document.querySelectorAll('.js-plotly-plot .main-svg .trace').length > 0 &&
        document.querySelectorAll('.js-plotly-plot').length >= 5 &&
        [...document.querySelectorAll('.jp-InputPrompt')].every(
          (prompt) => !(prompt.textContent ?? '').includes('*'),
        ),
      undefined,
      { timeout: 300_000 },
    );
  }

  async function runMenu(page: Page, item: string): Promise<void> {
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: new RegExp(`^${item}$`) }).click();
  }

  test('notebook 01 runs top to bottom, its curves grow during training, and re-running a plot cell replaces its figure', async () => {
    const page = await openNotebook('01-batch-normalization-the-easy-way.ipynb');
    await runMenu(page, 'Run All Cells');
    // While the training cell still runs ([*]), its figure must gain points.
    const trainingCell = page.locator('.jp-CodeCell', { hasText: 'await trainWithProgress(spec' });
    const pointsWhileRunning: number[] = [];
    const deadline = Date.now() + 300_000;
    let screenshotTaken = false;
    while (Date.now() < deadline) {
      const prompt = (await trainingCell.locator('.jp-InputPrompt').textContent()) ?? '';
      const points = await trainingCell.evaluate((cell) =>
        [...cell.querySelectorAll('.js-plotly-plot')].reduce(
          (sum, plot) =>
            sum +
            ((plot as unknown as { data?: Array<{ x: unknown[] }> }).data ?? []).reduce(
              (n, trace) => n + trace.x.length,
              0,
            ),
          0,
        ),
      );
      if (prompt.includes('*')) {
        pointsWhileRunning.push(points);
        if (points > 0 && !screenshotTaken) {
          await trainingCell.scrollIntoViewIfNeeded();
          await page.screenshot({ path: join(SCREENSHOTS, 'jupyterlab-01-training.png') });
          screenshotTaken = true;
        }
      } else if (pointsWhileRunning.length > 0) {
        break;
      }
      await page.waitForTimeout(250);
    }
    const grew = new Set(pointsWhileRunning.filter((n) => n > 0));
    assert.ok(
      grew.size >= 2,
      `points seen while training ran: ${[...new Set(pointsWhileRunning)]}`,
    );
    assert.ok(
      pointsWhileRunning.every((n, i) => i === 0 || n >= pointsWhileRunning[i - 1]!),
      'the curves only grow',
    );
    await waitForComparison(page);
    const legend = await page
      .locator('.js-plotly-plot')
      .first()
      .locator('.legendtext')
      .allTextContents();
    assert.deepEqual(legend, MODEL_NAMES);
    const traces = await page
      .locator('.js-plotly-plot')
      .first()
      .locator('.scatterlayer .trace')
      .count();
    assert.equal(traces, 3);
    await page.locator('.js-plotly-plot').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'jupyterlab-01.png') });

    const plotCell = page.locator('.jp-CodeCell', {
      hasText: "metricFigure(results.models, 'trainAccuracy'",
    });
    await plotCell.locator('.jp-InputArea-editor').click();
    await page.keyboard.press('Shift+Enter');
    await page.waitForTimeout(3000);
    assert.equal(
      await plotCell.locator('.js-plotly-plot').count(),
      2,
      'the re-run cell holds its two figures',
    );
    assert.equal(await page.locator('.js-plotly-plot').count(), 5, 'no figure was duplicated');
    await page.context().close();
  });

  test('an executed notebook opens with every figure drawn and fitting its box, without running anything', async () => {
    const executedDir = join(executeNotebooksOnce(), 'notebooks');
    const geometry: string[] = [];
    mkdirSync(join(workDir, 'executed'), { recursive: true });
    for (const name of readdirSync(executedDir).filter((f) => f.endsWith('.ipynb'))) {
      cpSync(join(executedDir, name), join(workDir, 'executed', name));
      const expected = figuresInNotebook(join(executedDir, name));
      assert.ok(expected >= 1, `${name}: the executed notebook holds no figure`);
      const page = await openNotebook(`executed/${name}`);
      await allFiguresDrawn(page, expected);
      for (const width of FIGURE_WIDTHS) {
        await page.setViewportSize({ width, height: 1000 });
        geometry.push(
          ...(await notebookFigureFaults(page, expected, `JupyterLab, ${name}, ${width} px`)),
        );
      }
      await page.setViewportSize({ width: 1400, height: 1000 });
      if (name.startsWith('01')) {
        await page.locator('.bn-results').first().scrollIntoViewIfNeeded();
        await page.waitForTimeout(1500); // the windowed notebook renders the cells it scrolled to
        await page.screenshot({ path: join(SCREENSHOTS, 'jupyterlab-executed-01.png') });
      }
      const sessions = (await (await api('/api/sessions')).json()) as Array<{
        path: string;
        kernel: { id: string };
      }>;
      const session = sessions.find((s) => s.path === `executed/${name}`);
      if (session) {
        const kernel = (await (await api(`/api/kernels/${session.kernel.id}`)).json()) as {
          execution_state: string;
        };
        assert.notEqual(kernel.execution_state, 'busy', `${name}: opening it ran something`);
      }
      await page.context().close();
    }
    assert.deepEqual(geometry, []);
  });

  test('Notebook 7 draws every figure of the executed notebooks to fit its box, at three widths', async () => {
    const faults: string[] = [];
    for (const name of readdirSync(join(workDir, 'executed')).filter((f) => f.endsWith('.ipynb'))) {
      const expected = figuresInNotebook(join(workDir, 'executed', name));
      const page = await openNotebook(`executed/${name}`, 'notebook');
      await allFiguresDrawn(page, expected);
      for (const width of FIGURE_WIDTHS) {
        await page.setViewportSize({ width, height: 1000 });
        faults.push(
          ...(await notebookFigureFaults(page, expected, `Notebook 7, ${name}, ${width} px`)),
        );
        if (name.startsWith('01'))
          await page.screenshot({ path: join(SCREENSHOTS, `notebook7-executed-01-${width}.png`) });
      }
      await page.context().close();
    }
    assert.deepEqual(faults, []);
  });

  test("the server's HTML export (the File menu's) is offline: figures drawn, math rendered, no requests", async () => {
    const exportDir = join('build', 'lab-export');
    mkdirSync(exportDir, { recursive: true });
    const name = '01-batch-normalization-the-easy-way.ipynb';
    const response = await api(`/nbconvert/html/executed/${name}?download=true`);
    assert.equal(response.status, 200, await response.clone().text());
    const html = await response.text();
    const path = resolve(exportDir, name.replace(/\.ipynb$/, '.html'));
    writeFileSync(path, html);
    assert.doesNotMatch(html, /<script[^>]+src="https?:/, 'no CDN scripts');
    const figures = figuresIn(html).length;
    assert.ok(figures >= 4, `${figures} figures in the export`);
    const { page, errors, blocked } = await offlinePage();
    await page.goto(pathToFileURL(path).href);
    await page.waitForFunction(
      (n) =>
        [...document.querySelectorAll('.js-plotly-plot')].filter((p) =>
          p.querySelector('.main-svg .trace'),
        ).length === n,
      figures,
      { timeout: 60_000 },
    );
    assert.ok((await page.locator('math').count()) > 0, 'math rendered as MathML');
    assert.deepEqual(blocked, [], 'the export tried the network');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('Notebook 7 renders the same figures', async () => {
    const page = await openNotebook('01-batch-normalization-the-easy-way.ipynb', 'notebook');
    await runMenu(page, 'Run All Cells');
    await waitForComparison(page);
    assert.deepEqual(
      await page.locator('.js-plotly-plot').first().locator('.legendtext').allTextContents(),
      MODEL_NAMES,
    );
    await page.locator('.js-plotly-plot').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'notebook7-01.png') });
    await page.context().close();
  });

  test('an interrupt stops training, keeps the kernel, and leaks no tensors', async () => {
    const page = await openNotebook('01-batch-normalization-the-easy-way.ipynb');
    const sessions = (await (await api('/api/sessions')).json()) as Array<{
      path: string;
      kernel: { id: string };
    }>;
    const kernelId = sessions.find((s) => s.path === '01-batch-normalization-the-easy-way.ipynb')!
      .kernel.id;
    // Setup cells, then a long run in place of the training cell.
    const cells = page.locator('.jp-CodeCell');
    for (let i = 0; i < 3; i++) {
      await cells.nth(i).locator('.jp-InputArea-editor').click();
      await page.keyboard.press('Shift+Enter');
    }
    const scratch = cells.nth(3);
    const runCode = async (code: string) => {
      await scratch.locator('.jp-InputArea-editor').click();
      await page.keyboard.press('Control+A');
      await page.keyboard.insertText(code);
      await page.keyboard.press('Control+Enter');
    };
    await runCode("const before = tf.memory().numTensors; console.log('tensors before', before);");
    await scratch
      .locator('.jp-OutputArea-output', { hasText: 'tensors before' })
      .waitFor({ timeout: 60_000 });
    await runCode(
      'await trainWithProgress({ ...profileFromEnv().spec, epochs: 100 }, backend.name);',
    );
    const progress = scratch.locator('.jp-OutputArea-output').first();
    await progress.filter({ hasText: /epoch [1-9]\d* done/ }).waitFor({ timeout: 120_000 });
    const interrupted = await api(`/api/kernels/${kernelId}/interrupt`, { method: 'POST' });
    assert.equal(interrupted.status, 204, await interrupted.text());
    await progress.filter({ hasText: /stopped at epoch \d+/ }).waitFor({ timeout: 30_000 });
    const frozen = await progress.textContent();
    await page.waitForTimeout(3000);
    assert.equal(await progress.textContent(), frozen, 'no progress after the interrupt');
    const epochsKept = await progress.evaluate((output) =>
      [...output.querySelectorAll('.js-plotly-plot')].map((plot) =>
        ((plot as unknown as { data?: Array<{ x: unknown[] }> }).data ?? []).reduce(
          (n, trace) => n + trace.x.length,
          0,
        ),
      ),
    );
    assert.ok(
      epochsKept.length === 2 && epochsKept.every((n) => n >= 1),
      `points kept: ${epochsKept}`,
    );
    await progress.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'jupyterlab-interrupt.png') });
    await runCode("console.log('tensors after', tf.memory().numTensors - before);");
    const report = scratch.locator('.jp-OutputArea-output', { hasText: 'tensors after' });
    await report.waitFor({ timeout: 60_000 });
    assert.match((await report.textContent()) ?? '', /tensors after 0/);
    const kernel = (await (await api(`/api/kernels/${kernelId}`)).json()) as {
      execution_state: string;
    };
    assert.notEqual(kernel.execution_state, 'dead');
    await page.context().close();
  });
});
