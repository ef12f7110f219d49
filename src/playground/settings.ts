import { PLACEMENTS, type Placement } from '../nn/layers.js';
import { normalizationKinds } from '../nn/normalizations.js';

/** Everything the reader can set, with the defaults a first visit runs. */
export interface PlaygroundSettings {
  /** The models to train side by side. */
  placements: Placement[];
  /** What the normalized models normalize with: a registered kind ('batch', 'layer', ...). */
  normalization: string;
  decay: number;
  batchSize: number;
  learningRate: number;
  epochs: number;
  /** The guide's first pitfall: train without ever running the moving-average updates. */
  skipMovingAverageUpdate: boolean;
  /** The tfjs pitfall: evaluate with `training: true`, which also folds the test batches in. */
  evaluateInTrainingMode: boolean;
}

export const DEFAULT_SETTINGS: PlaygroundSettings = {
  placements: [...PLACEMENTS],
  normalization: 'batch',
  decay: 0.99,
  batchSize: 50,
  learningRate: 0.05,
  epochs: 4,
  skipMovingAverageUpdate: false,
  evaluateInTrainingMode: false,
};

export const LIMITS = {
  decay: { min: 0.9, max: 0.999 },
  batchSize: { min: 2, max: 500 },
  learningRate: { min: 0.001, max: 2 },
  epochs: { min: 1, max: 20 },
} as const;

/** One sentence per control on what to look for, and the notebook section that explains it. */
export const EXPLANATIONS: Record<
  keyof PlaygroundSettings,
  { text: string; notebook: string; section: string }
> = {
  placements: {
    text: 'Both placements beat no BN; before or after the ReLU is a modelling choice, close here.',
    notebook: '01-batch-normalization-the-easy-way.html',
    section: 'The comparison',
  },
  normalization: {
    text: 'Notebook 06: at batch size 2 batch norm falls behind no normalization, while LayerNorm and GroupNorm, whose statistics come from one digit, do not. To replay it, set the batch size to 2 and the epochs to 1, and train once with BatchNorm and once with GroupNorm.',
    notebook: '06-when-batch-statistics-fail.html',
    section: '3. Small batches, done right',
  },
  decay: {
    text: 'At 0.999 the first epochs\u2019 test loss stays high: decay^steps of the start is still in the moving averages.',
    notebook: '03-pitfalls-measured.html',
    section: '3. Decay 0.999 vs 0.99',
  },
  batchSize: {
    text: 'Below about 8, the batch statistics are noise and the BN models fall behind no BN.',
    notebook: '03-pitfalls-measured.html',
    section: '4. Small batches',
  },
  learningRate: {
    text: 'Notebook 05 on full MNIST: at 0.01 the BN models lead, at its best rate the plain network comes within 0.01 of them, and at 2 it diverges while they still train. To replay it, train all three models at 0.01, then at 2.',
    notebook: '05-why-batch-norm-helps.html',
    section: '1. Learning rate',
  },
  epochs: {
    text: 'Each epoch is one pass over the training digits embedded in this page.',
    notebook: '01-batch-normalization-the-easy-way.html',
    section: 'The data',
  },
  skipMovingAverageUpdate: {
    text: 'The BN models\u2019 inference-mode test accuracy drops, because the moving averages never leave 0 and 1.',
    notebook: '03-pitfalls-measured.html',
    section: '1. Forgetting the update step',
  },
  evaluateInTrainingMode: {
    text: 'Evaluated the tf.layers way (training: true), each test batch is normalized with its own statistics and folded into the moving averages: the test curves stop measuring inference, and the averages learn from test data (enough, here, to hide skipped updates).',
    notebook: '03-pitfalls-measured.html',
    section: '2. Evaluating in training mode on the live model',
  },
};

/** A one-line reason when a setting is out of range, else undefined. */
export function settingsProblem(settings: PlaygroundSettings): string | undefined {
  if (settings.placements.length === 0) return 'choose at least one model';
  const kinds = normalizationKinds().filter((kind) => kind !== 'none');
  if (!kinds.includes(settings.normalization))
    return `normalization must be one of ${kinds.join(', ')}, got '${settings.normalization}'`;
  for (const key of ['decay', 'batchSize', 'learningRate', 'epochs'] as const) {
    const value = settings[key];
    const { min, max } = LIMITS[key];
    if (!Number.isFinite(value) || value < min || value > max)
      return `${key} must be between ${min} and ${max}, got ${value}`;
    if ((key === 'batchSize' || key === 'epochs') && !Number.isInteger(value))
      return `${key} must be a whole number, got ${value}`;
  }
  return undefined;
}
