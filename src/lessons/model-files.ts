import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

// Notebook 06's deployed model on disk: `model.json` and `weights.bin`, TensorFlow.js's
// LayersModel format, written and read with Node's own file functions. tf.io's `file://`
// handlers come with tfjs-node only, and the model has to save on every backend.

const WEIGHTS_FILE = 'weights.bin';

/** Saves a LayersModel into `dir` as model.json and weights.bin (the folder is made if missing). */
export async function saveModelFiles(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const manifest = [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }];
      const weights = artifacts.weightData as ArrayBuffer;
      writeFileSync(join(dir, WEIGHTS_FILE), Buffer.from(weights));
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: manifest,
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** Loads the LayersModel that `saveModelFiles` (or tfjs-node's `file://` handler) wrote into `dir`. */
export async function loadModelFiles(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const paths = manifest.flatMap((group) => group.paths);
    const buffers = paths.map((path) => readFileSync(join(dir, path)));
    const bytes = Buffer.concat(buffers);
    const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    return [manifest.flatMap((group) => group.weights), weightData];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
