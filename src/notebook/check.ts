import * as tf from '@tensorflow/tfjs';
import { escapeHtml } from '../report/html.js';
import { displayBundle } from './kernel-output.js';

/** The MIME type of a check's structured result, next to its printed line. */
export const CHECK_MIME = 'application/vnd.batchnorm-ts.check+json';

type Numbers = number | ArrayLike<number> | tf.Tensor;

/** What a check compared, and whether it held. */
export interface CheckResult {
  label: string;
  passed: boolean;
  /** 'close': max |actual - expected| <= tolerance; 'bound': min <= actual <= max. */
  kind: 'close' | 'bound';
  /** The measured value (for arrays, the number of values compared is in `count`). */
  actual: number;
  expected?: number;
  tolerance?: number;
  difference?: number;
  min?: number;
  max?: number;
  count: number;
}

function toArray(values: Numbers): ArrayLike<number> {
  if (values instanceof tf.Tensor) return values.dataSync() as ArrayLike<number>;
  return typeof values === 'number' ? [values] : values;
}

const format = (v: number) =>
  v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)
    ? v.toExponential(2)
    : String(+v.toPrecision(4));

/** Shows one line with a check mark or a cross, carrying the result as data; throws on failure. */
function report(result: CheckResult, line: string): CheckResult {
  const mark = result.passed ? '✓' : '✗';
  const color = result.passed ? '#1a7f37' : '#cf222e';
  displayBundle({
    'text/plain': `${mark} ${line}`,
    'text/html': `<div class="bn-check" style="font-family:monospace"><span style="color:${color};font-weight:bold">${mark}</span> ${escapeHtml(line)}</div>`,
    [CHECK_MIME]: JSON.stringify(result),
  });
  if (!result.passed) throw new Error(`check failed: ${line}`);
  return result;
}

/**
 * Karpathy's `cmp` for notebooks: actual and expected (numbers, arrays or tensors of the same
 * size) agree when the largest absolute difference is within the tolerance. Prints the values
 * and the tolerance either way, and throws when they do not agree.
 */
export function check(label: string, actual: Numbers, expected: Numbers, tolerance: number): void {
  const a = toArray(actual);
  const e = toArray(expected);
  if (a.length !== e.length)
    throw new Error(`check '${label}': ${a.length} values against ${e.length} expected`);
  if (a.length === 0) throw new Error(`check '${label}': nothing to compare`);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference = Math.max(difference, Math.abs(a[i]! - e[i]!));
  if (
    Number.isNaN(difference) ||
    [...Array.from(a), ...Array.from(e)].some((v) => !Number.isFinite(v))
  )
    difference = Number.NaN;
  const passed = difference <= tolerance;
  const values = a.length === 1 ? `${format(a[0]!)} vs ${format(e[0]!)}, ` : `${a.length} values, `;
  report(
    {
      label,
      passed,
      kind: 'close',
      actual: a.length === 1 ? a[0]! : difference,
      expected: a.length === 1 ? e[0]! : undefined,
      tolerance,
      difference,
      count: a.length,
    },
    `${label}: ${values}max |difference| ${format(difference)} ${passed ? '≤' : '>'} ${format(tolerance)}`,
  );
}

/** A measured value that must lie within bounds (a claim like "at least 5 points worse"). */
export function checkBetween(
  label: string,
  actual: number,
  bounds: { min?: number; max?: number },
): void {
  const { min = -Infinity, max = Infinity } = bounds;
  const passed = Number.isFinite(actual) && actual >= min && actual <= max;
  const range = [
    Number.isFinite(min) ? `≥ ${format(min)}` : '',
    Number.isFinite(max) ? `≤ ${format(max)}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  report(
    {
      label,
      passed,
      kind: 'bound',
      actual,
      min: Number.isFinite(min) ? min : undefined,
      max: Number.isFinite(max) ? max : undefined,
      count: 1,
    },
    `${label}: ${format(actual)} ${passed ? 'is' : 'is not'} ${range}`,
  );
}
