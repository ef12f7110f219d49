import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { executeNotebooksOnce, figuresIn } from './executed-notebooks.js';

// Real-browser checks in Debian's Chromium; skipped, with the reason, where it is not installed.
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
const SCREENSHOTS = join('build', 'screenshots');
const MODEL_NAMES = ['no BN', 'BN before ReLU', 'BN after ReLU'];

let browser: Browser;

before(async () => {
  if (skip) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
});

/** A page that records console errors and refuses (and records) every request off the disk. */
async function offlinePage(): Promise<{ page: Page; errors: string[]; blocked: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, errors, blocked };
}

describe('exported HTML, opened from disk with no network', { skip }, () => {
  let pages: Array<{ name: string; path: string; figures: number }> = [];
  before(() => {
    const out = executeNotebooksOnce();
    const htmlDir = join(out, 'html');
    pages = readdirSync(htmlDir)
      .filter((f) => f.endsWith('.html') && f !== 'index.html')
      .map((f) => ({ name: f.replace(/\.html$/, ''), path: resolve(htmlDir, f), figures: figuresIn(readFileSync(join(htmlDir, f), 'utf8')).length }));
    assert.equal(pages.length, readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).length);
  });

  test('every figure renders with SVG traces, no console errors, no network requests', async () => {
    for (const { name, path, figures } of pages) {
      const { page, errors, blocked } = await offlinePage();
      await page.goto(pathToFileURL(path).href);
      await page.waitForFunction((n) => document.querySelectorAll('.js-plotly-plot').length === n, figures, { timeout: 60_000 });
      const withTraces = await page.$$eval('.js-plotly-plot', (plots) => plots.filter((p) => p.querySelector('svg.main-svg .trace')).length);
      assert.equal(withTraces, figures, `${name}: ${withTraces} of ${figures} figures drew traces`);
      assert.deepEqual(blocked, [], `${name} tried the network`);
      assert.deepEqual(errors, [], `${name} logged errors`);
      await page.locator('.js-plotly-plot').first().screenshot({ path: join(SCREENSHOTS, `${name}-first-figure.png`) });
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

describe('JupyterLab', { skip }, () => {
  const token = randomBytes(16).toString('hex');
  const workDir = join('build', 'lab-test');
  let port = 0;
  let lab: ChildProcess | undefined;
  let labLog = '';
  // The token goes in a header: the server skips its XSRF check only for header-authenticated calls.
  const api = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { Authorization: `token ${token}` } });

  before(async () => {
    // Lab saves notebooks as it runs them: give it copies, inside the project so kernels find `batchnorm-ts`.
    rmSync(workDir, { recursive: true, force: true });
    cpSync('notebooks', workDir, { recursive: true });
    port = await freePort();
    lab = spawn('.venv/bin/jupyter', ['lab', '--no-browser', '--allow-root', '--ip=127.0.0.1', `--port=${port}`, `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${resolve(workDir)}`], {
      env: { ...process.env, BN_PROFILE: 'quick' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    lab.stdout!.on('data', (d) => (labLog += d));
    lab.stderr!.on('data', (d) => (labLog += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await api('/api/status')).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`JupyterLab did not start:\n${labLog.slice(-2000)}`);
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
    await page.goto(`http://127.0.0.1:${port}/${ui === 'lab' ? 'lab/tree' : 'notebooks'}/${name}?token=${token}`);
    await page.locator('.jp-Notebook').first().waitFor({ timeout: 60_000 });
    // The kernel is up when the status bar stops saying it is starting.
    await page.waitForFunction(() => /Idle/.test(document.querySelector('.jp-StatusBar-TextItem, #jp-main-statusbar')?.textContent ?? ''), undefined, { timeout: 120_000 }).catch(() => undefined);
    return page;
  }

  async function runMenu(page: Page, item: string): Promise<void> {
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: new RegExp(`^${item}$`) }).click();
  }

  test('notebook 01 runs top to bottom and shows the comparison; re-running a plot cell replaces its figure', async () => {
    const page = await openNotebook('01-batch-normalization-the-easy-way.ipynb');
    await runMenu(page, 'Run All Cells');
    await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot .main-svg .trace').length > 0 && document.querySelectorAll('.js-plotly-plot').length >= 4, undefined, { timeout: 300_000 });
    const legend = await page.locator('.js-plotly-plot').first().locator('.legendtext').allTextContents();
    assert.deepEqual(legend, MODEL_NAMES);
    const traces = await page.locator('.js-plotly-plot').first().locator('.scatterlayer .trace').count();
    assert.equal(traces, 3);
    await page.locator('.js-plotly-plot').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'jupyterlab-01.png') });

    const plotCell = page.locator('.jp-CodeCell', { hasText: "metricFigure(results.models, 'testAccuracy'" });
    await plotCell.locator('.jp-InputArea-editor').click();
    await page.keyboard.press('Shift+Enter');
    await page.waitForTimeout(3000);
    assert.equal(await plotCell.locator('.js-plotly-plot').count(), 1, 'the re-run cell holds one figure');
    assert.equal(await page.locator('.js-plotly-plot').count(), 4, 'no figure was duplicated');
    await page.context().close();
  });

  test('Notebook 7 renders the same figures', async () => {
    const page = await openNotebook('01-batch-normalization-the-easy-way.ipynb', 'notebook');
    await runMenu(page, 'Run All Cells');
    await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot .main-svg .trace').length > 0 && document.querySelectorAll('.js-plotly-plot').length >= 4, undefined, { timeout: 300_000 });
    assert.deepEqual(await page.locator('.js-plotly-plot').first().locator('.legendtext').allTextContents(), MODEL_NAMES);
    await page.locator('.js-plotly-plot').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'notebook7-01.png') });
    await page.context().close();
  });

  test('an interrupt stops training, keeps the kernel, and leaks no tensors', async () => {
    const page = await openNotebook('01-batch-normalization-the-easy-way.ipynb');
    const sessions = (await (await api('/api/sessions')).json()) as Array<{ path: string; kernel: { id: string } }>;
    const kernelId = sessions.find((s) => s.path.endsWith('01-batch-normalization-the-easy-way.ipynb'))!.kernel.id;
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
    await scratch.locator('.jp-OutputArea-output', { hasText: 'tensors before' }).waitFor({ timeout: 60_000 });
    await runCode("await trainWithProgress({ ...profileFromEnv().spec, epochs: 100 }, backend.name);");
    const progress = scratch.locator('.jp-OutputArea-output pre').first();
    await progress.filter({ hasText: /step \d+/ }).waitFor({ timeout: 60_000 });
    const interrupted = await api(`/api/kernels/${kernelId}/interrupt`, { method: 'POST' });
    assert.equal(interrupted.status, 204, await interrupted.text());
    await progress.filter({ hasText: 'stopped by an interrupt' }).waitFor({ timeout: 30_000 });
    const frozen = await progress.textContent();
    await page.waitForTimeout(3000);
    assert.equal(await progress.textContent(), frozen, 'no progress after the interrupt');
    await runCode("console.log('tensors after', tf.memory().numTensors - before);");
    const report = scratch.locator('.jp-OutputArea-output', { hasText: 'tensors after' });
    await report.waitFor({ timeout: 60_000 });
    assert.match((await report.textContent()) ?? '', /tensors after 0/);
    const kernel = (await (await api(`/api/kernels/${kernelId}`)).json()) as { execution_state: string };
    assert.notEqual(kernel.execution_state, 'dead');
    await page.screenshot({ path: join(SCREENSHOTS, 'jupyterlab-interrupt.png') });
    await page.context().close();
  });
});
