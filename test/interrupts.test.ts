import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { hasNativeBinding } from './helpers.js';
import { backendFromEnv } from '../src/runtime/backend.js';
import { seededRandom } from '../src/runtime/random.js';
import { tempDir } from './temp-dirs.js';

// Ctrl-C in a terminal sends SIGINT to the whole process group (npm, sh and node alike); a
// service manager sends SIGTERM. Either must stop training between steps, print one line,
// write nothing, and leave no sign of a crash. The signal lands at a random moment of the
// first seconds of training, in steps and in the per-epoch evaluations alike.
const RUNS = 10;
const CRASH = /corrupted|double free|free\(\)|Aborted|Segmentation fault|core dumped/;
// The steps that need TensorFlow's kernels run where native TensorFlow is what BN_BACKEND asks for.
const native = hasNativeBinding() && ['auto', 'tensorflow'].includes(backendFromEnv());
const STEPS = native
  ? (['graph', 'fused', 'lean', 'layers'] as const)
  : (['lean', 'layers'] as const);
const random = seededRandom('interrupts');

interface Outcome {
  code: number | null;
  output: string;
  files: string[];
}

/** `npm run experiment` in a process group of its own, signalled once training is under way. */
function interruptedRun(step: string, signal: NodeJS.Signals, delayMs: number): Promise<Outcome> {
  const dir = tempDir(`interrupt-${step}-`);
  const child = spawn(
    'npm',
    ['run', '-s', 'experiment', '--', '--source', 'small', '--step', step, '--out', `${dir}/run`],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let signalled = false;
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    // The CLI names its backend and step just before it loads the data and trains.
    if (!signalled && /^backend: /m.test(output)) {
      signalled = true;
      setTimeout(() => process.kill(-child.pid!, signal), delayMs);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`no exit within 120 s after ${signal}:\n${output}`));
    }, 120_000);
    // 'close' waits for every process holding the pipes, not only npm, which may exit first.
    child.on('close', (code, killedBy) => {
      clearTimeout(timer);
      resolve({
        code: code ?? 128 + (killedBy === 'SIGTERM' ? 15 : 2),
        output,
        files: readdirSync(dir),
      });
    });
  });
}

for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  for (const step of STEPS) {
    test(`${signal} during training with the ${step} step, ${RUNS} times: exit ${status}, one line, no file, no crash`, async () => {
      // Two runs at a time: the machine has cores to spare while one loads its data.
      const delays = Array.from({ length: RUNS }, () => 300 + Math.floor(random() * 2500));
      const outcomes: Outcome[] = [];
      for (let i = 0; i < RUNS; i += 2)
        outcomes.push(
          ...(await Promise.all(
            delays.slice(i, i + 2).map((d) => interruptedRun(step, signal, d)),
          )),
        );
      outcomes.forEach((run, i) => {
        const where = `run ${i + 1} (signal after ${delays[i]} ms):\n${run.output}`;
        assert.doesNotMatch(run.output, CRASH, where);
        assert.equal(run.code, status, where);
        assert.equal(
          run.output.match(/^error: interrupted; no results written$/gm)?.length,
          1,
          where,
        );
        assert.deepEqual(run.files, [], where);
      });
    });
  }
}
