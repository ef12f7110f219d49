import { randomBytes } from 'node:crypto';
import { liveAxes, lineFigure, METRICS, type Figure, type Metric } from '../report/figures.js';
import { PLACEMENT_COLORS, VARIANT_COLORS } from '../report/style.js';
import { escapeHtml, figureHtml } from '../report/html.js';
import { yieldToEventLoop } from '../runtime/event-loop.js';
import type { EpochRecord, TrainHooks } from '../train/trainer.js';
import { createDisplay, type LiveDisplay } from './kernel-output.js';

/** At most this many redraws a second, so that a fast run does not flood the front end. */
const REDRAWS_PER_SECOND = 3;

export interface WatchOptions {
  /** The runs, in the order they train (model names, settings...). */
  runs: string[];
  /** Steps each run takes (one number for all, or one per run), for the bars and the time left. */
  stepsPerRun: number | number[];
  /** The figures as they stand; called at every redraw with the epochs recorded so far. */
  figures: (histories: ReadonlyMap<string, EpochRecord[]>) => Figure[];
  /** Plain HTML shown under the finished figures, e.g. a table that needs no script. */
  summary?: (histories: ReadonlyMap<string, EpochRecord[]>) => string;
  /** Keep the figures in the finished output (default true); false leaves one summary line. */
  keepFigures?: boolean;
}

/** What a training cell reports into while `watchTraining` runs it. */
export interface TrainingWatch {
  /** Hooks for one `train` call: progress, epoch records, and the interrupt. */
  hooks(run: string, extra?: TrainHooks): TrainHooks;
  /** Progress of a run reported through other hooks (the experiment's). */
  progress(run: string, stepsDone: number): void;
  /** An epoch's record, for a run reported through other hooks. */
  record(run: string, record: EpochRecord): void;
  /** Stops training between steps when the kernel is interrupted. */
  readonly signal: AbortSignal;
}

const RUN_COLORS = [
  PLACEMENT_COLORS.pre,
  VARIANT_COLORS.altered,
  VARIANT_COLORS.other,
  PLACEMENT_COLORS.post,
  PLACEMENT_COLORS.none,
];

/** One metric per epoch, one line per run: the default live figure of a training cell. */
export function runsFigure(
  histories: ReadonlyMap<string, EpochRecord[]>,
  metric: Metric = 'testAccuracy',
  title: string = METRICS[metric].title,
): Figure {
  return liveAxes(
    lineFigure(
      title,
      'epoch',
      METRICS[metric].axis,
      [...histories].map(([name, history], i) => ({
        name,
        x: history.map((r) => r.epoch),
        y: history.map((r) => r[metric]),
        color: RUN_COLORS[i % RUN_COLORS.length],
      })),
      { integerX: true },
    ),
  );
}

/** Raised after an interrupt, once the display shows where training stopped. */
export class TrainingInterrupted extends Error {
  constructor(where: string) {
    super(`training stopped by an interrupt at ${where}; nothing of this run was kept`);
  }
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '...';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function bar(fraction: number, text: string): string {
  const percent = Math.min(100, Math.max(0, 100 * fraction)).toFixed(1);
  return `<div style="display:flex;align-items:center;gap:8px;font-family:monospace;font-size:12px;margin:2px 0">
<div style="flex:0 0 220px;height:10px;background:#e5e5e5;border-radius:3px;overflow:hidden"><div style="width:${percent}%;height:100%;background:#1f77b4"></div></div>
<span>${escapeHtml(text)}</span></div>`;
}

/**
 * Runs a training cell with one live output: progress bars with the time left (for the current
 * run and the whole cell) and the figures, growing epoch by epoch. When training ends the
 * output is the finished figures (what executed notebooks and exports keep). An interrupt
 * (the kernel's stop button) stops training between steps; the figures stay as they stood,
 * with a note saying where, and the cell ends with `TrainingInterrupted`.
 */
export async function watchTraining<T>(
  options: WatchOptions,
  body: (watch: TrainingWatch) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  // Not while the cell's own code is still running synchronously: tslab runs it with
  // breakOnSigint, and a SIGINT listener added then leaves the kernel killed by the next interrupt.
  await yieldToEventLoop();
  process.on('SIGINT', onInterrupt);
  const state = new LiveState(options, createDisplay());
  try {
    const result = await body(state.watch(stop.signal));
    if (stop.signal.aborted) throw new TrainingInterrupted(state.where());
    state.finish();
    return result;
  } catch (error) {
    if (stop.signal.aborted) {
      state.stopped();
      throw error instanceof TrainingInterrupted ? error : new TrainingInterrupted(state.where());
    }
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

class LiveState {
  private readonly histories = new Map<string, EpochRecord[]>();
  private readonly done = new Map<string, number>();
  private current = '';
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly runId = randomBytes(4).toString('hex');
  private draws = 0;

  constructor(
    private readonly options: WatchOptions,
    private readonly display: LiveDisplay,
  ) {
    for (const run of options.runs) this.histories.set(run, []);
    this.draw(true);
  }

  watch(signal: AbortSignal): TrainingWatch {
    return {
      signal,
      progress: (run, stepsDone) => this.progress(run, stepsDone),
      record: (run, record) => this.record(run, record),
      hooks: (run, extra = {}) => ({
        ...extra,
        signal,
        onStep: (step, total, network) => {
          this.progress(run, step);
          extra.onStep?.(step, total, network);
        },
        onEpoch: (record, network) => {
          this.record(run, record);
          extra.onEpoch?.(record, network);
        },
      }),
    };
  }

  private progress(run: string, stepsDone: number): void {
    this.current = run;
    this.done.set(run, stepsDone);
    this.draw();
  }

  private record(run: string, record: EpochRecord): void {
    this.current = run;
    this.histories.get(run)?.push(record) ?? this.histories.set(run, [record]);
    this.draw();
  }

  /** Where training is: the run and its last finished epoch. */
  where(): string {
    const epochs = this.histories.get(this.current)?.length ?? 0;
    return this.current ? `epoch ${epochs} of '${this.current}'` : 'the start';
  }

  private figures(): string {
    const id = `bn-live-${this.runId}-${this.draws}`;
    const figures = this.options.figures(this.histories);
    return `<div style="display:flex;flex-wrap:wrap;gap:8px">${figures
      .map(
        (f, i) =>
          `<div style="flex:1 1 440px;min-width:360px">${figureHtml(f, `${id}-${i}`)}</div>`,
      )
      .join('\n')}</div>`;
  }

  private status(): { html: string; text: string } {
    const { runs } = this.options;
    const stepsOf = (i: number) =>
      Array.isArray(this.options.stepsPerRun)
        ? (this.options.stepsPerRun[i] ?? 0)
        : this.options.stepsPerRun;
    const total = runs.reduce((sum, _, i) => sum + stepsOf(i), 0);
    const doneAll = [...this.done.values()].reduce((a, b) => a + b, 0);
    const elapsed = (performance.now() - this.started) / 1000;
    const left = doneAll > 0 ? (elapsed * (total - doneAll)) / doneAll : Number.NaN;
    const runIndex = runs.indexOf(this.current);
    const stepsPerRun = stepsOf(runIndex);
    const runDone = this.done.get(this.current) ?? 0;
    const epochs = this.histories.get(this.current)?.length ?? 0;
    const runLeft = doneAll > 0 ? (elapsed / doneAll) * (stepsPerRun - runDone) : Number.NaN;
    const runText = this.current
      ? `${this.current} (${runIndex + 1}/${runs.length}): epoch ${epochs} done, step ${runDone}/${stepsPerRun}, ETA ${duration(runLeft)}`
      : 'starting';
    const allText = `all ${runs.length} runs: ${((100 * doneAll) / total).toFixed(0)}%, elapsed ${duration(elapsed)}, ETA ${duration(left)}`;
    return {
      html:
        bar(stepsPerRun > 0 ? runDone / stepsPerRun : 0, runText) +
        bar(total > 0 ? doneAll / total : 0, allText),
      text: `training: ${runText}; ${allText}`,
    };
  }

  private draw(force = false): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < 1000 / REDRAWS_PER_SECOND) return;
    this.lastDraw = now;
    this.draws++;
    const { html, text } = this.status();
    this.display.update({
      'text/html': `<div class="bn-live">${html}${this.figures()}</div>`,
      'text/plain': text,
    });
  }

  finish(): void {
    const seconds = (performance.now() - this.started) / 1000;
    const line = `trained ${this.options.runs.length} run${this.options.runs.length > 1 ? 's' : ''} in ${duration(seconds)}`;
    const keep = this.options.keepFigures ?? true;
    const summary = this.options.summary?.(this.histories) ?? '';
    this.draws++;
    this.display.update({
      'text/html': `<div class="bn-live"><div style="font-family:monospace;font-size:12px;color:#555">${escapeHtml(line)}</div>${keep ? this.figures() : ''}${summary}</div>`,
      'text/plain': line,
    });
  }

  stopped(): void {
    const note = `stopped at ${this.where()} by an interrupt; the figures show the epochs done`;
    this.draws++;
    this.display.update({
      'text/html': `<div class="bn-live"><div style="font-family:monospace;font-size:12px;color:#cf222e">${escapeHtml(note)}</div>${this.figures()}</div>`,
      'text/plain': note,
    });
  }
}
