// The playground page: controls, live curves and results around `runPlayground`. Everything
// that trains comes from src/ (the same trainer, model and batch norm as the notebooks); this
// file only wires the DOM.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { disposeDeviceSplit, toDevice, type TrainTest } from '../data/device-split.js';
import { PLACEMENTS, PLACEMENT_LABELS, type Placement } from '../nn/layers.js';
import { modelLabel, normalizationKinds, normalizationLabel } from '../nn/normalizations.js';
import { liveAxes, metricFigure } from '../report/figures.js';
import type { Split } from '../data/mnist-format.js';
import { escapeHtml } from '../report/html-escape.js';
import { resultsTableHtml } from '../report/results-table.js';
import { deployedAccuracy, loadDeployedModel } from './deployed-model.js';
import { decodeDigits, type EmbeddedDigits } from './digits.js';
import { runPlayground, stepsPerEpochFor, type PlaygroundRun } from './run.js';
import {
  DEFAULT_SETTINGS,
  EXPLANATIONS,
  LIMITS,
  settingsProblem,
  type PlaygroundSettings,
} from './settings.js';

declare global {
  interface Window {
    Plotly: { react(el: HTMLElement, data: unknown, layout: unknown, config?: unknown): void };
    /** The wasm binaries as data: URLs, written into the page by the build. */
    BN_WASM: Record<string, string>;
    /** What the page is doing, for tests and the curious: read-only. */
    bnPlayground: {
      state: 'loading' | 'idle' | 'running' | 'done' | 'stopped' | 'failed';
      backend?: string;
      runs?: PlaygroundRun[];
      seconds?: number;
      error?: string;
      /** The model loaded from notebook 06's files, tested on the page's test digits. */
      deployed?: { accuracy: number; parameters: number } | { error: string };
    };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The WebGL renderer's name, when the browser reveals it. */
function webglRenderer(): string {
  const gl = document.createElement('canvas').getContext('webgl');
  const info = gl?.getExtension('WEBGL_debug_renderer_info');
  return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
}

/**
 * WebGL when it runs on a GPU, then wasm, then plain JavaScript; `?backend=` forces one.
 * WebGL drawn by a software renderer (SwiftShader, llvmpipe) is slower than wasm, so it is
 * passed over, and the page says why.
 */
async function chooseBackend(): Promise<{ name: string; note: string }> {
  setWasmPaths(window.BN_WASM);
  const forced = new URLSearchParams(location.search).get('backend');
  const renderer = webglRenderer();
  const software = /swiftshader|llvmpipe|software/i.test(renderer);
  const order = forced ? [forced] : software ? ['wasm', 'cpu'] : ['webgl', 'wasm', 'cpu'];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        const note =
          !forced && software
            ? ` (WebGL here is software-rendered by ${renderer.match(/swiftshader|llvmpipe/i)?.[0] ?? 'a software renderer'}, slower than wasm)`
            : '';
        return { name, note };
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `no TensorFlow.js backend could start${forced ? ` (asked for '${forced}')` : ''}`,
  );
}

function readSettings(): PlaygroundSettings {
  const placement = $<HTMLSelectElement>('placement').value;
  return {
    placements: placement === 'all' ? [...PLACEMENTS] : [placement as Placement],
    normalization: $<HTMLSelectElement>('normalization').value,
    decay: Number($<HTMLInputElement>('decay').value),
    batchSize: Number($<HTMLInputElement>('batchSize').value),
    learningRate: Number($<HTMLInputElement>('learningRate').value),
    epochs: Number($<HTMLInputElement>('epochs').value),
    skipMovingAverageUpdate: $<HTMLInputElement>('skipMovingAverageUpdate').checked,
    evaluateInTrainingMode: $<HTMLInputElement>('evaluateInTrainingMode').checked,
  };
}

function explanation(key: keyof PlaygroundSettings): string {
  const { text, notebook, section } = EXPLANATIONS[key];
  // nbconvert gives every heading an id: its text with the spaces made dashes.
  const anchor = encodeURIComponent(section.replace(/ /g, '-'));
  return `<div class="why">${escapeHtml(text)} <a href="${notebook}#${anchor}">${escapeHtml(section)}</a></div>`;
}

function renderControls(): void {
  const d = DEFAULT_SETTINGS;
  const number = (key: 'batchSize' | 'learningRate' | 'epochs', label: string, step: string) =>
    `<label>${label} <input id="${key}" type="number" min="${LIMITS[key].min}" max="${LIMITS[key].max}" step="${step}" value="${d[key]}"></label>${explanation(key)}`;
  $('controls').innerHTML = `
<label>Models <select id="placement">
  <option value="all" selected>all three, side by side</option>
  ${PLACEMENTS.map((p) => `<option value="${p}">${escapeHtml(PLACEMENT_LABELS[p])}</option>`).join('')}
</select></label>${explanation('placements')}
<label>Normalization <select id="normalization">
  ${normalizationKinds()
    .filter((kind) => kind !== 'none')
    .map(
      (kind) =>
        `<option value="${kind}"${kind === d.normalization ? ' selected' : ''}>${escapeHtml(normalizationLabel(kind))}</option>`,
    )
    .join('')}
</select></label>${explanation('normalization')}
<label>Moving-average decay <input id="decay" type="range" min="${LIMITS.decay.min}" max="${LIMITS.decay.max}" step="0.001" value="${d.decay}"> <output id="decayValue">${d.decay}</output></label>${explanation('decay')}
${number('batchSize', 'Batch size', '1')}
${number('learningRate', 'Learning rate', '0.001')}
${number('epochs', 'Epochs', '1')}
<label><input id="skipMovingAverageUpdate" type="checkbox"> Skip the moving-average update</label>${explanation('skipMovingAverageUpdate')}
<label><input id="evaluateInTrainingMode" type="checkbox"> Evaluate in training mode</label>${explanation('evaluateInTrainingMode')}
<div class="buttons"><button id="start">Start</button> <button id="stop" disabled>Stop</button></div>`;
  $<HTMLInputElement>('decay').addEventListener('input', (e) => {
    $('decayValue').textContent = (e.target as HTMLInputElement).value;
  });
}

function draw(
  histories: Map<Placement, PlaygroundRun['history']>,
  settings: PlaygroundSettings,
  stepsPerEpoch: number,
): void {
  const models = [...histories].map(([placement, history]) => ({
    placement,
    history,
    label: modelLabel(placement, settings.normalization),
  }));
  for (const [id, metric] of [
    ['accuracyFigure', 'testAccuracy'],
    ['lossFigure', 'testLoss'],
  ] as const) {
    const figure = liveAxes(metricFigure(models, metric, stepsPerEpoch), settings.epochs);
    const title = (figure.layout['title'] as { text: string }).text;
    const layout = {
      ...figure.layout,
      height: 360,
      legend: { orientation: 'h', y: -0.32 },
      margin: { t: 50, r: 20, b: 100, l: 70 },
      // Evaluated in training mode, the test curves use batch statistics: say so.
      title: {
        text: settings.evaluateInTrainingMode
          ? title.replace('inference mode', 'training mode, as evaluated')
          : title,
      },
    };
    window.Plotly.react($(id), figure.data, layout, { responsive: true, displaylogo: false });
  }
}

type Digits = Awaited<ReturnType<typeof decodeDigits>>;

/** Trains the chosen models with live curves and a status line; the data lives on the backend meanwhile. */
async function trainWithCurves(
  settings: PlaygroundSettings,
  data: Digits,
  signal: AbortSignal,
): Promise<PlaygroundRun[]> {
  const stepsPerEpoch = stepsPerEpochFor(settings, data.train.count);
  const histories = new Map<Placement, PlaygroundRun['history']>(
    settings.placements.map((p) => [p, []]),
  );
  const started = performance.now();
  let lastDraw = 0;
  const device: TrainTest = { train: toDevice(data.train), test: toDevice(data.test) };
  try {
    return await runPlayground(settings, device, {
      signal,
      onStep: (placement, step, total) => {
        const now = performance.now();
        if (now - lastDraw < 200) return;
        lastDraw = now;
        $('status').textContent =
          `${modelLabel(placement, settings.normalization)}: step ${step} of ${total} (${((now - started) / 1000).toFixed(0)} s)`;
      },
      onEpoch: (placement, record) => {
        histories.get(placement)!.push(record);
        draw(histories, settings, stepsPerEpoch);
      },
    });
  } finally {
    disposeDeviceSplit(device.train);
    disposeDeviceSplit(device.test);
  }
}

/** The finished runs: the status line, the table of final accuracies, and the page's state. */
function showResults(runs: PlaygroundRun[], seconds: number, stopped: boolean): void {
  $('status').textContent = stopped
    ? `Stopped after ${seconds.toFixed(1)} s.`
    : `Done in ${seconds.toFixed(1)} s.`;
  $('results').innerHTML = resultsTableHtml(
    runs.map((r) => ({ placement: r.placement, history: r.history, label: r.label })),
    {
      title: 'final test accuracy, inference mode',
      values: Object.fromEntries(runs.map((r) => [r.placement, r.finalTestAccuracy])),
    },
  );
  window.bnPlayground = {
    ...window.bnPlayground,
    state: stopped ? 'stopped' : 'done',
    runs,
    seconds,
  };
}

async function start(data: Digits): Promise<void> {
  const settings = readSettings();
  const problem = settingsProblem(settings);
  if (problem) {
    $('status').textContent = `Cannot start: ${problem}.`;
    return;
  }
  const stop = new AbortController();
  $<HTMLButtonElement>('start').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  $('stop').onclick = () => stop.abort();
  $('results').innerHTML = '';
  window.bnPlayground = { ...window.bnPlayground, state: 'running', runs: undefined };
  const started = performance.now();
  try {
    const runs = await trainWithCurves(settings, data, stop.signal);
    showResults(runs, (performance.now() - started) / 1000, stop.signal.aborted);
  } catch (error) {
    $('status').textContent = `Training failed: ${(error as Error).message}`;
    window.bnPlayground = {
      ...window.bnPlayground,
      state: 'failed',
      error: (error as Error).message,
    };
  } finally {
    $<HTMLButtonElement>('start').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

/** Tests the model the reader picked (notebook 06's deployed files) on the test digits. */
async function testDeployedModel(files: File[], test: Split): Promise<void> {
  const status = $('deployedStatus');
  status.textContent = 'Loading...';
  try {
    const model = await loadDeployedModel(files);
    let accuracy: number;
    const layers = model.layers.length;
    const parameters = model.countParams();
    const device = toDevice(test);
    try {
      accuracy = deployedAccuracy(model, device);
    } finally {
      disposeDeviceSplit(device);
      model.dispose();
    }
    status.textContent =
      `${layers} layers, ${parameters.toLocaleString('en')} weights: ` +
      `test accuracy ${accuracy.toFixed(4)} on the ${test.count} test digits here.`;
    window.bnPlayground.deployed = { accuracy, parameters };
  } catch (error) {
    status.textContent = `Could not load that model: ${(error as Error).message}.`;
    window.bnPlayground.deployed = { error: (error as Error).message };
  }
}

async function main(): Promise<void> {
  window.bnPlayground = { state: 'loading' };
  renderControls();
  try {
    const { name: backend, note } = await chooseBackend();
    $('backend').textContent = backend;
    $('backendNote').textContent = note;
    window.bnPlayground.backend = backend;
    const embedded = JSON.parse($('bn-digits').textContent!) as EmbeddedDigits;
    const data = await decodeDigits(embedded);
    $('status').textContent =
      `Ready: ${data.train.count} training and ${data.test.count} test digits, backend ${backend}.`;
    window.bnPlayground.state = 'idle';
    $('start').onclick = () => void start(data);
    const picker = $<HTMLInputElement>('modelFiles');
    picker.disabled = false;
    picker.onchange = () => void testDeployedModel([...(picker.files ?? [])], data.test);
    if (new URLSearchParams(location.search).has('autostart')) void start(data);
  } catch (error) {
    $('status').textContent = `The playground could not start: ${(error as Error).message}`;
    window.bnPlayground = { state: 'failed', error: (error as Error).message };
  }
}

void main();
