import util from 'node:util';

/**
 * What native TensorFlow (tfjs-node) needs before it loads, in one place. An environment
 * variable the user has already set keeps its value.
 */

/** Environment variables libtensorflow reads once, when it starts. */
export const NATIVE_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  // libtensorflow logs CPU-feature banners to stderr unless told otherwise.
  TF_CPP_MIN_LOG_LEVEL: '2',
  // oneDNN's JIT sgemm kernels point the stack pointer into a heap buffer while they run
  // (uxlfoundation/oneDNN#4845, fixed upstream in #4855). A signal that arrives then (Ctrl-C,
  // a kernel interrupt, SIGCHLD) has its frame written onto the heap, and glibc later aborts
  // with "corrupted size vs. prev_size". TensorFlow's own Eigen kernels run instead, and they
  // are faster for this network's small matrices (see the README's benchmark). Drop this once
  // the pinned libtensorflow bundles a oneDNN with that fix.
  TF_ENABLE_ONEDNN_OPTS: '0',
};

/**
 * tfjs-node 4.22 calls `util.isNullOrUndefined` and `util.isArray` on every op. Node 23
 * removed the first (DEP0051), and Node 22 prints a DeprecationWarning for both on first use,
 * which then lands in notebook outputs. The fix is merged upstream but unreleased
 * (tensorflow/tfjs#8425, #8609); remove this once a tfjs-node newer than 4.22.0 is out.
 */
function shimRemovedUtilFunctions(): void {
  const legacy = util as unknown as Record<string, unknown>;
  legacy['isNullOrUndefined'] = (value: unknown) => value === null || value === undefined;
  legacy['isArray'] = Array.isArray;
}

/** Call before importing tfjs-node; idempotent. An empty variable counts as unset, as in TensorFlow. */
export function prepareNativeTensorFlow(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(NATIVE_ENV_DEFAULTS))
    if (!env[name]) env[name] = value;
  shimRemovedUtilFunctions();
}
