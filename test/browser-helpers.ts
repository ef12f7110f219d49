import { chromium, type Browser, type Page } from 'playwright-core';
// @ts-expect-error: a plain .mjs script, without type declarations
import { chromiumProblem } from '../scripts/prerequisites.mjs';

// Real-browser checks in Debian's Chromium; skipped, with the reason, where it is not installed.
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const chromiumSkip: string | false =
  (chromiumProblem(CHROMIUM) as string | undefined) ?? false;

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

/**
 * Where a figure's drawing sits against its box, and whether its titles lie inside the drawing.
 * Positions are relative to the figure's row (the element holding it and its neighbours), so
 * figures measured at different scroll positions can still be checked for overlap.
 */
export interface FigureGeometry {
  title: string;
  row: number;
  box: { x: number; y: number; width: number; height: number };
  svg: { x: number; y: number; width: number; height: number };
  titlesInside: boolean;
}

// Run in the page. Strings, not functions: tsx's transform names nested functions with a
// helper (`__name`) that exists only in Node.
const PLOTS = `[...document.querySelectorAll('.js-plotly-plot')]`;

// The figures of the row holding figure `index`; each row is numbered once, in page order.
const rowOf = (index: number): string => `(() => {
  const plots = ${PLOTS};
  let next = 0;
  for (const plot of plots) {
    const row = plot.parentElement?.parentElement ?? plot;
    if (row.dataset.bnRow === undefined) row.dataset.bnRow = String(next++);
    else next = Math.max(next, Number(row.dataset.bnRow) + 1);
  }
  const row = plots[${index}].parentElement?.parentElement ?? plots[${index}];
  return plots.filter((p) => (p.parentElement?.parentElement ?? p) === row);
})()`;

const rowSettled = (index: number): string => `${rowOf(index)}.every((plot) => {
  const svg = plot.querySelector('svg.main-svg');
  if (!svg) return false;
  const s = svg.getBoundingClientRect();
  const b = plot.getBoundingClientRect();
  return b.width > 0 && Math.abs(s.width - b.width) <= 2 && Math.abs(s.height - b.height) <= 2;
})`;

const measureRow = (index: number): string => `${rowOf(index)}.map((plot) => {
  const rowElement = plot.parentElement?.parentElement ?? plot;
  const origin = rowElement.getBoundingClientRect();
  const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
  const inside = (selector) => {
    const node = plot.querySelector(selector);
    if (!node) return true;
    const r = node.getBoundingClientRect();
    return r.x >= svg.x - 1 && r.y >= svg.y - 1 &&
      r.x + r.width <= svg.x + svg.width + 1 && r.y + r.height <= svg.y + svg.height + 1;
  };
  const box = plot.getBoundingClientRect();
  const at = (r) => ({ x: r.x - origin.x, y: r.y - origin.y, width: r.width, height: r.height });
  return {
    index: ${PLOTS}.indexOf(plot),
    title: plot.querySelector('.gtitle')?.textContent ?? '',
    row: Number(rowElement.dataset.bnRow),
    box: at(box),
    svg: at(svg),
    titlesInside: inside('.gtitle') && inside('.xtitle') && inside('.ytitle'),
  };
})`;

/**
 * Every plotly figure on the page, measured where a reader sees it: each row of figures is
 * scrolled into view and given time (up to `timeout`) to be redrawn at its box's size, steady
 * for half a second. Notebook front ends skip laying out cells that are out of view
 * (`content-visibility: auto` in JupyterLab), so a figure off screen keeps its old size until
 * it is shown, and a front end lays its panels out a while after the window resizes. Figures
 * that never settle are left for `geometryFaults` to report.
 */
export async function measureFigures(page: Page, timeout = 10_000): Promise<FigureGeometry[]> {
  const count = (await page.evaluate(`${PLOTS}.length`)) as number;
  const measured = new Map<number, FigureGeometry>();
  for (let index = 0; index < count; index++) {
    if (measured.has(index)) continue;
    await page.evaluate(`${PLOTS}[${index}].scrollIntoView({ block: 'center' })`);
    const deadline = Date.now() + timeout;
    let steady = 0;
    while (steady < 3 && Date.now() < deadline) {
      await page.waitForTimeout(200);
      steady = (await page.evaluate(rowSettled(index))) ? steady + 1 : 0;
    }
    const row = (await page.evaluate(measureRow(index))) as Array<
      FigureGeometry & { index: number }
    >;
    for (const { index: i, ...figure } of row) measured.set(i, figure);
  }
  return [...measured.keys()].sort((a, b) => a - b).map((i) => measured.get(i)!);
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
      if (g.row !== f.row) return;
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
