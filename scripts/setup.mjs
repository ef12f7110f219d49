#!/usr/bin/env node
// Brings a fresh clone to a runnable state, and does nothing when it already is:
//   1. npm packages, the `batchnorm-ts` self-link and native TensorFlow (a later
//      `npm install <pkg>` prunes the link without running our postinstall, so check again);
//   2. .venv with the pinned Jupyter stack from requirements.txt;
//   3. the project's tslab kernel registered inside .venv only;
//   4. JupyterLab's HTML export set to the offline template (config inside .venv).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(root, '.venv');
const venvPython = join(venv, 'bin', 'python');
const log = (line) => console.error(`[setup] ${line}`);

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

const installed = join(root, 'node_modules', '.package-lock.json');
if (
  !existsSync(installed) ||
  statSync(join(root, 'package-lock.json')).mtimeMs > statSync(installed).mtimeMs
) {
  log('installing npm packages');
  run('npm', ['install', '--no-audit', '--no-fund']);
} else {
  run(process.execPath, [join(root, 'scripts', 'link-self.mjs')]);
  run(process.execPath, [join(root, 'scripts', 'setup-native.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const kernelCommand = join(root, 'scripts', 'tslab-kernel');
const stamp = createHash('sha256')
  .update(readFileSync(join(root, 'requirements.txt')))
  .update(kernelCommand)
  .digest('hex');
const stampFile = join(venv, '.batchnorm-ts-setup');
if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp) {
  if (!existsSync(venvPython)) {
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
