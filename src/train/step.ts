import type * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import { ACTIVATIONS, PLACEMENTS, type Activation, type Placement } from '../nn/layers.js';
import type { Network } from '../nn/network.js';
import type { Metrics } from './metrics.js';
import { hasNativeOps, noNativeOpsReason } from './native-ops.js';

/**
 * The ways to run the one network's training step. They compute the same update (a test holds
 * them to 1e-4 after 50 steps) with different numbers of calls into the backend:
 * - `graph`: the guide's TF1 graph in TensorFlow's session, one call per step;
 * - `fused`: TensorFlow's fused batch-norm and loss kernels, op by op;
 * - `lean`: tfjs ops with backprop written out, on any backend;
 * - `autodiff`: tfjs ops with gradients from autodiff, for any registered normalization;
 * - `layers`: the network rebuilt in tf.layers and trained with `optimizer.minimize`, the
 *   library the others are compared against.
 */
export const STEP_KINDS = ['graph', 'fused', 'lean', 'autodiff', 'layers'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export function isStepKind(value: string): value is StepKind {
  return (STEP_KINDS as readonly string[]).includes(value);
}

/** What each step can run. */
export interface StepSupport {
  /** The normalizations it runs: these kinds, or every registered one. */
  normalizations: readonly string[] | 'all';
  placements: readonly Placement[];
  /** Whether the network may keep moving statistics per stream. */
  perStreamStatistics: boolean;
  /** Whether it can train without running the update ops (the guide's trap). */
  skipsUpdates: boolean;
  /** Whether it needs native TensorFlow (the tensorflow backend). */
  native: boolean;
  /** Whether it runs convolutional blocks. */
  convolutional: boolean;
  /** The activations it runs. */
  activations: readonly Activation[];
  /** Whether it applies weight decay to the kernels. */
  weightDecay: boolean;
}

const BATCH_NORM_ONLY = ['none', 'batch'] as const;

export const STEP_SUPPORT: Record<StepKind, StepSupport> = {
  graph: {
    normalizations: BATCH_NORM_ONLY,
    placements: PLACEMENTS,
    perStreamStatistics: false,
    skipsUpdates: true,
    native: true,
    convolutional: false,
    activations: ['relu'],
    weightDecay: false,
  },
  fused: {
    normalizations: BATCH_NORM_ONLY,
    placements: PLACEMENTS,
    perStreamStatistics: false,
    skipsUpdates: true,
    native: true,
    convolutional: false,
    activations: ['relu'],
    weightDecay: false,
  },
  lean: {
    normalizations: BATCH_NORM_ONLY,
    placements: PLACEMENTS,
    perStreamStatistics: true,
    skipsUpdates: true,
    native: false,
    convolutional: false,
    activations: ACTIVATIONS,
    weightDecay: true,
  },
  autodiff: {
    normalizations: 'all',
    placements: PLACEMENTS,
    perStreamStatistics: true,
    skipsUpdates: true,
    native: false,
    convolutional: true,
    activations: ACTIVATIONS,
    weightDecay: true,
  },
  layers: {
    normalizations: BATCH_NORM_ONLY,
    placements: PLACEMENTS,
    perStreamStatistics: false,
    skipsUpdates: false,
    native: false,
    convolutional: true,
    activations: ACTIVATIONS,
    weightDecay: false,
  },
};

/** What a step is asked to run: the network and whether the update ops run. */
export interface StepRequest {
  network?: Pick<Network, 'normalization' | 'placement' | 'streams'> & {
    conv?: readonly unknown[];
    activation?: Activation;
  };
  updateMovingAverages?: boolean;
  /** L2 weight decay on the kernels (default 0: none). */
  weightDecay?: number;
}

/** Why `kind` cannot serve the request, in one line that names the step and what it runs; else undefined. */
export function unsupportedReason(kind: StepKind, request: StepRequest = {}): string | undefined {
  const support = STEP_SUPPORT[kind];
  if (support.native && !hasNativeOps()) return noNativeOpsReason(kind);
  const { network, updateMovingAverages = true, weightDecay = 0 } = request;
  if (!updateMovingAverages && !support.skipsUpdates)
    return `the ${kind} step always updates the moving averages; the graph, fused, lean and autodiff steps can skip them`;
  if (weightDecay > 0 && !support.weightDecay)
    return `the ${kind} step has no weight decay; the lean and autodiff steps apply it`;
  if (!network) return undefined;
  const { normalizations, placements } = support;
  if (normalizations !== 'all' && !normalizations.includes(network.normalization))
    return `the ${kind} step runs normalizations ${normalizations.join(', ')}, not '${network.normalization}' (the autodiff step runs every one)`;
  if (!placements.includes(network.placement))
    return `the ${kind} step runs placements ${placements.join(', ')}, not '${network.placement}'`;
  const activation = network.activation ?? 'relu';
  if (!support.activations.includes(activation))
    return `the ${kind} step runs ReLU networks only; ${activation} ones train with the lean, autodiff or layers step`;
  if ((network.conv?.length ?? 0) > 0 && !support.convolutional)
    return `the ${kind} step runs dense networks only; convolutional ones train with the autodiff or layers step`;
  if (network.streams.length > 1 && !support.perStreamStatistics)
    return `the ${kind} step keeps one set of moving statistics; per-stream statistics need the lean or autodiff step`;
  return undefined;
}

/** The steps tried when none is asked for, fastest first. */
const PREFERENCE: StepKind[] = ['graph', 'lean', 'autodiff'];

/**
 * The kind to run: the one asked for, if it can serve the request (else one line saying why),
 * or the fastest that can.
 */
export function resolveStepKind(requested?: StepKind, request: StepRequest = {}): StepKind {
  if (requested !== undefined) {
    if (!isStepKind(requested))
      throw new Error(
        `unknown step '${String(requested)}' (expected one of: ${STEP_KINDS.join(', ')})`,
      );
    const reason = unsupportedReason(requested, request);
    if (reason) throw new Error(reason);
    return requested;
  }
  const kind = PREFERENCE.find((k) => unsupportedReason(k, request) === undefined);
  if (!kind) throw new Error(unsupportedReason('autodiff', request));
  return kind;
}

/** One network's training step, with the evaluations that run on the same kernels. */
export interface TrainingStep {
  readonly kind: StepKind;
  /** One SGD step on a batch (of one stream), update ops included unless switched off. */
  run(x: tf.Tensor2D, y: tf.Tensor2D, stream?: string): void;
  /** Loss and accuracy on a whole split (of one stream) in either phase; writes nothing. */
  evaluate(split: DeviceSplit, phase: Phase, stream?: string): Metrics;
  /** Brings the trained values into the network where the step trains a copy (the graph, tf.layers). */
  syncNetwork(): void;
  dispose(): void;
}

export interface StepSettings {
  batchSize: number;
  learningRate: number;
  /** L2 weight decay on the kernels (default 0); only the lean and autodiff steps have it. */
  weightDecay?: number;
  updateMovingAverages?: boolean;
}
