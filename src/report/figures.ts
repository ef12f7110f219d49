import { PLACEMENT_LABELS, type Placement } from '../layers.js';
import type { EpochRecord } from '../trainer.js';
import { PLACEMENT_COLORS } from './style.js';

/** A plotly figure as plain JSON: what Plotly.newPlot takes and the plotly mimetype holds. */
export interface Figure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

export interface ModelHistory {
  placement: Placement;
  history: EpochRecord[];
}

export const METRICS = {
  testAccuracy: { title: 'Test accuracy (inference mode)', axis: 'test accuracy (fraction correct)' },
  trainAccuracy: { title: 'Train accuracy (training mode, whole training set)', axis: 'train accuracy (fraction correct)' },
  testLoss: { title: 'Test loss (inference mode)', axis: 'test cross-entropy (nats per example)' },
  trainLoss: { title: 'Train loss (training mode, whole training set)', axis: 'train cross-entropy (nats per example)' },
} as const;
export type Metric = keyof typeof METRICS;

/** One metric per epoch, one line per model, in the same colours everywhere. */
export function metricFigure(models: ModelHistory[], metric: Metric, stepsPerEpoch?: number): Figure {
  const { title, axis } = METRICS[metric];
  return {
    data: models.map(({ placement, history }) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: PLACEMENT_LABELS[placement],
      x: history.map((r) => r.epoch),
      y: history.map((r) => r[metric]),
      line: { color: PLACEMENT_COLORS[placement], width: 2 },
      marker: { size: 4 },
      hovertemplate: `${PLACEMENT_LABELS[placement]}<br>epoch %{x}<br>${metric.endsWith('Loss') ? 'loss %{y:.4f}' : 'accuracy %{y:.4f}'}<extra></extra>`,
    })),
    layout: {
      title: { text: title },
      xaxis: { title: { text: stepsPerEpoch ? `epoch (${stepsPerEpoch} training steps each)` : 'epoch' }, rangemode: 'tozero' },
      yaxis: { title: { text: axis } },
      legend: { orientation: 'h', y: -0.25 },
      margin: { t: 50, r: 20, b: 90, l: 70 },
      height: 420,
    },
  };
}

/** The comparison the guide closes with: every metric, three models overlaid. */
export function comparisonFigures(models: ModelHistory[], stepsPerEpoch?: number): Figure[] {
  return (Object.keys(METRICS) as Metric[]).map((metric) => metricFigure(models, metric, stepsPerEpoch));
}
