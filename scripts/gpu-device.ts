// Loads the GPU build with TensorFlow's own log on and runs one op, so that the log names the
// device TensorFlow created (src/runtime/gpu-device.ts reads it).
import * as tf from '@tensorflow/tfjs';
import { prepareNativeTensorFlow } from '../src/runtime/native-env.js';

process.env['TF_CPP_MIN_LOG_LEVEL'] = '0';
prepareNativeTensorFlow();
const specifier: string = '@tensorflow/tfjs-node-gpu';
await import(specifier);
await tf.setBackend('tensorflow');
console.log(`product ${tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync()[0]}`);
