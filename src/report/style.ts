import type { Placement } from '../layers.js';

/** One colour per model, used by every figure in the reports and notebooks. */
export const PLACEMENT_COLORS: Record<Placement, string> = {
  none: '#7f7f7f',
  pre: '#1f77b4',
  post: '#d62728',
};
