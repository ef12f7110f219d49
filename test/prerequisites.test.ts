import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script, without type declarations
import { chromiumProblem, compilerProblem, pythonProblem } from '../scripts/prerequisites.mjs';
import { tempDir } from './temp-dirs.js';

// Each missing prerequisite, simulated: one line naming it and how to get it.

/** A folder for PATH holding the given programs: shell scripts, or links to real ones. */
function binFolder(programs: Record<string, string>): string {
  const dir = tempDir('prereq-bin-');
  for (const [name, body] of Object.entries(programs)) {
    const path = join(dir, name);
    if (body.startsWith('/')) symlinkSync(body, path);
    else {
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
    }
  }
  return dir;
}

const which = (program: string) =>
  spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).stdout.trim();

test('Python 3 with venv: present here; missing, or without venv, is one line saying how to get it', () => {
  assert.equal(pythonProblem('python3'), undefined);
  const env = { PATH: binFolder({}) };
  assert.equal(
    pythonProblem('python3', env),
    "the notebooks need Python 3, and 'python3' is not on PATH (Debian: apt-get install python3 python3-venv; PYTHON names another Python 3)",
  );
  // Debian's python3 before python3-venv: `import ensurepip` fails.
  const noVenv = binFolder({
    python3: `echo "ModuleNotFoundError: No module named 'ensurepip'" >&2; exit 1`,
  });
  assert.match(
    pythonProblem('python3', { PATH: noVenv }),
    /^the notebooks need Python 3 with its venv module, which 'python3' lacks \(Debian: apt-get install python3 python3-venv; /,
  );
});

test('a C++ compiler and make: present here; either missing is one line saying how to get it', () => {
  assert.equal(compilerProblem(), undefined);
  const onlyMake = { PATH: binFolder({ make: which('make') }) };
  assert.equal(
    compilerProblem(onlyMake),
    "building the tfjs-node binding needs a C++ compiler and make, and 'g++' does not run (Debian: apt-get install g++ make)",
  );
  const onlyCompiler = { PATH: binFolder({ 'g++': which('g++') }) };
  assert.match(compilerProblem(onlyCompiler), /and 'make' does not run/);
});

test('no Chromium: the browser tests are skipped with one line naming it', () => {
  assert.equal(
    chromiumProblem('/nonexistent/chromium'),
    'no Chromium at /nonexistent/chromium (apt-get install chromium)',
  );
  // A test runner of its own, reporting to this one's stdout rather than to this runner.
  const env: NodeJS.ProcessEnv = { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' };
  delete env['NODE_TEST_CONTEXT'];
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/browser.test.ts'],
    {
      encoding: 'utf8',
      env,
      timeout: 120_000,
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /# no Chromium at \/nonexistent\/chromium \(apt-get install chromium\)/);
  assert.match(run.stdout, /ℹ pass 0/);
});
