import * as tf from '@tensorflow/tfjs';
import { namedVariables, type Network } from './network.js';

/** Every variable's shape and values by name: a JSON-ready snapshot of a trained model. */
export type WeightsJSON = Record<string, { shape: number[]; values: number[] }>;

export function weightsToJSON(network: Network): WeightsJSON {
  const saved: WeightsJSON = {};
  for (const [name, variable] of namedVariables(network))
    saved[name] = { shape: variable.shape, values: [...variable.dataSync()] };
  return saved;
}

/** Loads a snapshot into a network of the same architecture; every variable must be present. */
export function weightsFromJSON(network: Network, saved: WeightsJSON): void {
  const named = namedVariables(network);
  const extra = Object.keys(saved).filter((name) => !named.some(([n]) => n === name));
  if (extra.length > 0)
    throw new Error(`saved weights have names this network lacks: ${extra.join(', ')}`);
  // Check everything before the first assign, so a bad file leaves the network as it was.
  for (const [name, variable] of named) {
    const entry = saved[name];
    if (!entry) throw new Error(`saved weights lack '${name}'`);
    if (entry.shape.join('x') !== variable.shape.join('x')) {
      throw new Error(
        `'${name}' is ${entry.shape.join('x')} in the saved weights but ${variable.shape.join('x')} in this network`,
      );
    }
    if (entry.values.length !== variable.size)
      throw new Error(
        `'${name}' has ${entry.values.length} saved values, expected ${variable.size}`,
      );
  }
  tf.tidy(() => {
    for (const [name, variable] of named)
      variable.assign(tf.tensor(saved[name]!.values, saved[name]!.shape));
  });
}
