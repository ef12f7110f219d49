import type { DeviceSplit } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import { DEFAULT_STREAM } from '../nn/norm-layer.js';
import { forward, type Network } from '../nn/network.js';
import { fusedEvaluate } from './fused-step.js';
import { accuracy, crossEntropy, readMetrics, type Metrics } from './metrics.js';
import { resolveStepKind, type StepKind } from './step.js';

/**
 * Loss and accuracy on a whole split in one pass. In the training phase the network normalizes
 * with the split's own batch statistics, as the guide's phase=1 evaluation did, and nothing is
 * written: moving averages change only inside the training step. `kind` picks the kernels (by
 * default those of the step that would train this network: TensorFlow's fused ones where it can).
 */
export function evaluate(
  network: Network,
  split: DeviceSplit,
  phase: Phase,
  kind: StepKind = resolveStepKind(undefined, { network }),
  stream = DEFAULT_STREAM,
): Metrics {
  if (kind === 'fused' || kind === 'graph') return fusedEvaluate(network, split, phase);
  return forwardEvaluate(network, split, phase, stream);
}

/** Loss and accuracy of a whole split through the network's own forward pass (tfjs ops). */
export function forwardEvaluate(
  network: Network,
  split: DeviceSplit,
  phase: Phase,
  stream = DEFAULT_STREAM,
): Metrics {
  return readMetrics(() => {
    const { logits } = forward(network, split.x, phase, stream);
    return [crossEntropy(logits, split.y), accuracy(logits, split.y)];
  });
}
