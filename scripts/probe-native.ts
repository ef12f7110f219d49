// Checks that native TensorFlow works here: loads tfjs-node the way the project does
// (src/runtime/backend.ts) and runs a real op. Prints one line; exit status 0 when it works.
import { useBackend } from '../src/runtime/backend.js';

try {
  await useBackend('tensorflow');
  console.log('native TensorFlow runs ops');
} catch (error) {
  console.log((error as Error).message.split('\n')[0]);
  process.exit(1);
}
