import type { Placement } from '../nn/layers.js';

/** One colour per model, used by every figure in the reports and notebooks. */
export const PLACEMENT_COLORS: Record<Placement, string> = {
  none: '#7f7f7f',
  pre: '#1f77b4',
  post: '#d62728',
};

/**
 * Colours for comparisons that are not between the three models (a broken run against a
 * correct one, two settings of a parameter). They avoid the model colours' meanings.
 */
export const VARIANT_COLORS = {
  /** A second variant beside a model's own colour: a broken or altered run. */
  altered: '#ff7f0e',
  /** A third variant. */
  other: '#2ca02c',
  /** A reference quantity that is not a model's output (a population mean, say). */
  reference: '#222222',
} as const;

/** The two data streams of notebook 04 (original and inverted digits). */
export const STREAM_COLORS = {
  original: '#9467bd',
  inverted: '#8c564b',
} as const;

/** A '#rrggbb' colour at the given opacity, for the bands that show a spread over seeds. */
export function translucent(hex: string, alpha: number): string {
  const value = Number.parseInt(hex.slice(1), 16);
  return `rgba(${value >> 16}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

/** Axis settings for whole-number x values such as epochs: one tick per value while they are few. */
export function integerAxis(maxValue: number): Record<string, unknown> {
  return maxValue <= 12 ? { dtick: 1, tick0: 0 } : { tickformat: 'd' };
}

/**
 * A figure's title. 15 px rather than plotly's 16.8: plotly does not wrap titles, and at this
 * size one of up to about 42 characters fits a figure 360 px wide, the narrowest a row of
 * figures lets one become.
 */
export function figureTitle(text: string): { text: string; font: { size: number } } {
  return { text, font: { size: 15 } };
}
