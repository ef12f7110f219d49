import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import {
  checkInternalsVersion,
  INTERNALS_WRITTEN_FOR,
  tslabDisplayWriter,
} from '../src/runtime/internals.js';
import { hasNativeBinding } from './helpers.js';

const require = createRequire(import.meta.url);

test('a package at another version than its internals were written for stops in one line', () => {
  assert.doesNotThrow(() => checkInternalsVersion('tslab', INTERNALS_WRITTEN_FOR.tslab));
  assert.throws(
    () => checkInternalsVersion('tslab', '1.0.23'),
    /^Error: tslab 1\.0\.23 is installed, but this project uses its internals as of 1\.0\.22 \(npm install tslab@1\.0\.22\)$/,
  );
  assert.throws(
    () => checkInternalsVersion('@tensorflow/tfjs-node-gpu', '5.0.0'),
    /^Error: @tensorflow\/tfjs-node-gpu 5\.0\.0 is installed, but this project uses its internals as of 4\.22\.0/,
  );
});

test('the installed packages are the versions the internals were written for', (t) => {
  const installed = (pkg: string) =>
    (require(`${pkg}/package.json`) as { version: string }).version;
  assert.equal(installed('tslab'), INTERNALS_WRITTEN_FOR.tslab);
  // Outside a kernel tslab has no cell to write to: the check ran, and there is no writer.
  assert.equal(tslabDisplayWriter(), undefined);
  if (!hasNativeBinding()) return t.skip('@tensorflow/tfjs-node is not installed');
  assert.equal(installed('@tensorflow/tfjs-node'), INTERNALS_WRITTEN_FOR['@tensorflow/tfjs-node']);
});

test("tfjs-node's and tslab's internals are reached from runtime/internals.ts only", () => {
  const internals = [
    /dist\/proto/,
    /executeMultipleOutputs/,
    /tslab\/dist/,
    /require\.cache/,
    /\.binding\b/,
  ];
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
    });
  const users = files('src')
    .filter((path) => internals.some((pattern) => pattern.test(readFileSync(path, 'utf8'))))
    .map((path) => relative('src', path));
  assert.deepEqual(users, ['runtime/internals.ts']);
});
