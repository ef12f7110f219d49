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
  // (uxlfoundation/oneDNN#4845, fixed upstream in #4855; libtensorflow 2.21 bundles oneDNN
  // 3.7.3). A signal that arrives then (Ctrl-C, a kernel interrupt, SIGCHLD, a profiler's
  // SIGPROF) has its frame written onto the heap, and glibc later aborts with "corrupted size
  // vs. prev_size". TensorFlow reaches those kernels two ways: its oneDNN ops, and Eigen's
  // matrix products, which x86 builds hand to oneDNN's sgemm. Both are turned off here, so
  // no oneDNN code runs at all. What that costs depends on the CPU (the README has the
  // measurements). Drop both once the pinned libtensorflow bundles the fix.
  TF_ENABLE_ONEDNN_OPTS: '0',
  TENSORFLOW_USE_CUSTOM_CONTRACTION_KERNEL: '0',
  // One inter-op thread: the guide's graph is a chain of small ops, and handing them between
  // threads costs more than it saves (`npm run bench -- --thread-sweep` measures it; the README
  // has the table). Intra-op threads stay TensorFlow's default, one per core: the per-epoch
  // evaluations over 55,000 images need them.
  TF_NUM_INTEROP_THREADS: '1',
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
