import * as tf from '@tensorflow/tfjs';
import { variableOf, type Network } from '../nn/network.js';

// Notebook 05's weight-decay account: with batch norm after it, a kernel's size does not change
// the network's function, so decay cannot regularize it; it shrinks the kernel, and with it sets
// how far each step turns the kernel's direction.

/** One kernel over training, after each step: how far it turned (radians) and its norm. */
export interface KernelTrace {
  step: number[];
  angle: number[];
  norm: number[];
}

/**
 * Records, at each call (after every step: train with `progressEvery: 1`), the angle between a
 * kernel now and at the previous call, and its norm. Dispose it afterwards: it holds one copy of
 * the kernel.
 */
export function kernelTracker(name: string): {
  record: (network: Network, step: number) => void;
  trace: KernelTrace;
  dispose: () => void;
} {
  const trace: KernelTrace = { step: [], angle: [], norm: [] };
  let previous: tf.Tensor | undefined;
  const record = (network: Network, step: number) => {
    const kernel = variableOf(network, name);
    if (previous) {
      const [cosine, norm] = tf.tidy(() => {
        const norms = tf.mul(tf.norm(kernel), tf.norm(previous!));
        const values = tf.stack([
          tf.div(tf.sum(tf.mul(kernel, previous!)), norms),
          tf.norm(kernel),
        ]);
        return Array.from(values.dataSync());
      });
      trace.step.push(step);
      trace.angle.push(Math.acos(Math.min(1, cosine!)));
      trace.norm.push(norm!);
      previous.dispose();
    }
    previous = tf.keep(kernel.clone());
  };
  return { record, trace, dispose: () => previous?.dispose() };
}

/**
 * The angle per step at the equilibrium of SGD with weight decay on a kernel orthogonal to its
 * gradient: the step grows |W|² by η²|g|², the decay shrinks it by the factor (1 - ηλ)², and the
 * two balance when η²|g|²/|W|² = 1 - (1 - ηλ)². The step then turns W by
 * tan θ = η|g| / ((1 - ηλ)|W|) = √(2ηλ - η²λ²) / (1 - ηλ), about √(2ηλ).
 */
export function equilibriumAngle(learningRate: number, weightDecay: number): number {
  const shrink = learningRate * weightDecay;
  return Math.atan(Math.sqrt(2 * shrink - shrink * shrink) / (1 - shrink));
}

/** The root mean square of the angles from step `from` on. */
export function rmsAngle(trace: KernelTrace, from: number): number {
  const late = trace.angle.filter((_, i) => trace.step[i]! >= from);
  if (late.length === 0) throw new Error(`no step recorded from step ${from} on`);
  return Math.sqrt(late.reduce((sum, a) => sum + a * a, 0) / late.length);
}
