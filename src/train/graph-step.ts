import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import type { Phase } from '../nn/batchnorm-state.js';
import { namedVariables, type Mlp } from '../nn/mlp.js';
import { buildGuideGraph } from '../graph/guide-graph.js';
import { GraphSession } from '../graph/saved-model.js';
import type { TrainingStep } from './steps.js';

/**
 * The guide's step as the guide ran it: the whole graph (forward, update ops, gradients, SGD)
 * in TensorFlow's session, one `sess.run` per step with x, y and phase fed. The variables live
 * in the session; `syncModel` copies them into the Mlp, which then shows the trained values.
 */
export class GraphStep implements TrainingStep {
  readonly kind = 'graph' as const;
  private readonly phases: Record<Phase, tf.Scalar>;

  private constructor(
    private readonly model: Mlp,
    private readonly session: GraphSession,
  ) {
    this.phases = {
      training: tf.keep(tf.scalar(true, 'bool')),
      inference: tf.keep(tf.scalar(false, 'bool')),
    };
  }

  /** Builds the graph from the model's current values and loads it into a session. */
  static async create(
    model: Mlp,
    settings: { learningRate: number; updateMovingAverages?: boolean },
  ): Promise<GraphStep> {
    const { graph, signatures, initOp } = buildGuideGraph(model, {
      learningRate: settings.learningRate,
      updateDependency: settings.updateMovingAverages ?? true,
    });
    return new GraphStep(model, await GraphSession.open(graph, signatures, initOp));
  }

  /** `sess.run(train_step, feed_dict={x, y, phase: 1})` */
  run(x: tf.Tensor2D, y: tf.Tensor2D): void {
    tf.dispose(Object.values(this.session.run('train', { x, y, phase: this.phases.training })));
  }

  /** `sess.run([loss, accuracy], feed_dict={x, y, phase})` on a whole split; writes nothing. */
  evaluate(split: DeviceSplit, phase: Phase): { loss: number; accuracy: number } {
    const out = this.session.run('evaluate', { x: split.x, y: split.y, phase: this.phases[phase] });
    const values = { loss: out['loss']!.dataSync()[0]!, accuracy: out['accuracy']!.dataSync()[0]! };
    tf.dispose(Object.values(out));
    return values;
  }

  logits(x: tf.Tensor2D, phase: Phase): tf.Tensor2D {
    return this.session.run('logits', { x, phase: this.phases[phase] })['logits'] as tf.Tensor2D;
  }

  /** Copies the session's variables into the Mlp. */
  syncModel(): void {
    const values = this.session.run('read', {});
    tf.tidy(() => {
      for (const [name, variable] of namedVariables(this.model)) variable.assign(values[name]!);
    });
    tf.dispose(Object.values(values));
  }

  /** Copies the Mlp's variables into the session (after the Mlp was changed outside it). */
  loadModel(): void {
    const feeds = Object.fromEntries(namedVariables(this.model));
    tf.dispose(Object.values(this.session.run('write', feeds)));
  }

  dispose(): void {
    this.session.dispose();
    tf.dispose(Object.values(this.phases));
  }
}
