import { BatchNormLayer } from './batchnorm-layer.js';
import {
  BatchRenormLayer,
  GroupNormLayer,
  LayerNormLayer,
  requireOneStream,
} from './alternative-layers.js';
import { PLACEMENT_LABELS, type Placement } from './layers.js';
import type { NormalizationEntry } from './norm-layer.js';

/**
 * The registry of normalizations the network can use, by name. A new normalization is one
 * entry: its layer class and `registerNormalization`. 'none' is not an entry: the network then
 * has no normalization stage at all.
 */

const BUILT_IN: NormalizationEntry[] = [
  {
    kind: 'batch',
    label: 'BatchNorm',
    scope: 'bn',
    create: (units, settings) => new BatchNormLayer(units, settings),
  },
  {
    kind: 'renorm',
    label: 'Batch Renorm',
    scope: 'renorm',
    create: (units, settings) => {
      requireOneStream('Batch Renorm', settings.streams);
      return new BatchRenormLayer(units, settings);
    },
  },
  {
    kind: 'layer',
    label: 'LayerNorm',
    scope: 'ln',
    create: (units, settings) => new LayerNormLayer(units, settings.epsilon),
  },
  {
    kind: 'group',
    label: 'GroupNorm',
    scope: 'gn',
    create: (units, settings) => new GroupNormLayer(units, settings.epsilon, settings.groups ?? 10),
  },
];

const registry = new Map(BUILT_IN.map((entry) => [entry.kind, entry]));

/** The label of no normalization, for figures and tables. */
export const NO_NORMALIZATION_LABEL = 'no normalization';

/** Adds a normalization (or replaces one of the same kind, so a notebook cell can run twice). */
export function registerNormalization(entry: NormalizationEntry): void {
  if (entry.kind === 'none' || !/^[a-z][a-z0-9+-]*$/.test(entry.kind))
    throw new Error(
      `a normalization needs a lower-case name other than 'none', got '${entry.kind}'`,
    );
  registry.set(entry.kind, entry);
}

/** Every registered kind, 'none' first: what a sweep over normalizations walks. */
export function normalizationKinds(): string[] {
  return ['none', ...registry.keys()];
}

/** The entry of a kind; one line naming the known ones for anything else. */
export function normalizationEntry(kind: string): NormalizationEntry {
  const entry = registry.get(kind);
  if (!entry)
    throw new Error(`unknown normalization '${kind}' (known: ${normalizationKinds().join(', ')})`);
  return entry;
}

/** A kind's label for figures: 'BatchNorm', 'LayerNorm', ... */
export function normalizationLabel(kind: string): string {
  return kind === 'none' ? NO_NORMALIZATION_LABEL : normalizationEntry(kind).label;
}

/**
 * A model's name: the guide's for batch norm ('BN before ReLU', 'no BN'), otherwise the
 * normalization's ('LayerNorm before ReLU', 'no normalization').
 */
export function modelLabel(placement: Placement, normalization = 'batch'): string {
  if (normalization === 'batch') return PLACEMENT_LABELS[placement];
  if (placement === 'none') return NO_NORMALIZATION_LABEL;
  return `${normalizationLabel(normalization)} ${placement === 'pre' ? 'before' : 'after'} ReLU`;
}
