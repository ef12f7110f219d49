import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script, without type declarations
import { ciLegs, derivedTexts, syncedFiles } from '../scripts/node-runtime.mjs';

// scripts/node-runtime.mjs is the one list of supported Node majors: adding one is one edit
// there, then `node scripts/node-runtime.mjs --sync` for the files npm and readers see.

const read = (path: string) => readFileSync(path, 'utf8');

test("package.json's engines and the README's version sentences follow the one list", () => {
  const synced = syncedFiles(read('package.json'), read('README.md')) as Record<string, string>;
  const stale = ['package.json', 'README.md'].filter(
    (file, i) => read(file) !== synced[i === 0 ? 'packageJson' : 'readme'],
  );
  assert.deepEqual(stale, [], 'run: node scripts/node-runtime.mjs --sync');
  const { engines } = derivedTexts() as { engines: string };
  assert.equal(
    (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node,
    engines,
  );
});

test('a README that lags behind the list is caught', () => {
  const lagging = read('README.md').replace(/Tested on Node\.js [^<]*/, 'Tested on Node.js 22');
  const synced = syncedFiles(read('package.json'), lagging) as { readme: string };
  assert.notEqual(synced.readme, lagging);
  assert.equal(synced.readme, read('README.md'));
});

test('.ci/run takes its legs from the list', () => {
  assert.match(read('.ci/run'), /node scripts\/node-runtime\.mjs --legs/);
  assert.doesNotMatch(read('.ci/run'), /^(PRIMARY|OTHERS)=\S*\d/m, 'no hard-coded majors');
  const legs = ciLegs() as Array<number | string>;
  assert.equal(legs.at(-1), 'system');
  assert.ok(legs.length >= 3);
});
