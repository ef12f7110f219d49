import * as tf from '@tensorflow/tfjs';

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
