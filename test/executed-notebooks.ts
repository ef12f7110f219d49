import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Figure } from '../src/report/figures.js';

/** Where the quick-profile notebook run for the tests goes. */
export const EXECUTED = join('build', 'test-notebooks');

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? filesUnder(path) : [path];
    });
}

/**
 * Executes every notebook in the quick profile, once for all test files: the run is reused
 * while the notebooks, src/, the runner and the backend choice are byte-for-byte unchanged.
 */
export function executeNotebooksOnce(): string {
  const inputs = [
    ...filesUnder('notebooks'),
    ...filesUnder('src'),
    'scripts/run_notebooks.py',
    'scripts/render-math.mjs',
    'scripts/tslab-kernel',
    ...filesUnder('scripts/nbconvert'),
    'requirements.txt',
  ];
  const hash = createHash('sha256').update(process.env['BN_BACKEND'] ?? 'auto');
  for (const file of inputs) hash.update(file).update(readFileSync(file));
  const stamp = hash.digest('hex');
  const stampFile = join(EXECUTED, '.inputs-sha256');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return EXECUTED;
  const run = spawnSync(
    '.venv/bin/python',
    ['scripts/run_notebooks.py', '--profile', 'quick', '--out', EXECUTED],
    // Nine notebooks: about 8 minutes natively, about 20 on the WebAssembly backend.
    { encoding: 'utf8', timeout: 1_800_000 },
  );
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  writeFileSync(stampFile, stamp);
  return EXECUTED;
}

/** The figures embedded in a page or a notebook output, read from their JSON data blocks. */
export function figuresIn(html: string): Figure[] {
  const blocks = html.matchAll(/<script[^>]*class="bn-figure-data"[^>]*>([\s\S]*?)<\/script>/g);
  return [...blocks].map((m) => JSON.parse(m[1]!) as Figure);
}
