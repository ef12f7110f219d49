import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import { namedVariables, type Network } from '../nn/network.js';
import { buildGuideGraph } from '../graph/guide-graph.js';
import { GraphSession } from '../graph/saved-model.js';
import type { Metrics } from './metrics.js';
import type { TrainingStep } from './step.js';

/**
 * The guide's step as the guide ran it: the whole graph (forward, update ops, gradients, SGD)
 * in TensorFlow's session, one `sess.run` per step with x, y and phase fed. The variables live
 * in the session; `syncNetwork` copies them into the network, which then shows the trained values.
 */
export class GraphStep implements TrainingStep {
  readonly kind = 'graph' as const;
  private readonly phases: Record<Phase, tf.Scalar>;

  private constructor(
    private readonly network: Network,
    private readonly session: GraphSession,
  ) {
    this.phases = {
      training: tf.keep(tf.scalar(true, 'bool')),
      inference: tf.keep(tf.scalar(false, 'bool')),
    };
  }

  /** Builds the graph from the network's current values and loads it into a session. */
  static async create(
    network: Network,
    settings: { learningRate: number; updateMovingAverages?: boolean },
  ): Promise<GraphStep> {
    const { graph, signatures, initOp } = buildGuideGraph(network, {
      learningRate: settings.learningRate,
      updateDependency: settings.updateMovingAverages ?? true,
    });
    return new GraphStep(network, await GraphSession.open(graph, signatures, initOp));
  }

  /** `sess.run(train_step, feed_dict={x, y, phase: 1})` */
  run(x: tf.Tensor2D, y: tf.Tensor2D): void {
    tf.dispose(Object.values(this.session.run('train', { x, y, phase: this.phases.training })));
  }

  /** `sess.run([loss, accuracy], feed_dict={x, y, phase})` on a whole split; writes nothing. */
  evaluate(split: DeviceSplit, phase: Phase): Metrics {
    const out = this.session.run('evaluate', { x: split.x, y: split.y, phase: this.phases[phase] });
    const values = { loss: out['loss']!.dataSync()[0]!, accuracy: out['accuracy']!.dataSync()[0]! };
    tf.dispose(Object.values(out));
    return values;
  }

  /** Copies the session's variables into the network. */
  syncNetwork(): void {
    const values = this.session.run('read', {});
    tf.tidy(() => {
      for (const [name, variable] of namedVariables(this.network)) variable.assign(values[name]!);
    });
    tf.dispose(Object.values(values));
  }

  dispose(): void {
    this.session.dispose();
    tf.dispose(Object.values(this.phases));
  }
}
