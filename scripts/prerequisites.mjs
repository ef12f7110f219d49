// What the quickstart needs beyond Node.js, each checked just before it is needed, so that a
// missing piece is one line naming it and how to get it (the README's "What you need").
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Runs a program quietly; 'missing' when it is not on PATH. */
function probe(command, args, env) {
  const result = spawnSync(command, args, { encoding: 'utf8', env, timeout: 60_000 });
  if (result.error?.code === 'ENOENT') return 'missing';
  return result.status === 0 ? 'ok' : 'failed';
}

/** Python 3 with its venv module, for .venv and Jupyter; undefined when both are there. */
export function pythonProblem(python = process.env.PYTHON ?? 'python3', env = process.env) {
  const how = 'Debian: apt-get install python3 python3-venv; PYTHON names another Python 3';
  // Debian's python3 lacks ensurepip until python3-venv is installed, and `-m venv` needs it.
  const check = 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info[0] == 3 else 3)';
  const found = probe(python, ['-c', check], env);
  if (found === 'missing')
    return `the notebooks need Python 3, and '${python}' is not on PATH (${how})`;
  if (found === 'failed')
    return `the notebooks need Python 3 with its venv module, which '${python}' lacks (${how})`;
  return undefined;
}

/** A C++ compiler and make, for building the tfjs-node binding; undefined when both are there. */
export function compilerProblem(env = process.env) {
  const compiler = env.CXX || 'g++';
  for (const [tool, args] of [
    [compiler, ['--version']],
    ['make', ['--version']],
  ]) {
    if (probe(tool, args, env) !== 'ok')
      return `building the tfjs-node binding needs a C++ compiler and make, and '${tool}' does not run (Debian: apt-get install g++ make)`;
  }
  return undefined;
}

/** Chromium for the browser tests; undefined when it is there. */
export function chromiumProblem(path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium') {
  return existsSync(path) ? undefined : `no Chromium at ${path} (apt-get install chromium)`;
}
