import * as tf from '@tensorflow/tfjs';

/**
 * Every use of tfjs-node's and tslab's private internals, in one place. None of them is a
 * public API, so each is checked against the version it was written for: a package at another
 * version stops with one line naming both versions, instead of failing somewhere deep inside.
 * Nothing here runs in a browser: the playground's backends never reach these functions.
 */

/** The versions whose internals this module was written against. */
export const INTERNALS_WRITTEN_FOR = {
  '@tensorflow/tfjs-node': '4.22.0',
  '@tensorflow/tfjs-node-gpu': '4.22.0',
  tslab: '1.0.22',
} as const;
export type InternalsPackage = keyof typeof INTERNALS_WRITTEN_FOR;

/** One line when `found` is not the version the internals were written for. */
export function checkInternalsVersion(pkg: InternalsPackage, found: string): void {
  const expected = INTERNALS_WRITTEN_FOR[pkg];
  if (found !== expected)
    throw new Error(
      `${pkg} ${found} is installed, but this project uses its internals as of ${expected} (npm install ${pkg}@${expected})`,
    );
}

/** Node's require, reached without a static import so that browser bundles can include this file. */
function nodeRequire(): NodeJS.Require {
  const module = globalThis.process?.getBuiltinModule?.('node:module');
  if (!module) throw new Error('package internals are only reachable in Node');
  return module.createRequire(import.meta.url);
}

const checked = new Set<InternalsPackage>();

/** Loads a package's file, once its version has been checked. */
function requireChecked<T>(pkg: InternalsPackage, path = ''): T {
  const require = nodeRequire();
  if (!checked.has(pkg)) {
    checkInternalsVersion(pkg, (require(`${pkg}/package.json`) as { version: string }).version);
    checked.add(pkg);
  }
  return require(`${pkg}${path}`) as T;
}

// ---- tfjs-node: its kernel backend, its protobuf classes, its SavedModel loader ----

let nativePackage: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu' = '@tensorflow/tfjs-node';

/** Which package brought the tensorflow backend (set by `useBackend`). */
export function recordNativePackage(pkg: typeof nativePackage): void {
  nativePackage = pkg;
}

/** An attribute of a TensorFlow op, as tfjs-node's binding takes it. */
export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The parts of tfjs-node's NodeJSKernelBackend and its native binding used here. */
interface NodeBackend {
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_STRING: number;
    TF_FLOAT: number;
    TF_INT32: number;
    executeOp: (...args: unknown[]) => unknown;
    runSavedModel: (...args: unknown[]) => unknown;
  };
  executeMultipleOutputs(
    name: string,
    attrs: OpAttr[],
    inputs: tf.Tensor[],
    numOutputs: number,
  ): tf.Tensor[];
}

/** TensorFlow's kernels by name, as tfjs-node's own registered kernels reach them. */
export interface NativeKernels {
  /** The binding's codes for attribute types and dtypes. */
  codes: {
    attrType: number;
    attrFloat: number;
    attrBool: number;
    attrString: number;
    float: number;
    int32: number;
  };
  /** Runs one op eagerly; its outputs are ordinary tfjs tensors, tracked by `tidy`. */
  run(name: string, attrs: OpAttr[], inputs: tf.Tensor[], outputs: number): tf.Tensor[];
  /** How many calls `fn` makes into TensorFlow: eager ops and session runs, one each. */
  count(fn: () => void): number;
}

/** The active backend as tfjs-node's, or undefined where it is another (wasm, cpu, webgl). */
function nodeBackend(): NodeBackend | undefined {
  const candidate = tf.backend() as unknown as Partial<NodeBackend>;
  if (typeof candidate.executeMultipleOutputs !== 'function' || !candidate.binding)
    return undefined;
  requireChecked(nativePackage);
  return candidate as NodeBackend;
}

/** The active backend's TensorFlow kernels, or undefined where the backend is not tfjs-node's. */
export function nativeKernels(): NativeKernels | undefined {
  const backend = nodeBackend();
  if (!backend) return undefined;
  const b = backend.binding;
  return {
    codes: {
      attrType: b.TF_ATTR_TYPE,
      attrFloat: b.TF_ATTR_FLOAT,
      attrBool: b.TF_ATTR_BOOL,
      attrString: b.TF_ATTR_STRING,
      float: b.TF_FLOAT,
      int32: b.TF_INT32,
    },
    run: (name, attrs, inputs, outputs) =>
      backend.executeMultipleOutputs(name, attrs, inputs, outputs),
    count: (fn) => countBindingCalls(backend, fn),
  };
}

/**
 * Counts the calls `fn` makes into TensorFlow: every eager kernel goes through the binding's
 * executeOp once, and every session run through its runSavedModel once.
 */
function countBindingCalls(backend: NodeBackend, fn: () => void): number {
  const binding = backend.binding;
  let count = 0;
  // The binding itself is frozen; the backend's reference to it is not. A stand-in that
  // inherits every other member counts the calls.
  const counted = (name: 'executeOp' | 'runSavedModel') => ({
    value: (...args: unknown[]) => {
      count++;
      return binding[name](...args);
    },
  });
  backend.binding = Object.create(binding, {
    executeOp: counted('executeOp'),
    runSavedModel: counted('runSavedModel'),
  }) as NodeBackend['binding'];
  try {
    fn();
  } finally {
    backend.binding = binding;
  }
  return count;
}

/** TensorFlow's protobuf classes that tfjs-node ships for reading SavedModels (the module is the `tensorflow` package). */
export function tensorflowProtos<T>(): T {
  return requireChecked<T>(nativePackage, '/dist/proto/api_pb.js');
}

/** tfjs-node's own module, whose `node` namespace loads SavedModels. */
export function tfjsNodeModule<T>(): T {
  return requireChecked<T>(nativePackage);
}

// ---- tslab: the function a running cell sends its display messages with ----

/** tslab's sender of display_data while a cell runs in a kernel; undefined outside one. */
export function tslabDisplayWriter<T>(): T | undefined {
  const jupyter = requireChecked<{ lastWriteDisplayData?: T | null }>('tslab', '/dist/jupyter');
  return jupyter.lastWriteDisplayData ?? undefined;
}
