import type { Network } from '../nn/network.js';
import { autodiffStep } from './autodiff-step.js';
import { forwardEvaluate } from './evaluation.js';
import { fusedTrainingStep } from './fused-step.js';
import { layersStep } from './layers-step.js';
import { leanStep } from './lean-step.js';
import { resolveStepKind, type StepKind, type StepSettings, type TrainingStep } from './step.js';

/**
 * Builds one of the ways to run the network's training step, after checking that it can run
 * this network here (one line naming the step and what it runs, otherwise).
 */
export async function createTrainingStep(
  kind: StepKind,
  network: Network,
  settings: StepSettings,
): Promise<TrainingStep> {
  const { learningRate, weightDecay = 0, updateMovingAverages = true } = settings;
  const resolved = resolveStepKind(kind, { network, updateMovingAverages, weightDecay });
  if (resolved === 'graph') {
    // Loaded on demand: it writes files and talks to tfjs-node, which a browser has neither of.
    const { GraphStep } = await import('./graph-step.js');
    return GraphStep.create(network, { learningRate, updateMovingAverages });
  }
  if (resolved === 'fused') return fusedTrainingStep(network, settings);
  if (resolved === 'layers') return layersStep(network, learningRate);
  const step = resolved === 'lean' ? leanStep : autodiffStep;
  return {
    kind: resolved,
    run: (x, y, stream) =>
      step(network, { learningRate, weightDecay }, x, y, updateMovingAverages, stream),
    evaluate: (split, phase, stream) => forwardEvaluate(network, split, phase, stream),
    syncNetwork: () => {},
    dispose: () => {},
  };
}
