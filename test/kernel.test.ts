import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

const PYTHON = '.venv/bin/python';
const INTERRUPTS = 6;
const CRASH = /corrupted|double free|free\(\)|Aborted|Segmentation fault|core dumped/;

interface Lifecycle {
  interrupts: Array<{ reply: string; alive: boolean; tensors: string | null }>;
  setup?: string;
  tensorsBefore?: string;
  afterInterrupts?: string;
  shutdownExit?: number;
  restartedOldExit?: number;
  afterRestart?: string;
  error?: string;
  stderr: Record<string, string>;
}

test(
  'the kernel survives interrupts mid-training, and shuts down and restarts mid-training cleanly',
  { skip: !existsSync(PYTHON) && 'no .venv (npm test sets it up)', timeout: 900_000 },
  () => {
    const child = spawnSync(PYTHON, ['test/kernel_lifecycle.py', String(INTERRUPTS), '7'], {
      encoding: 'utf8',
      timeout: 840_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const run = JSON.parse(child.stdout) as Lifecycle;
    const logs = Object.entries(run.stderr)
      .map(([name, text]) => `--- ${name}\n${text}`)
      .join('\n');
    assert.equal(run.error, undefined, `${run.error}\n${logs}`);
    assert.doesNotMatch(logs, CRASH);
    assert.equal(run.interrupts.length, INTERRUPTS);
    for (const [i, interrupt] of run.interrupts.entries()) {
      assert.equal(interrupt.reply, 'error', `interrupt ${i + 1} ends the cell with an error`);
      assert.ok(interrupt.alive, `the kernel lives after interrupt ${i + 1}`);
      assert.equal(interrupt.tensors, run.tensorsBefore, `no tensor leaked by interrupt ${i + 1}`);
    }
    assert.equal(run.afterInterrupts, '42');
    assert.equal(run.shutdownExit, 0, 'shut down mid-training: exit status 0');
    assert.equal(run.restartedOldExit, 0, 'restarted mid-training: the old kernel exits with 0');
    assert.equal(run.afterRestart, '42');
  },
);
