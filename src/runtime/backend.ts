import * as tf from '@tensorflow/tfjs';
import { recordNativePackage } from './internals.js';
import { prepareNativeTensorFlow } from './native-env.js';
import { addWasmConvolutionGradient } from './wasm-conv-gradient.js';

export const BACKENDS = ['auto', 'tensorflow', 'tensorflow-gpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

/** The npm package that brings each backend, and the name tfjs registers it under. */
const PROVIDERS = {
  tensorflow: { pkg: '@tensorflow/tfjs-node', registered: 'tensorflow' },
  'tensorflow-gpu': { pkg: '@tensorflow/tfjs-node-gpu', registered: 'tensorflow' },
  wasm: { pkg: '@tensorflow/tfjs-backend-wasm', registered: 'wasm' },
  cpu: { pkg: '@tensorflow/tfjs', registered: 'cpu' },
} as const;
type ConcreteBackend = keyof typeof PROVIDERS;

/** The builds of native TensorFlow: tfjs-node on the CPU, or tfjs-node-gpu. */
export const DEVICES = ['cpu', 'gpu'] as const;
export type Device = (typeof DEVICES)[number];

/** The build BN_DEVICE asks for (default 'cpu'); anything else is a one-line error. */
export function deviceFromEnv(
  env: Record<string, string | undefined> = globalThis.process?.env ?? {},
): Device {
  const raw = env['BN_DEVICE'] || 'cpu';
  if (!(DEVICES as readonly string[]).includes(raw))
    throw new Error(`BN_DEVICE must be one of ${DEVICES.join(', ')}, got '${raw}'`);
  return raw as Device;
}

/** Where 'auto' looks, fastest first: native TensorFlow in the build BN_DEVICE names. */
function autoOrder(): ConcreteBackend[] {
  return [deviceFromEnv() === 'gpu' ? 'tensorflow-gpu' : 'tensorflow', 'wasm', 'cpu'];
}

export interface ActiveBackend {
  /** What was asked for. */
  requested: BackendChoice;
  /** The backend now in use: 'tensorflow', 'tensorflow-gpu', 'wasm' or 'cpu'. */
  name: ConcreteBackend;
  /**
   * Where it computes, in one line: 'CPU', or for the GPU build the GPU's name and compute
   * capability, or 'no GPU found: the GPU build is running on the CPU'.
   */
  device: string;
}

export function isBackendChoice(value: string): value is BackendChoice {
  return (BACKENDS as readonly string[]).includes(value);
}

/**
 * One small product on the active backend, checked against its value: a binding can load
 * and still fail on its first op (tfjs-node 4.22 on Node 23+ without the shim did).
 */
function selfTest(): void {
  const values = tf.tidy(() =>
    tf
      .matMul(
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
        tf.tensor2d([[5], [6]]),
      )
      .dataSync(),
  );
  if (values[0] !== 17 || values[1] !== 39)
    throw new Error(`a test product gave [${[...values].join(', ')}] instead of [17, 39]`);
}

async function activate(name: ConcreteBackend): Promise<void> {
  const { pkg, registered } = PROVIDERS[name];
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    prepareNativeTensorFlow();
    recordNativePackage(PROVIDERS[name].pkg);
  }
  if (pkg !== '@tensorflow/tfjs') {
    // A variable specifier keeps optional packages out of compile-time resolution.
    const specifier: string = pkg;
    await import(specifier);
  }
  if (!(await tf.setBackend(registered)))
    throw new Error(`${pkg} loaded but backend '${registered}' failed to initialise`);
  await tf.ready();
  if (name === 'wasm') addWasmConvolutionGradient();
  try {
    selfTest();
  } catch (error) {
    throw new Error(`${pkg} loaded but cannot run ops: ${reason(error)}`);
  }
}

/** Where a backend computes; only the GPU build needs asking (in a child process, gpu-device.ts). */
async function deviceOf(name: ConcreteBackend): Promise<string> {
  if (name !== 'tensorflow-gpu') return 'CPU';
  // Loaded on demand: it starts a process, which a browser cannot.
  const { describeGpu } = await import('./gpu-device.js');
  return describeGpu();
}

function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}

/**
 * The backend the environment asks for: BN_BACKEND (default 'auto'), so that the notebooks, the
 * CLI and the tests run on the same one. Anything else is a one-line error.
 */
export function backendFromEnv(
  env: Record<string, string | undefined> = globalThis.process?.env ?? {},
): BackendChoice {
  const raw = env['BN_BACKEND'] || 'auto';
  if (!isBackendChoice(raw))
    throw new Error(`BN_BACKEND must be one of ${BACKENDS.join(', ')}, got '${raw}'`);
  return raw;
}

/**
 * Switches tfjs to the requested backend (by default the one BN_BACKEND names, else 'auto'). An explicit choice that cannot load throws;
 * 'auto' walks native TensorFlow, then wasm, then the pure-JS cpu backend and says
 * in one line why it fell back.
 */
export async function useBackend(
  requested: BackendChoice = backendFromEnv(),
  notice: (line: string) => void = (line) => console.error(line),
): Promise<ActiveBackend> {
  if (!isBackendChoice(requested)) {
    throw new Error(
      `unknown backend '${String(requested)}' (expected one of: ${BACKENDS.join(', ')})`,
    );
  }
  if (requested !== 'auto') {
    // BN_DEVICE=gpu makes 'tensorflow' the GPU build.
    const name = requested === 'tensorflow' ? autoOrder()[0]! : requested;
    try {
      await activate(name);
    } catch (error) {
      throw new Error(`backend '${name}' is not available: ${reason(error)}`);
    }
    return { requested, name, device: await deviceOf(name) };
  }
  const failures: string[] = [];
  for (const name of autoOrder()) {
    try {
      await activate(name);
      if (failures.length > 0) notice(`note: using the ${name} backend (${failures.join('; ')})`);
      return { requested, name, device: await deviceOf(name) };
    } catch (error) {
      failures.push(`${name} unavailable: ${reason(error)}`);
    }
  }
  throw new Error(`no tfjs backend could be initialised (${failures.join('; ')})`);
}
