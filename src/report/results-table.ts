import { PLACEMENT_LABELS } from '../nn/layers.js';
import type { ModelHistory } from './figures.js';
import { escapeHtml } from './html-escape.js';

/**
 * Per model: epoch-1 test loss and the final accuracies, as HTML that needs no script (it shows
 * where scripts are stripped: GitHub's notebook view, an untrusted notebook). `extra` adds one
 * more column, e.g. the inference-mode accuracy of a run evaluated in training mode.
 */
export function resultsTableHtml(
  models: ModelHistory[],
  extra?: { title: string; values: Partial<Record<string, number>> },
): string {
  const rows = models
    .filter((m) => m.history.length > 0)
    .map((m) => {
      const [first, last] = [m.history[0]!, m.history[m.history.length - 1]!];
      const cells = [
        first.testLoss.toFixed(3),
        last.trainAccuracy.toFixed(4),
        last.testAccuracy.toFixed(4),
      ];
      const value = extra?.values[m.placement];
      if (extra) cells.push(value === undefined ? '' : value.toFixed(4));
      return `<tr><td style="text-align:left;padding:2px 8px">${escapeHtml(m.label ?? PLACEMENT_LABELS[m.placement])}</td>${cells.map((c) => `<td style="padding:2px 8px">${c}</td>`).join('')}</tr>`;
    });
  // "final": after a Stop, the rows can end at different epochs.
  const head = ['model', 'epoch-1 test loss', 'final train accuracy', 'final test accuracy'];
  if (extra) head.push(extra.title);
  return `<table class="bn-results" style="border-collapse:collapse;font-size:13px;margin:8px 0;text-align:right">
<thead><tr>${head.map((h, i) => `<th style="padding:2px 8px;${i === 0 ? 'text-align:left' : ''}">${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}
