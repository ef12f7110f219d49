#!/usr/bin/env node
// Brings a fresh clone to a runnable state, and does nothing when it already is:
//   1. npm packages (installed with every install script off: .npmrc sets ignore-scripts);
//   2. the install scripts of the packages that package.json's `allowScripts` allows, and
//      of no other, whatever npm runs this (npm 10 ignores `allowScripts`; npm 11 honours it);
//   3. the `batchnorm-ts` self-link and native TensorFlow (scripts/setup-native.mjs);
//   4. .venv with the pinned Jupyter stack from requirements.txt;
//   5. the project's tslab kernel registered inside .venv only;
//   6. JupyterLab's HTML export set to the offline template (config inside .venv).
// `--node-only` stops after step 3: what the command-line experiment and the bench need.
// `--gpu` also sets up the GPU build of native TensorFlow (tfjs-node-gpu, with CUDA and cuDNN
// from PyPI; `--no-cuda` leaves them out): see scripts/setup-native.mjs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonProblem } from './prerequisites.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(root, '.venv');
const venvPython = join(venv, 'bin', 'python');
const log = (line) => console.error(`[setup] ${line}`);
const args = process.argv.slice(2);
const known = ['--node-only', '--gpu', '--no-cuda'];
const unknown = args.filter((a) => !known.includes(a));
if (unknown.length > 0) {
  console.error(`[setup] error: unknown argument '${unknown[0]}' (expected ${known.join(', ')})`);
  process.exit(2);
}
const nodeOnly = args.includes('--node-only');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    ...options,
  });
  if (result.status !== 0) {
    console.error(
      `[setup] error: '${command} ${args.join(' ')}' failed with exit code ${result.status ?? result.error?.message}`,
    );
    process.exit(1);
  }
}

/** npm as the user ran it (npm_execpath under `npm run`), else the one on PATH. */
function npm(npmArgs, options) {
  const cli = process.env.npm_execpath;
  if (cli && /\.c?js$/.test(cli)) run(process.execPath, [cli, ...npmArgs], options);
  else run('npm', npmArgs, options);
}

const stampDir = join(root, 'node_modules', '.batchnorm-ts');
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lockfile = readFileSync(join(root, 'package-lock.json'));

const installed = join(root, 'node_modules', '.package-lock.json');
if (
  !existsSync(installed) ||
  statSync(join(root, 'package-lock.json')).mtimeMs > statSync(installed).mtimeMs
) {
  log('installing npm packages');
  npm(['install', '--no-audit', '--no-fund']);
}

// The allow-list, applied by this script rather than by npm, so that it is the same policy
// on every npm: the allowed packages' scripts run here, once per install and Node version.
const allowed = Object.entries(packageJson.allowScripts ?? {})
  .filter(([, allow]) => allow === true)
  .map(([name]) => name)
  .filter((name) => existsSync(join(root, 'node_modules', name, 'package.json')));
const scriptsStamp = join(stampDir, 'install-scripts');
const scriptsKey = createHash('sha256')
  .update(lockfile)
  .update(process.version)
  .update(allowed.join(','))
  .digest('hex');
if (!existsSync(scriptsStamp) || readFileSync(scriptsStamp, 'utf8') !== scriptsKey) {
  if (allowed.length > 0) {
    log(`running the allowed install scripts (${allowed.join(', ')})`);
    npm(['rebuild', '--ignore-scripts=false', '--no-audit', '--no-fund', ...allowed], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  mkdirSync(stampDir, { recursive: true });
  writeFileSync(scriptsStamp, scriptsKey);
}

run(process.execPath, [join(root, 'scripts', 'link-self.mjs')]);
const gpuArgs = args.filter((a) => a === '--gpu' || a === '--no-cuda');
run(process.execPath, [join(root, 'scripts', 'setup-native.mjs'), ...gpuArgs], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (nodeOnly) process.exit(0);

const kernelCommand = join(root, 'scripts', 'tslab-kernel');
const stamp = createHash('sha256')
  .update(readFileSync(join(root, 'requirements.txt')))
  .update(kernelCommand)
  .digest('hex');
const stampFile = join(venv, '.batchnorm-ts-setup');
if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp) {
  if (!existsSync(venvPython)) {
    const problem = pythonProblem();
    if (problem) {
      console.error(`[setup] error: ${problem}`);
      process.exit(1);
    }
    log('creating .venv');
    run(process.env.PYTHON ?? 'python3', ['-m', 'venv', venv]);
  }
  log('installing the Jupyter environment from requirements.txt into .venv');
  run(venvPython, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '-r',
    'requirements.txt',
  ]);
  log('registering the tslab kernel in .venv');
  run(
    join(root, 'node_modules', '.bin', 'tslab'),
    ['install', '--sys-prefix', '--python', venvPython, '--binary', kernelCommand],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  writeFileSync(stampFile, stamp);
}

// JupyterLab's File > Save and Export Notebook As > HTML goes through the server's nbconvert
// handler: point it (and `jupyter nbconvert` from .venv) at the offline template and the MathML
// step. Both live in scripts/nbconvert/, which a .pth file puts on .venv's Python path. Written
// inside .venv only, never in the user's home; rewritten only when it differs.
const exportConfig = {
  HTMLExporter: {
    template_name: 'offline',
    extra_template_basedirs: [join(root, 'scripts', 'nbconvert')],
    preprocessors: ['offline_math.MathMLPreprocessor'],
  },
};
const sitePackagesQuery = spawnSync(
  venvPython,
  ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
  { encoding: 'utf8' },
);
if (sitePackagesQuery.status !== 0 || !sitePackagesQuery.stdout?.trim()) {
  console.error(`[setup] error: cannot ask ${venvPython} where its packages live`);
  process.exit(1);
}
const sitePackages = sitePackagesQuery.stdout.trim();
const configFiles = [
  [
    join(venv, 'etc', 'jupyter', 'jupyter_server_config.json'),
    `${JSON.stringify(exportConfig, null, 2)}\n`,
  ],
  [
    join(venv, 'etc', 'jupyter', 'jupyter_nbconvert_config.json'),
    `${JSON.stringify(exportConfig, null, 2)}\n`,
  ],
  [join(sitePackages, 'batchnorm-ts-nbconvert.pth'), `${join(root, 'scripts', 'nbconvert')}\n`],
  // The project's JupyterLab works offline: no news feed, no update check.
  [
    join(venv, 'share', 'jupyter', 'lab', 'settings', 'overrides.json'),
    `${JSON.stringify({ '@jupyterlab/apputils-extension:notification': { fetchNews: 'false', checkForUpdates: false } }, null, 2)}\n`,
  ],
];
for (const [path, contents] of configFiles) {
  if (existsSync(path) && readFileSync(path, 'utf8') === contents) continue;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
}
