import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { PNG } from 'pngjs';
import type * as Tslab from 'tslab';
import { yieldToEventLoop } from '../runtime/event-loop.js';
import { IMAGE_SIZE, type Split } from '../data/mnist.js';
import { runExperiment, type ExperimentSpec } from '../train/experiment.js';
import { PLACEMENT_LABELS } from '../nn/layers.js';
import type { Figure } from '../report/figures.js';
import { escapeHtml, figureHtml, plotlyScriptTag } from '../report/html.js';
import type { ExperimentResults } from '../runtime/results.js';

const require = createRequire(import.meta.url);

/** tslab's display API; loaded lazily so the rest of src/ works outside a kernel. */
function tslab(): typeof Tslab {
  return require('tslab') as typeof Tslab;
}

/**
 * Puts plotly.js into the notebook, inlined: run it once near the top. Every figure waits
 * for it, so figures render in JupyterLab, Notebook 7 and exported HTML with no network.
 */
export function loadPlotly(): void {
  tslab().display.html(`${plotlyScriptTag()}<div style="color:#888;font-size:small">plotly.js loaded (inlined, works offline)</div>`);
}

/** Shows figures as one text/html output; each run gets fresh element ids. */
export function showFigures(...figures: Figure[]): void {
  const run = randomBytes(4).toString('hex');
  tslab().display.html(figures.map((figure, i) => figureHtml(figure, `bn-fig-${run}-${i}`)).join('\n'));
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

/**
 * Runs the comparison with progress updated in place (one output, not a log line per step),
 * and returns its results. The kernel's interrupt (SIGINT) stops training between steps:
 * tslab only stops waiting for a cell, so without this the run would go on unseen.
 */
export async function trainWithProgress(spec: ExperimentSpec, backendName: string): Promise<ExperimentResults> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  // Not while the cell's own code is still running synchronously: tslab runs it with
  // breakOnSigint, and a SIGINT listener added then leaves the kernel killed by the next interrupt.
  await yieldToEventLoop();
  process.on('SIGINT', onInterrupt);
  try {
    return await showProgressWhileTraining(spec, backendName, stop.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

async function showProgressWhileTraining(spec: ExperimentSpec, backendName: string, signal: AbortSignal): Promise<ExperimentResults> {
  const progress = tslab().newDisplay();
  const done: string[] = [];
  let current = '';
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = performance.now();
    if (!force && now - lastDraw < 250) return;
    lastDraw = now;
    progress.html(`<pre style="margin:0">${escapeHtml([...done, current].filter(Boolean).join('\n'))}</pre>`);
  };
  const results = await runExperiment(spec, backendName, {
    signal,
    onModelStart: (placement) => {
      current = `${PLACEMENT_LABELS[placement]}: starting`;
      draw(true);
    },
    onStep: (placement, step, total) => {
      current = `${PLACEMENT_LABELS[placement]}: step ${step}/${total} (${((100 * step) / total).toFixed(0)}%)`;
      draw();
    },
    onEpoch: (placement, r) => {
      const line = `${PLACEMENT_LABELS[placement]}: epoch ${r.epoch}/${spec.epochs}, test accuracy ${r.testAccuracy.toFixed(4)}, test loss ${r.testLoss.toFixed(3)}`;
      if (r.epoch === spec.epochs) {
        done.push(line);
        current = '';
      } else {
        current = line;
      }
      draw(true);
    },
  }).catch((error: unknown) => {
    if (signal.aborted) {
      current = `${current}\nstopped by an interrupt; nothing of this run was kept`;
      draw(true);
    }
    throw error;
  });
  draw(true);
  return results;
}
