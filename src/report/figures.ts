import { PLACEMENT_LABELS, type Placement } from '../nn/layers.js';
import type { EpochRecord } from '../train/trainer.js';
import { figureTitle, integerAxis, PLACEMENT_COLORS, translucent } from './style.js';

/** A plotly figure as plain JSON: what Plotly.newPlot takes and the plotly mimetype holds. */
export interface Figure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

export interface ModelHistory {
  placement: Placement;
  history: EpochRecord[];
  /** Its name in legends and tables (default: the guide's, 'BN before ReLU' and so on). */
  label?: string;
}

export const METRICS = {
  testAccuracy: {
    title: 'Test accuracy (inference mode)',
    axis: 'test accuracy (fraction correct)',
  },
  trainAccuracy: {
    title: 'Train accuracy (training mode)',
    axis: 'train accuracy, whole set (fraction correct)',
  },
  testLoss: { title: 'Test loss (inference mode)', axis: 'test cross-entropy (nats per example)' },
  trainLoss: {
    title: 'Train loss (training mode)',
    axis: 'train cross-entropy, whole set (nats)',
  },
} as const;
export type Metric = keyof typeof METRICS;

/** One metric per epoch, one line per model, in the same colours everywhere. */
export function metricFigure(
  models: ModelHistory[],
  metric: Metric,
  stepsPerEpoch?: number,
): Figure {
  const { title, axis } = METRICS[metric];
  return {
    data: models.map(({ placement, history, label }) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: label ?? PLACEMENT_LABELS[placement],
      x: history.map((r) => r.epoch),
      y: history.map((r) => r[metric]),
      line: { color: PLACEMENT_COLORS[placement], width: 2 },
      marker: { size: 4 },
      hovertemplate: `${label ?? PLACEMENT_LABELS[placement]}<br>epoch %{x}<br>${metric.endsWith('Loss') ? 'loss %{y:.4f}' : 'accuracy %{y:.4f}'}<extra></extra>`,
    })),
    layout: {
      title: figureTitle(title),
      xaxis: {
        title: { text: stepsPerEpoch ? `epoch (${stepsPerEpoch} training steps each)` : 'epoch' },
        ...integerAxis(Math.max(0, ...models.flatMap((m) => m.history.map((r) => r.epoch)))),
      },
      // Losses from 0, so that the curves' lowest points do not sit on the axis labels.
      yaxis: { title: { text: axis }, ...(metric.endsWith('Loss') ? { rangemode: 'tozero' } : {}) },
      legend: { orientation: 'h', y: -0.25 },
      margin: { t: 50, r: 20, b: 90, l: 70 },
      height: 420,
    },
  };
}

/** The comparison the guide closes with: every metric, three models overlaid. */
export function comparisonFigures(models: ModelHistory[], stepsPerEpoch?: number): Figure[] {
  return (Object.keys(METRICS) as Metric[]).map((metric) =>
    metricFigure(models, metric, stepsPerEpoch),
  );
}

export interface Series {
  name: string;
  x: number[];
  y: number[];
  color?: string;
  dash?: 'solid' | 'dash' | 'dot';
  mode?: 'lines' | 'lines+markers' | 'markers';
  /** A shaded band around the line, lowest to highest value at each x (over seeds, say). */
  band?: { lower: number[]; upper: number[] };
}

/** The shaded band of a series: its upper edge, then its lower edge filled up to it. */
function bandTraces(s: Series): Array<Record<string, unknown>> {
  if (!s.band) return [];
  const edge = {
    type: 'scatter',
    mode: 'lines',
    x: s.x,
    line: { width: 0, color: s.color },
    legendgroup: s.name,
    showlegend: false,
    hoverinfo: 'skip',
  };
  return [
    { ...edge, name: `${s.name} (highest)`, y: s.band.upper },
    {
      ...edge,
      name: `${s.name} (lowest)`,
      y: s.band.lower,
      fill: 'tonexty',
      fillcolor: translucent(s.color ?? '#1f77b4', 0.18),
    },
  ];
}

/** A general line chart, for the experiments beyond the guide's comparison. */
export function lineFigure(
  title: string,
  xTitle: string,
  yTitle: string,
  series: Series[],
  options: { logX?: boolean; logY?: boolean; integerX?: boolean } = {},
): Figure {
  const maxX = Math.max(0, ...series.flatMap((s) => s.x));
  // A log axis over a decade or two labels every minor tick; label the values measured instead.
  const logTicks = options.logX
    ? { tickvals: [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b) }
    : {};
  return {
    data: series.flatMap((s) => [
      ...bandTraces(s),
      {
        type: 'scatter',
        mode: s.mode ?? 'lines+markers',
        name: s.name,
        x: s.x,
        y: s.y,
        line: { color: s.color, dash: s.dash ?? 'solid', width: 2 },
        marker: { size: 5 },
        legendgroup: s.name,
      },
    ]),
    layout: {
      title: figureTitle(title),
      xaxis: {
        title: { text: xTitle },
        type: options.logX ? 'log' : 'linear',
        ...logTicks,
        ...(options.integerX ? integerAxis(maxX) : {}),
      },
      yaxis: { title: { text: yTitle }, type: options.logY ? 'log' : 'linear' },
      legend: { orientation: 'h', y: -0.25 },
      margin: { t: 50, r: 20, b: 90, l: 70 },
      height: 420,
    },
  };
}

/** One bar per label, for a handful of measured values side by side. */
export function barFigure(
  title: string,
  valueTitle: string,
  bars: Array<{ label: string; value: number }>,
): Figure {
  return {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        x: bars.map((b) => b.value),
        y: bars.map((b) => b.label),
        text: bars.map((b) => b.value.toPrecision(3)),
        textposition: 'auto',
        marker: { color: '#1f77b4' },
        hovertemplate: '%{y}: %{x:.3g}<extra></extra>',
      },
    ],
    layout: {
      title: figureTitle(title),
      xaxis: { title: { text: valueTitle }, rangemode: 'tozero' },
      // The first bar at the top, in the order given.
      yaxis: { autorange: 'reversed', automargin: true },
      margin: { t: 50, r: 20, b: 60, l: 90 },
      height: 120 + 40 * bars.length,
    },
  };
}

/**
 * Each category's value on every seed, as dots side by side: the spread is what the eye sees.
 * One colour per group (a batch size, say), the categories along x.
 */
export function seedDotsFigure(
  title: string,
  yTitle: string,
  groups: Array<{ name: string; color: string; values: Record<string, readonly number[]> }>,
): Figure {
  return {
    data: groups.map(({ name, color, values }) => {
      const entries = Object.entries(values);
      return {
        type: 'scatter',
        mode: 'markers',
        name,
        x: entries.flatMap(([category, v]) => v.map(() => category)),
        y: entries.flatMap(([, v]) => [...v]),
        marker: { color, size: 9, opacity: 0.8, line: { width: 1, color: '#ffffff' } },
        hovertemplate: `${name}<br>%{x}: %{y:.4f}<extra></extra>`,
      };
    }),
    layout: {
      title: figureTitle(title),
      xaxis: { type: 'category', automargin: true },
      yaxis: { title: { text: yTitle } },
      // The groups side by side within each category, not on top of each other.
      scattermode: 'group',
      legend: { orientation: 'h', y: -0.25 },
      margin: { t: 50, r: 20, b: 90, l: 70 },
      height: 420,
    },
  };
}

export interface Histogram {
  /** Left edges of equal-width bins, plus the right edge of the last. */
  edges: number[];
  counts: number[];
}

/** Histograms as bar outlines, one trace each, sharing bins. */
export function histogramFigure(
  title: string,
  xTitle: string,
  histograms: Array<{
    name: string;
    histogram: Histogram;
    color?: string;
    dash?: 'solid' | 'dash' | 'dot';
  }>,
  options: { logY?: boolean } = {},
): Figure {
  return {
    data: histograms.map(({ name, histogram, color, dash }) => {
      const total = histogram.counts.reduce((a, b) => a + b, 0) || 1;
      const width = histogram.edges[1]! - histogram.edges[0]!;
      return {
        type: 'scatter',
        mode: 'lines',
        line: { shape: 'hvh', color, dash: dash ?? 'solid', width: 2 },
        name,
        x: histogram.counts.map((_, i) => histogram.edges[i]! + width / 2),
        y: histogram.counts.map((c) => c / total / width),
      };
    }),
    layout: {
      title: figureTitle(title),
      xaxis: { title: { text: xTitle } },
      // Density per unit of the x-axis, so that histograms with different bin widths compare.
      // A log axis shows a spike and a spread-out histogram together (empty bins drop out).
      yaxis: {
        title: { text: `density (fraction of values per unit of x${options.logY ? ', log' : ''})` },
        type: options.logY ? 'log' : 'linear',
      },
      legend: { orientation: 'h', y: -0.25 },
      margin: { t: 50, r: 20, b: 90, l: 70 },
      height: 420,
    },
  };
}

function withoutTicks(axis: Record<string, unknown>): Record<string, unknown> {
  const { dtick: _dtick, tick0: _tick0, tickformat: _tickformat, ...rest } = axis;
  return rest;
}

/**
 * Steady axes for a figure that grows: epochs fixed from 0.5 to the last, and a y range that
 * fits the data (accuracies within [0, 1], losses from 0), where plotly's autorange would stretch
 * a single point across an arbitrary interval.
 */
export function liveAxes(figure: Figure, epochs?: number): Figure {
  const ys = figure.data.flatMap((trace) => (trace['y'] as number[]).filter(Number.isFinite));
  const title = JSON.stringify(figure.layout['yaxis'] ?? '');
  let range: [number, number] | undefined;
  if (ys.length > 0 && title.includes('accuracy')) {
    range = [Math.max(0, Math.min(...ys) - 0.05), Math.min(1, Math.max(...ys) + 0.05)];
  } else if (ys.length > 0) {
    range = [0, Math.max(...ys) * 1.15];
  }
  const xaxis = figure.layout['xaxis'] as Record<string, unknown>;
  const yaxis = figure.layout['yaxis'] as object;
  return {
    ...figure,
    layout: {
      ...figure.layout,
      // Ticks follow the fixed range, not the few epochs drawn so far.
      xaxis: epochs
        ? { ...withoutTicks(xaxis), ...integerAxis(epochs), range: [0.5, epochs + 0.5] }
        : xaxis,
      yaxis: range ? { ...yaxis, range } : yaxis,
    },
  };
}
