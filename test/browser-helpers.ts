import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

// Real-browser checks in Debian's Chromium; skipped, with the reason, where it is not installed.
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const chromiumSkip: string | false = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page that records console errors and refuses (and records) every request off the disk. */
export async function offlinePage(
  browser: Browser,
  viewport = { width: 1200, height: 900 },
): Promise<{ page: Page; errors: string[]; blocked: string[] }> {
  const context = await browser.newContext({ viewport });
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

/** Where a figure's drawing sits against its box, and whether its titles lie inside the drawing. */
export interface FigureGeometry {
  title: string;
  box: { x: number; y: number; width: number; height: number };
  svg: { x: number; y: number; width: number; height: number };
  titlesInside: boolean;
}

// Runs in the page. A string, not a function: tsx's transform names nested functions with a
// helper (`__name`) that exists only in Node.
const MEASURE_FIGURES = `[...document.querySelectorAll('.js-plotly-plot')].map((plot) => {
  const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
  const inside = (selector) => {
    const node = plot.querySelector(selector);
    if (!node) return true;
    const r = node.getBoundingClientRect();
    return r.x >= svg.x - 1 && r.y >= svg.y - 1 &&
      r.x + r.width <= svg.x + svg.width + 1 && r.y + r.height <= svg.y + svg.height + 1;
  };
  const box = plot.getBoundingClientRect();
  return {
    title: plot.querySelector('.gtitle')?.textContent ?? '',
    box: { x: box.x, y: box.y, width: box.width, height: box.height },
    svg: { x: svg.x, y: svg.y, width: svg.width, height: svg.height },
    titlesInside: inside('.gtitle') && inside('.xtitle') && inside('.ytitle'),
  };
})`;

const FIGURES_SETTLED = `[...document.querySelectorAll('.js-plotly-plot')].every((plot) => {
  const svg = plot.querySelector('svg.main-svg');
  if (!svg) return false;
  const s = svg.getBoundingClientRect();
  const b = plot.getBoundingClientRect();
  return Math.abs(s.width - b.width) <= 2 && Math.abs(s.height - b.height) <= 2;
})`;

/**
 * After a resize, waits (up to `timeout`) for every figure to be redrawn at its box's size;
 * figures that never get there are left for `geometryFaults` to report.
 */
export async function waitForFiguresToSettle(page: Page, timeout = 10_000): Promise<void> {
  await page.waitForFunction(FIGURES_SETTLED, undefined, { timeout }).catch(() => undefined);
}

/** Every plotly figure on the page, measured. */
export function measureFigures(page: Page): Promise<FigureGeometry[]> {
  return page.evaluate(MEASURE_FIGURES) as Promise<FigureGeometry[]>;
}

/**
 * What is wrong with the figures' geometry, one line per fault: a drawing that does not fill its
 * box (to 2 px), a title or axis title outside the drawing, two drawings that overlap.
 */
export function geometryFaults(figures: FigureGeometry[], where: string): string[] {
  const faults: string[] = [];
  figures.forEach((f, i) => {
    const label = `${where}: figure ${i + 1} "${f.title}"`;
    if (Math.abs(f.svg.width - f.box.width) > 2 || Math.abs(f.svg.height - f.box.height) > 2)
      faults.push(
        `${label}: drawing ${Math.round(f.svg.width)}x${Math.round(f.svg.height)} in a ` +
          `${Math.round(f.box.width)}x${Math.round(f.box.height)} box`,
      );
    if (!f.titlesInside) faults.push(`${label}: a title lies outside the drawing`);
    figures.slice(i + 1).forEach((g, j) => {
      const a = f.svg;
      const b = g.svg;
      if (
        a.x < b.x + b.width - 1 &&
        b.x < a.x + a.width - 1 &&
        a.y < b.y + b.height - 1 &&
        b.y < a.y + a.height - 1
      )
        faults.push(`${label} overlaps figure ${i + j + 2}`);
    });
  });
  return faults;
}

/** The window widths at which figures are measured: stacked, side by side, and wide. */
export const FIGURE_WIDTHS = [800, 1280, 1920] as const;
