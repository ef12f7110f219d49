// Checks that native TensorFlow works here: loads tfjs-node (or, given `tensorflow-gpu`,
// tfjs-node-gpu) the way the project does (src/runtime/backend.ts) and runs a real op. Prints
// one line; exit status 0 when it works.
import { useBackend } from '../src/runtime/backend.js';

const backend = process.argv[2] === 'tensorflow-gpu' ? 'tensorflow-gpu' : 'tensorflow';
try {
  await useBackend(backend);
  console.log('native TensorFlow runs ops');
} catch (error) {
  console.log((error as Error).message.split('\n')[0]);
  process.exit(1);
}
