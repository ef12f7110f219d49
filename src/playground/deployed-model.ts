import * as tf from '@tensorflow/tfjs';
import type { DeviceSplit } from '../data/device-split.js';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist-format.js';
import { accuracy } from '../train/metrics.js';

// The playground's second use: testing a model deployed from notebook 06 (batch norm folded into
// plain dense layers, saved with `model.save`) on the page's own test digits.

/**
 * Loads a LayersModel from files the reader picked: `model.json` and the weights file(s) it
 * names. A browser page opened from disk cannot fetch files beside it, so they are chosen.
 */
export async function loadDeployedModel(files: readonly File[]): Promise<tf.LayersModel> {
  const json = files.filter((f) => f.name.endsWith('.json'));
  if (json.length !== 1) throw new Error('choose one model.json together with its weights file');
  const weights = files.filter((f) => f !== json[0]);
  if (weights.length === 0) throw new Error('choose the weights file together with model.json');
  const model = await tf.loadLayersModel(tf.io.browserFiles([json[0]!, ...weights]));
  const [input, output] = [model.inputs[0]!.shape, model.outputs[0]!.shape];
  if (input.at(-1) !== IMAGE_SIZE || output.at(-1) !== NUM_CLASSES) {
    model.dispose();
    throw new Error(`the model maps [${input}] to [${output}], not 784 pixels to 10 classes`);
  }
  return model;
}

/** Fraction of the split's digits the model labels correctly. */
export function deployedAccuracy(model: tf.LayersModel, split: DeviceSplit): number {
  return tf.tidy(() => accuracy(model.predict(split.x) as tf.Tensor2D, split.y).dataSync()[0]!);
}
