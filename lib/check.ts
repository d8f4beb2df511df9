/**
 * Regression checks and the run schedule: how a notebook reports the numbers CI compares with the book.
 *
 * `d2l.check('test_acc', acc)` shows a small marker output and hands `acc` back unchanged, so it can wrap an
 * expression anywhere. The marker is a display_data output with the bundle
 *
 *     { "application/vnd.d2l.check+json": { "name": "test_acc", "value": 0.8312 },
 *       "text/plain": "check test_acc = 0.8312" }
 *
 * (`value` is a JSON number, or "NaN" / "Infinity" / "-Infinity", which JSON cannot hold). Jupyter shows the
 * text; `runner/golden.ts` (`npx d2l-ts check-golden`) finds the JSON in the executed notebook and compares it with the band
 * in `tests/golden/<notebook>.json`, for notebooks run by `npm run lessons` and by `jupyter nbconvert --execute`
 * alike. Outside a kernel (plain Node, tests) the text line goes to console.log instead.
 *
 * The schedule: `npm run lessons -- --schedule short` (and `npm test`) set `D2L_SCHEDULE=short` in the kernel's
 * environment; training helpers ask {@link numEpochs} so a short run trains fewer epochs. Golden files give
 * short runs their own bands. Jupyter and nbconvert run the full schedule.
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs';
import { CHECK_MIME } from '../common/mime';
import { ArgumentError } from './args';

/** The mime type of check markers. */
export { CHECK_MIME };

/** The JSON payload of a check marker. */
export interface CheckMarker {
  name: string;
  value: number | 'NaN' | 'Infinity' | '-Infinity';
}

/** Options of {@link check}. */
export interface CheckOptions {
  /** Significant digits in the text line (default 4); the JSON value keeps full precision. */
  digits?: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The text of a checked value: `0.8312`, `190`, `5.1e-5`. */
export function formatCheckValue(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const p = Number(value.toPrecision(digits));
  return (p !== 0 && (Math.abs(p) < 1e-3 || Math.abs(p) >= 1e6) ? p.toExponential() : String(p)).replace('e+', 'e');
}

/** A number from a number or a one-element tensor (any dtype). */
function toNumber(name: string, value: number | Tensor): number {
  if (typeof value === 'number') return value;
  const t = value as any;
  if (t && typeof t.dataSync === 'function' && typeof t.size === 'number') {
    if (t.size !== 1) throw new ArgumentError(`check('${name}'): expected a number or a one-element tensor, got a tensor of shape [${t.shape}]`);
    return Number(t.dataSync()[0]);
  }
  throw new ArgumentError(`check('${name}'): expected a number or a one-element tensor, got ${typeof value}`);
}

/** The mime bundle of a check marker (what {@link check} displays). */
export function checkBundle(name: string, value: number, opts: CheckOptions = {}): Record<string, unknown> {
  const marker: CheckMarker = { name, value: Number.isFinite(value) ? value : (String(value) as CheckMarker['value']) };
  return { [CHECK_MIME]: marker, 'text/plain': `check ${name} = ${formatCheckValue(value, opts.digits)}` };
}

/**
 * Reports a number that CI checks against its band in `tests/golden/<notebook>.json` (see the module docs),
 * and returns `value` unchanged.
 * @param name the key in the golden file's `checks`: letters, digits, `_`, `.`, `-`, not starting with a digit
 * @param value a number or a one-element tensor (read with dataSync; the tensor is not disposed)
 * @example d2l.check('test_acc', evaluateAccuracy(net, testIter))
 * @example d2l.check('A_sum', A.sum())   // still shows tensor(190.) when it ends the cell
 */
export function check<T extends number | Tensor>(name: string, value: T, opts: CheckOptions = {}): T {
  if (typeof name !== 'string' || !NAME.test(name)) throw new ArgumentError(`check: invalid name ${JSON.stringify(name)} (letters, digits, _ . -)`);
  const bundle = checkBundle(name, toNumber(name, value), opts);
  const display = (globalThis as any).display;
  if (typeof display === 'function') display({ [Symbol.for('jupyter.mimebundle')]: () => bundle });
  else console.log(bundle['text/plain']);
  return value;
}

/** The run schedule: `short` when `D2L_SCHEDULE=short` (set by `npm run lessons -- --schedule short`), else `full`. */
export function runSchedule(): 'full' | 'short' {
  return (process.env.D2L_SCHEDULE ?? '').trim().toLowerCase() === 'short' ? 'short' : 'full';
}

/**
 * The number of epochs to train: `full` normally, `short` (default: a fifth of `full`, at least 1) under the
 * short schedule. Training helpers call this so notebooks keep the book's numbers in their code.
 * @example const numEpochs = d2l.numEpochs(10);   // 10, or 2 with --schedule short
 */
export function numEpochs(full: number, short?: number): number {
  if (runSchedule() !== 'short') return full;
  return short ?? Math.max(1, Math.round(full / 5));
}
