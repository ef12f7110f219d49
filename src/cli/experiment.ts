import { constants } from 'node:os';
import cliProgress from 'cli-progress';
import { useBackend } from '../runtime/backend.js';
import { GUIDE_EPSILON } from '../nn/batchnorm-state.js';
import { ExperimentStopped, runExperiment, type ExperimentHooks } from '../train/experiment.js';
import type { ExperimentResults } from '../train/results.js';
import { resolveStepKind } from '../train/step.js';
import { PLACEMENT_LABELS } from '../nn/layers.js';
import { experimentReport } from '../report/report.js';
import { writeAtomically } from '../runtime/files.js';
import { parseExperimentArgs, UsageError, USAGE, type ExperimentOptions } from './options.js';

let stopSignal: AbortSignal | undefined;

/**
 * Ctrl-C and SIGTERM stop training between steps. Both may arrive more than once (the terminal
 * signals the whole process group, and npm forwards to its child): later ones change nothing,
 * so the run still ends through the one path below.
 */
function stopOnSignals(): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) stop.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stopSignal = stop.signal;
  return stop.signal;
}

/** A progress bar on stderr for each model, with the last epoch's test numbers beside it. */
function progressHooks(
  options: ExperimentOptions,
): ExperimentHooks & { bar: cliProgress.SingleBar } {
  const bar = new cliProgress.SingleBar(
    {
      format:
        '{model} |{bar}| {percentage}% | step {value}/{total} | ETA {eta_formatted} | {status}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      etaBuffer: 200,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    bar,
    onModelStart: (placement) => {
      bar.start(options.epochs * options.stepsPerEpoch, 0, {
        model: PLACEMENT_LABELS[placement].padEnd(14),
        status: 'training',
      });
    },
    onStep: (_placement, step) => bar.update(step),
    onEpoch: (_placement, r) => {
      bar.update({
        status: `epoch ${r.epoch}: test acc ${r.testAccuracy.toFixed(4)}, test loss ${r.testLoss.toFixed(3)}`,
      });
      if (r.epoch === options.epochs) bar.stop();
    },
  };
}

/** Writes `<out>.json` and `<out>.html` and prints each model's headline numbers. */
async function writeResults(results: ExperimentResults, out: string): Promise<void> {
  const json = `${out}.json`;
  const html = `${out}.html`;
  await writeAtomically(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeAtomically(html, experimentReport(results));
  for (const m of results.models) {
    const last = m.history.at(-1)!;
    console.log(
      `${m.label.padEnd(15)} epoch-1 test loss ${m.history[0]!.testLoss.toFixed(3)} | epoch-${last.epoch} train acc ${last.trainAccuracy.toFixed(4)}, test acc ${last.testAccuracy.toFixed(4)} | ${m.seconds.toFixed(1)} s`,
    );
  }
  console.log(
    `wrote ${json} and ${html} (${results.wallSeconds.toFixed(1)} s on ${results.backend.name})`,
  );
}

async function main(argv: string[]): Promise<number> {
  const options = parseExperimentArgs(argv);
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const backend = await useBackend(options.backend);
  let step;
  try {
    step = resolveStepKind(options.step);
  } catch (error) {
    // An explicit --step this backend cannot run (e.g. fused after 'auto' fell back to wasm).
    throw new UsageError(`--step: ${(error as Error).message}`);
  }
  const { models, source } = options;
  console.error(
    `backend: ${backend.name} (${backend.device}); step: ${step}; source: ${source}; models: ${models.join(', ')}`,
  );
  const { out, backend: _backend, ...settings } = options;
  const { bar, ...hooks } = progressHooks(options);
  const results = await runExperiment({ ...settings, epsilon: GUIDE_EPSILON, step }, backend.name, {
    ...hooks,
    signal: stopOnSignals(),
  }).finally(() => bar.stop());
  await writeResults(results, out);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ExperimentStopped) {
      const signal = (stopSignal?.reason as NodeJS.Signals | undefined) ?? 'SIGINT';
      console.error('error: interrupted; no results written');
      process.exit(128 + constants.signals[signal]);
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`error: ${message.split('\n')[0]}`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
