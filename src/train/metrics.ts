import * as tf from '@tensorflow/tfjs';

/** Loss (mean cross-entropy, in nats) and accuracy (fraction correct) on a set of examples. */
export interface Metrics {
  loss: number;
  accuracy: number;
}

/** Mean softmax cross-entropy of logits against one-hot labels, in nats. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

/** Fraction of rows whose largest logit is the labelled class. */
export function accuracy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.tidy(
    () =>
      tf.mean(
        tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(labels, 1)), 'float32'),
      ) as tf.Scalar,
  );
}

/** Reads a loss and an accuracy made inside `compute`, and frees them. */
export function readMetrics(compute: () => [tf.Scalar, tf.Scalar]): Metrics {
  const [loss, acc] = tf.tidy(compute);
  const values = { loss: loss.dataSync()[0]!, accuracy: acc.dataSync()[0]! };
  tf.dispose([loss, acc]);
  return values;
}
