#!/usr/bin/env node
// Makes native TensorFlow work, for the CPU build (@tensorflow/tfjs-node) by default, or with
// --gpu for the GPU build (@tensorflow/tfjs-node-gpu), trying in order:
//   1. the package's own install script (CPU only: it downloads libtensorflow 2.9.1 and a
//      prebuilt binding; the GPU package's is built for CUDA 11.2 and no current GPU);
//   2. the TensorFlow C API from the pinned TensorFlow 2.21 wheel on PyPI (`tensorflow-cpu`, or
//      `tensorflow` for the GPU build), with the binding built here by node-gyp against it;
//   3. nothing: one line saying so, and training uses the wasm backend.
// With --gpu it then installs CUDA and cuDNN from PyPI's nvidia-* wheels (skipped with
// --no-cuda) where TensorFlow's own library path finds them: no LD_LIBRARY_PATH to set.
// "Works" means a real op ran (scripts/probe-native.ts), not only that the module loaded.
// The CPU build never fails the setup; an explicit --gpu that cannot be met exits with one line.
// Each step is skipped when its result is already in place.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  cpSync,
  existsSync,
  linkSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilerProblem } from './prerequisites.mjs';

// Both wheels are cp311 manylinux builds; only their libraries and headers are used.
const WHEEL_PLATFORM = [
  '--platform',
  'manylinux_2_27_x86_64',
  '--python-version',
  '3.11',
  '--implementation',
  'cp',
  '--abi',
  'cp311',
];

const BUILDS = {
  cpu: {
    pkg: '@tensorflow/tfjs-node',
    backend: 'tensorflow',
    official: true,
    stamp: 'native-probe.json',
    wheel: {
      name: 'tensorflow-cpu',
      version: '2.21.0',
      file: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
      sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
      size: 'about 270 MB',
      extracted: 'libtensorflow-2.21.0',
    },
  },
  gpu: {
    pkg: '@tensorflow/tfjs-node-gpu',
    backend: 'tensorflow-gpu',
    official: false,
    stamp: 'native-probe-gpu.json',
    wheel: {
      name: 'tensorflow',
      version: '2.21.0',
      file: 'tensorflow-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
      sha256: '9056fbc9ba04235810b71ae6cbd958a196e8804fb53bbcffbf3e23b56155f124',
      size: 'about 570 MB',
      extracted: 'libtensorflow-gpu-2.21.0',
    },
  },
};

// CUDA 12.5 and cuDNN 9.3: the versions TensorFlow 2.21's `and-cuda` extra asks for (its
// lower bounds), pinned with their sha256. About 1.9 GB in all.
const CUDA_WHEELS = [
  [
    'nvidia-cublas-cu12',
    '12.5.3.2',
    'ca070ad70e9fa6654084575d01bd001f30cc4665e33d4bb9fc8e0f321caa034b',
  ],
  [
    'nvidia-cuda-cupti-cu12',
    '12.5.82',
    'bde77a5feb66752ec61db2adfe47f56b941842825b4c7e2068aff27c9d107953',
  ],
  [
    'nvidia-cuda-nvcc-cu12',
    '12.5.82',
    'b03e545b8e8c3ce7ebcd7fc44063180ff52ff01d064ece2127ed90a04ef12cd0',
  ],
  [
    'nvidia-cuda-nvrtc-cu12',
    '12.5.82',
    '3dbd97b0104b4bfbc3c4f8c79cd2496307c89c43c29a9f83125f1d76296ff3fd',
  ],
  [
    'nvidia-cuda-runtime-cu12',
    '12.5.82',
    '3e79a060e126df40fd3a068f3f787eb000fa51b251ec6cd97d09579632687115',
  ],
  [
    'nvidia-cudnn-cu12',
    '9.3.0.75',
    '9ad9c6929ebb5295eb4a1728024666d1c88283373e265a0c5c883e6f9d5cd76d',
  ],
  [
    'nvidia-cufft-cu12',
    '11.2.3.61',
    '9a6e8df162585750f61983a638104a48c756aa13f9f48e19ab079b38e3c828b8',
  ],
  [
    'nvidia-curand-cu12',
    '10.3.6.82',
    '2823fb27de4e44dbb22394a6adf53aa6e1b013aca0f8c22867d1cfae58405536',
  ],
  [
    'nvidia-cusolver-cu12',
    '11.6.3.83',
    '93cfafacde4428b71778eeb092ec615a02a3d05404da1bcf91c53e3fa1bce42b',
  ],
  [
    'nvidia-cusparse-cu12',
    '12.5.1.3',
    '016df8e993c437e8301e62739f01775cba988fd5253cd4c64173f8e8d2f8e752',
  ],
  [
    'nvidia-nccl-cu12',
    '2.27.7',
    'de5ba5562f08029a19cb1cd659404b18411ed0d6c90ac5f52f30bf99ad5809aa',
  ],
  [
    'nvidia-nvjitlink-cu12',
    '12.5.82',
    'f9b37bc5c8cf7509665cb6ada5aaa0ce65618f2332b7d3e78e9790511f111212',
  ],
];

// tfjs-node links against these names; the wheel's libtensorflow_cc carries the same C API.
const LIB_ALIASES = [
  ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
  ['libtensorflow.so.2', 'libtensorflow.so.2.9.1'],
  ['libtensorflow.so', 'libtensorflow.so.2'],
  ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
];

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(projectRoot, 'package.json'));
const cacheRoot =
  process.env.BATCHNORM_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'batchnorm-ts');
const log = (line) => console.error(`[setup-native] ${line}`);

function packageDir(build) {
  try {
    return dirname(require.resolve(`${build.pkg}/package.json`));
  } catch {
    return undefined;
  }
}

/** The compiled binding's file, once there is one. */
function bindingFile(pkg) {
  const lib = join(pkg, 'lib');
  if (!existsSync(lib)) return undefined;
  const napi = readdirSync(lib).find((d) => existsSync(join(lib, d, 'tfjs_binding.node')));
  return napi ? join(lib, napi, 'tfjs_binding.node') : undefined;
}

/** What the last passing probe ran with: this Node and this binding file. */
function probeStamp(pkg) {
  const binding = bindingFile(pkg);
  if (!binding) return undefined;
  const { size, mtimeMs } = statSync(binding);
  return JSON.stringify({ node: process.version, binding, size, mtimeMs });
}

/**
 * Runs a real op on the build's backend the way the project loads it, in a child process, so
 * that a crash or a bad library cannot take this one down.
 */
function nativeWorks(build, pkg) {
  const stampFile = join(projectRoot, 'node_modules', '.batchnorm-ts', build.stamp);
  const stamp = probeStamp(pkg);
  if (stamp && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp)
    return { ok: true, cached: true };
  const probe = spawnSync(
    process.execPath,
    ['--import', 'tsx', join('scripts', 'probe-native.ts'), build.backend],
    { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 },
  );
  const ok = probe.status === 0;
  if (ok && stamp) {
    mkdirSync(dirname(stampFile), { recursive: true });
    writeFileSync(stampFile, stamp);
  }
  const said = `${probe.stdout ?? ''}\n${probe.stderr ?? ''}`.trim().split('\n');
  return {
    ok,
    cached: false,
    why:
      said.find((l) => /error|cannot|not available/i.test(l)) ??
      said.at(-1) ??
      `exit ${probe.status}`,
  };
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 600_000, ...options });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.trim().split('\n');
    // Prefer the line that says why (a DNS failure, a compiler error) over stack noise.
    const line =
      output.find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|fatal error/.test(l)) ??
      output.find((l) => /error/i.test(l)) ??
      output.at(-1) ??
      result.error?.message ??
      '';
    throw new Error(`${[command, ...args].join(' ').slice(0, 80)}: ${line.trim().slice(0, 200)}`);
  }
  return result;
}

function tryOfficialInstall(build, pkg) {
  log(`trying the official ${build.pkg} install (downloads libtensorflow 2.9.1)`);
  try {
    run(process.execPath, ['scripts/install.js'], { cwd: pkg, timeout: 300_000 });
  } catch (error) {
    log(`official install failed: ${error.message}`);
  }
}

async function sha256(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

function nodeHeadersPrefix() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function linkOrCopy(from, to) {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** The pinned wheel in the cache: downloaded from PyPI when missing, then checked. */
async function cachedWheel(wheelSpec) {
  const wheelDir = join(cacheRoot, 'wheels');
  const wheel = join(wheelDir, wheelSpec.file);
  if (!existsSync(wheel)) {
    log(
      `downloading ${wheelSpec.name}==${wheelSpec.version} from PyPI (${wheelSpec.size}, cached in ${wheelDir})`,
    );
    mkdirSync(wheelDir, { recursive: true });
    run(process.env.PYTHON ?? 'python3', [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--only-binary=:all:',
      ...WHEEL_PLATFORM,
      '-d',
      wheelDir,
      `${wheelSpec.name}==${wheelSpec.version}`,
    ]);
  }
  const digest = await sha256(wheel);
  if (digest !== wheelSpec.sha256) {
    rmSync(wheel);
    throw new Error(
      `${wheel}: sha256 ${digest} does not match the pinned ${wheelSpec.sha256}; removed it`,
    );
  }
  return wheel;
}

async function installFromWheel(build, pkg) {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`no pinned wheel for ${process.platform}-${process.arch}`);
  const wheelSpec = build.wheel;
  const wheel = await cachedWheel(wheelSpec);
  const extracted = join(cacheRoot, wheelSpec.extracted);
  const marker = join(extracted, '.complete');
  if (!existsSync(marker)) {
    log(`extracting the TensorFlow C API to ${extracted}`);
    rmSync(extracted, { recursive: true, force: true });
    run(process.env.PYTHON ?? 'python3', [
      join(projectRoot, 'scripts', 'extract_libtensorflow.py'),
      wheel,
      join(pkg, 'binding'),
      extracted,
    ]);
    writeFileSync(marker, `${wheelSpec.file} ${wheelSpec.sha256}\n`);
  }
  const depsLib = join(pkg, 'deps', 'lib');
  const depsInclude = join(pkg, 'deps', 'include');
  rmSync(join(pkg, 'deps'), { recursive: true, force: true });
  mkdirSync(depsLib, { recursive: true });
  for (const lib of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'])
    linkOrCopy(join(extracted, 'lib', lib), join(depsLib, lib));
  for (const [alias, target] of LIB_ALIASES) symlinkSync(target, join(depsLib, alias));
  cpSync(join(extracted, 'include'), depsInclude, { recursive: true });

  const nodedir = nodeHeadersPrefix();
  if (!nodedir)
    throw new Error(
      'Node.js headers not found (set npm_config_nodedir to the folder holding include/node)',
    );
  const missing = compilerProblem();
  if (missing) throw new Error(missing);
  log(`building the ${build.pkg} binding against it (about a minute)`);
  const preGyp = require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [pkg] });
  run(process.execPath, [preGyp, 'install', '--build-from-source'], {
    cwd: pkg,
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
}

/**
 * CUDA and cuDNN from their pinned wheels, unpacked once into the cache, and linked in as
 * deps/nvidia beside deps/lib: TensorFlow's libraries look for them at $ORIGIN/../nvidia/*\/lib
 * (their RUNPATH), so no LD_LIBRARY_PATH is needed.
 */
function installCuda(pkg) {
  const target = join(cacheRoot, 'cuda-12.5-cudnn-9.3');
  const marker = join(target, '.complete');
  if (!existsSync(marker)) {
    log('installing CUDA 12.5 and cuDNN 9.3 from their PyPI wheels (about 1.9 GB, cached)');
    rmSync(target, { recursive: true, force: true });
    const requirements = join(cacheRoot, 'cuda-requirements.txt');
    mkdirSync(cacheRoot, { recursive: true });
    writeFileSync(
      requirements,
      CUDA_WHEELS.map(([name, version, hash]) => `${name}==${version} --hash=sha256:${hash}`).join(
        '\n',
      ),
    );
    run(process.env.PYTHON ?? 'python3', [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--no-deps',
      '--require-hashes',
      '--only-binary=:all:',
      '--target',
      target,
      '-r',
      requirements,
    ]);
    writeFileSync(marker, CUDA_WHEELS.map(([n, v]) => `${n}==${v}`).join('\n'));
  }
  const link = join(pkg, 'deps', 'nvidia');
  rmSync(link, { recursive: true, force: true });
  symlinkSync(join(target, 'nvidia'), link, 'dir');
}

/** The CPU build: never fails the setup; without it training runs on wasm. */
async function setUpCpu() {
  const build = BUILDS.cpu;
  const pkg = packageDir(build);
  if (!pkg) {
    log('note: @tensorflow/tfjs-node is not installed; training will use the wasm backend');
    return;
  }
  const first = nativeWorks(build, pkg);
  if (first.ok) {
    if (!first.cached) log('native TensorFlow backend ready');
    return;
  }
  if (bindingFile(pkg))
    log(`the installed binding does not run ops: ${first.why.trim().slice(0, 200)}`);
  if (process.env.BATCHNORM_SKIP_OFFICIAL_TFJS_NODE !== '1') {
    tryOfficialInstall(build, pkg);
    if (nativeWorks(build, pkg).ok) {
      log('native TensorFlow backend ready (official libtensorflow)');
      return;
    }
  }
  try {
    await installFromWheel(build, pkg);
    const probe = nativeWorks(build, pkg);
    if (!probe.ok) throw new Error(`the built binding does not run ops: ${probe.why.trim()}`);
    log(
      `native TensorFlow backend ready (TensorFlow ${build.wheel.version} C API from the ${build.wheel.name} wheel)`,
    );
  } catch (error) {
    log(
      `note: native TensorFlow backend unavailable (${error.message}); training will use the wasm backend`,
    );
  }
}

/** The GPU build, asked for explicitly: anything missing is one line and a failed setup. */
async function setUpGpu({ cuda }) {
  const build = BUILDS.gpu;
  const pkg = packageDir(build);
  if (!pkg) throw new Error(`${build.pkg} is not installed (npm install puts it in node_modules)`);
  if (!nativeWorks(build, pkg).ok) {
    await installFromWheel(build, pkg);
    const probe = nativeWorks(build, pkg);
    if (!probe.ok) throw new Error(`the built GPU binding does not run ops: ${probe.why.trim()}`);
  }
  if (cuda) installCuda(pkg);
  else rmSync(join(pkg, 'deps', 'nvidia'), { recursive: true, force: true });
  log(
    `GPU build ready (TensorFlow ${build.wheel.version} C API from the ${build.wheel.name} wheel${cuda ? ', CUDA 12.5 and cuDNN 9.3 beside it' : ', without CUDA'}); BN_DEVICE=gpu selects it`,
  );
}

const args = process.argv.slice(2);
const unknown = args.find((a) => a !== '--gpu' && a !== '--no-cuda');
if (unknown) {
  console.error(`[setup-native] error: unknown argument '${unknown}' (expected --gpu, --no-cuda)`);
  process.exit(2);
}
await setUpCpu();
if (args.includes('--gpu')) {
  try {
    await setUpGpu({ cuda: !args.includes('--no-cuda') });
  } catch (error) {
    console.error(`[setup-native] error: the GPU build could not be set up: ${error.message}`);
    process.exit(1);
  }
}
