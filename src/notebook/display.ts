import { randomBytes } from 'node:crypto';
import { PNG } from 'pngjs';
import { tslab } from './kernel-output.js';
import { IMAGE_SIZE, type Split } from '../data/mnist-format.js';
import type { Figure } from '../report/figures.js';
import { escapeHtml, figureHtml, plotlyScriptTag } from '../report/html.js';

/**
 * Puts plotly.js into the notebook, inlined: run it once near the top. Every figure waits
 * for it, so figures render in JupyterLab, Notebook 7 and exported HTML with no network.
 */
export function loadPlotly(): void {
  tslab().display.html(
    `${plotlyScriptTag()}<div style="color:#888;font-size:small">plotly.js loaded (inlined, works offline)</div>`,
  );
}

/** Shows figures as one text/html output; each run gets fresh element ids. */
export function showFigures(...figures: Figure[]): void {
  const run = randomBytes(4).toString('hex');
  tslab().display.html(
    figures.map((figure, i) => figureHtml(figure, `bn-fig-${run}-${i}`)).join('\n'),
  );
}

/** A row of digits as one PNG, each pixel scaled up, with their labels underneath. */
export function showDigits(split: Split, count = 10, scale = 3): void {
  const side = 28 * scale;
  const png = new PNG({ width: side * count, height: side });
  for (let d = 0; d < count; d++) {
    for (let p = 0; p < IMAGE_SIZE; p++) {
      const ink = 255 - Math.round(split.images[d * IMAGE_SIZE + p]! * 255);
      const [row, col] = [Math.floor(p / 28), p % 28];
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const at = ((row * scale + dy) * png.width + d * side + col * scale + dx) * 4;
          png.data[at] = png.data[at + 1] = png.data[at + 2] = ink;
          png.data[at + 3] = 255;
        }
      }
    }
  }
  tslab().display.png(PNG.sync.write(png));
  tslab().display.text(`labels: ${[...split.labels.subarray(0, count)].join('  ')}`);
}

/** A plain HTML table: one header row, then one row per entry; every cell is text (escaped). */
export function showTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const row = (cells: readonly string[], tag: 'th' | 'td') =>
    `<tr>${cells.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  tslab().display.html(
    `<table>${row(header, 'th')}${rows.map((r) => row(r, 'td')).join('')}</table>`,
  );
}
