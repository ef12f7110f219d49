import type { ExperimentResults } from '../train/results.js';
import { comparisonFigures } from './figures.js';
import { escapeHtml, figureHtml, standalonePage } from './html.js';

/** Per-model headline numbers: the ones the guide's comparison is judged on. */
export function summaryRows(results: ExperimentResults): Array<{
  label: string;
  firstTestLoss: number;
  finalTrainAccuracy: number;
  finalTestAccuracy: number;
  seconds: number;
}> {
  return results.models.map((m) => ({
    label: m.label,
    firstTestLoss: m.history[0]?.testLoss ?? Number.NaN,
    finalTrainAccuracy: m.history.at(-1)?.trainAccuracy ?? Number.NaN,
    finalTestAccuracy: m.history.at(-1)?.testAccuracy ?? Number.NaN,
    seconds: m.seconds,
  }));
}

export function experimentReport(results: ExperimentResults): string {
  const c = results.config;
  const rows = summaryRows(results)
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.label)}</td><td>${r.firstTestLoss.toFixed(3)}</td><td>${r.finalTrainAccuracy.toFixed(4)}</td><td>${r.finalTestAccuracy.toFixed(4)}</td><td>${r.seconds.toFixed(1)}</td></tr>`,
    )
    .join('\n');
  const figures = comparisonFigures(results.models, c.stepsPerEpoch)
    .map((figure, i) => figureHtml(figure, `figure-${i + 1}`))
    .join('\n');
  const body = `<h1>Batch normalization: three MLPs on MNIST</h1>
<p>Source <b>${c.source}</b> (${c.trainExamples} training, ${c.testExamples} test examples);
${c.epochs} epochs of ${c.stepsPerEpoch} steps; batch ${c.batchSize}; SGD learning rate ${c.learningRate};
BN decay ${c.decay}, epsilon ${c.epsilon}; seed ${c.seed}.
Backend <b>${escapeHtml(results.backend.name)}</b> (tfjs ${escapeHtml(results.backend.tfjsVersion)}), wall time ${results.wallSeconds.toFixed(1)} s.</p>
<table>
<tr><th>model</th><th>epoch-1 test loss</th><th>final train acc</th><th>final test acc</th><th>seconds</th></tr>
${rows}
</table>
${figures}`;
  return standalonePage('Batch normalization comparison', body);
}
