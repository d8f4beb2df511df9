/**
 * PyTorch-style display of TensorFlow.js tensors, for the kernel's results and the lib's `console.log(tensor)`.
 *
 * common/ loads no package (the kernel must not load tfjs), so tensors are duck-typed ({@link TensorLike}).
 * The text layout is a port of `torch/_tensor_str.py` (`_Formatter`,
 * `_vector_str`, `_tensor_str_with_formatter`, `get_summarized_data`,
 * `_add_suffixes`) so that notebooks read like the PyTorch edition of d2l.
 * Deliberate differences: the default dtype is float32 (and complex64), so
 * int32, bool and string tensors carry a `dtype=` suffix, spelled without `torch.`.
 */

import { escapeHtml } from './html';

/** The part of a tfjs `Tensor` / `Variable` that formatting needs. */
export interface TensorLike {
  shape: number[];
  dtype: string;
  size: number;
  isDisposed?: boolean;
  dataSync(): ArrayLike<number | string | boolean>;
}

/** Printing options, named and defaulted like `torch.set_printoptions`. */
export interface FormatOptions {
  /** Summarise (show only edge items) when the element count exceeds this. Default 1000. */
  threshold?: number;
  /** Items kept at each end of a summarised dimension. Default 3. */
  edgeItems?: number;
  /** Digits after the point in fixed and scientific notation. Default 4. */
  precision?: number;
  /** Characters per line before rows wrap. Default 80. */
  linewidth?: number;
}

/**
 * True for tfjs `tf.Tensor` and `tf.Variable` (and anything shaped like them).
 * `dataId` and `rank` rule out plain objects that merely have a `shape`.
 */
export function isTensorLike(v: unknown): v is TensorLike {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  return (
    Array.isArray(t.shape) &&
    typeof t.dtype === 'string' &&
    typeof t.dataSync === 'function' &&
    'dataId' in t &&
    typeof t.rank === 'number'
  );
}

/** PyTorch-style text, e.g. `tensor([[0., 1., 2.],\n        [3., 4., 5.]])`. Never throws. */
export function formatTensor(t: TensorLike, opts: FormatOptions = {}): string {
  const view = prepare(t, opts);
  return view ? textOf(view) : disposedText(t);
}

/**
 * An HTML `<table class="d2l-tensor">` for 1-D and 2-D tensors, summarised with
 * `…` cells like the text form. `undefined` for other ranks, empty or disposed tensors.
 */
export function tensorToHtml(t: TensorLike, opts: FormatOptions = {}): string | undefined {
  const view = prepare(t, opts);
  return view && htmlOf(view);
}

/** Jupyter display data: always `text/plain`, plus `text/html` where a table applies. */
export function tensorMimeBundle(t: TensorLike, opts: FormatOptions = {}): Record<string, string> {
  const view = prepare(t, opts);
  if (!view) return { 'text/plain': disposedText(t) };
  const bundle: Record<string, string> = { 'text/plain': textOf(view) };
  const html = htmlOf(view);
  if (html !== undefined) bundle['text/html'] = html;
  return bundle;
}

// ---------------------------------------------------------------------------
// Preparation: read the data once, decide what is shown, build the formatters.

type Scalar = number | string | boolean;

interface Formatter {
  width: number;
  format(v: Scalar): string;
}

interface View {
  shape: number[];
  dtype: string;
  size: number;
  opts: Required<FormatOptions>;
  strides: number[];
  /** Per dimension, the indices shown; `null` marks the elided middle. */
  shown: (number | null)[][];
  /** Formats the element at a flat (row-major) index, padded to the common width. */
  cell(flat: number): string;
  /** Width of one printed element including its `, ` separator (torch's element_length). */
  elementLength: number;
}

const DEFAULTS: Required<FormatOptions> = { threshold: 1000, edgeItems: 3, precision: 4, linewidth: 80 };
const DEFAULT_DTYPES = new Set(['float32', 'complex64']);

function disposedText(t: TensorLike): string {
  return `tensor(<disposed>, shape=[${t.shape.join(', ')}], dtype=${t.dtype})`;
}

/** `undefined` when the tensor is disposed or its data cannot be read. */
function prepare(t: TensorLike, options: FormatOptions): View | undefined {
  let raw: ArrayLike<number | string | boolean>;
  try {
    if (t.isDisposed) return undefined;
    raw = t.dataSync();
  } catch {
    return undefined;
  }
  const opts = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS) as (keyof FormatOptions)[]) {
    if (options[k] !== undefined) opts[k] = options[k]!;
  }
  const shape = [...t.shape];
  const size = shape.reduce((a, b) => a * b, 1);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));

  // torch decides once for the whole tensor, then elides every long dimension.
  const summarize = size > opts.threshold;
  const edge = Math.max(0, Math.floor(opts.edgeItems));
  const shown = shape.map((n) =>
    summarize && n > 2 * edge
      ? [...range(0, edge), null, ...range(n - edge, n)]
      : range(0, n),
  );
  // get_summarized_data: widths are computed over the shown elements only.
  const visible = visibleIndices(shown, strides);

  // tfjs returns complex64 data as interleaved [re, im, re, im, ...].
  const complex = t.dtype === 'complex64' && raw.length === 2 * size;
  let cell: (flat: number) => string;
  let elementLength: number;
  if (complex) {
    const re = (i: number) => Number(raw[2 * i]);
    const im = (i: number) => Number(raw[2 * i + 1]);
    const f1 = makeFormatter(visible.map(re), true, opts.precision);
    const f2 = makeFormatter(visible.map(im), true, opts.precision);
    cell = (i) => {
      const imag = (f2.format(im(i)) + 'j').trimStart();
      return f1.format(re(i)) + (imag[0] === '+' || imag[0] === '-' ? '' : '+') + imag;
    };
    elementLength = f1.width + 2 + f2.width + 1;
  } else {
    const value = (i: number): Scalar => (t.dtype === 'bool' ? Boolean(raw[i]) : raw[i]);
    const f = makeFormatter(visible.map(value), t.dtype === 'float32', opts.precision);
    cell = (i) => f.format(value(i));
    elementLength = f.width + 2;
  }
  return { shape, dtype: t.dtype, size, opts, strides, shown, cell, elementLength };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Flat indices of the cartesian product of the shown indices (elision markers skipped). */
function visibleIndices(shown: (number | null)[][], strides: number[]): number[] {
  let flats = [0];
  shown.forEach((idx, d) => {
    const next: number[] = [];
    for (const base of flats) for (const i of idx) if (i !== null) next.push(base + i * strides[d]);
    flats = next;
  });
  return flats;
}

// ---------------------------------------------------------------------------
// Text layout (torch's _tensor_str_with_formatter / _vector_str / _add_suffixes).

function textOf(v: View): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const suffixes: string[] = [];
  let body: string;
  if (v.size === 0) {
    // Like NumPy, torch spells out the shape unless it is (0,), and always names a
    // non-default dtype since there are no elements to infer it from.
    if (v.shape.length !== 1) suffixes.push(`size=(${v.shape.join(', ')})`);
    if (v.dtype !== 'float32') suffixes.push(`dtype=${v.dtype}`);
    body = '[]';
  } else {
    if (!DEFAULT_DTYPES.has(v.dtype)) suffixes.push(`dtype=${v.dtype}`);
    body = v.shape.length === 0 ? v.cell(0) : block(v, 0, 0, indent);
  }
  return addSuffixes(prefix + body, suffixes, indent, v.opts.linewidth);
}

function block(v: View, dim: number, offset: number, indent: number): string {
  const remaining = v.shape.length - dim;
  const idx = v.shown[dim];
  if (remaining === 1) {
    const perLine = Math.max(1, Math.floor((v.opts.linewidth - indent) / v.elementLength));
    const items = idx.map((i) => (i === null ? ' ...' : v.cell(offset + i * v.strides[dim])));
    const lines: string[] = [];
    for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
    return '[' + lines.join(',\n' + ' '.repeat(indent + 1)) + ']';
  }
  const slices = idx.map((i) =>
    i === null ? '...' : block(v, dim + 1, offset + i * v.strides[dim], indent + 1),
  );
  // Outer dimensions are separated by (rank - 1) newlines, hence blank lines in 3-D.
  return '[' + slices.join(',' + '\n'.repeat(remaining - 1) + ' '.repeat(indent + 1)) + ']';
}

function addSuffixes(text: string, suffixes: string[], indent: number, linewidth: number): string {
  // Mirrors torch exactly, including its off-by-two line length when there is no newline.
  let lastLineLen = text.length - text.lastIndexOf('\n') + 1;
  for (const s of suffixes) {
    if (lastLineLen + s.length + 2 > linewidth) {
      text += ',\n' + ' '.repeat(indent) + s;
      lastLineLen = indent + s.length;
    } else {
      text += ', ' + s;
      lastLineLen += s.length + 2;
    }
  }
  return text + ')';
}

// ---------------------------------------------------------------------------
// HTML table for 1-D and 2-D tensors.

function htmlOf(v: View): string | undefined {
  const rank = v.shape.length;
  if ((rank !== 1 && rank !== 2) || v.size === 0) return undefined;
  const rowsShown = rank === 1 ? [0] : v.shown[0];
  const cols = v.shown[rank - 1];
  const colStride = v.strides[rank - 1];
  const rows = rowsShown.map((r) => {
    const cells = cols.map((c) =>
      r === null || c === null
        ? '<td>…</td>'
        : `<td>${escapeHtml(v.cell((rank === 1 ? 0 : r * v.strides[0]) + c * colStride).trim())}</td>`,
    );
    return `<tr>${cells.join('')}</tr>`;
  });
  const caption = escapeHtml(`shape [${v.shape.join(', ')}] · ${v.dtype}`);
  return `<table class="d2l-tensor"><caption>${caption}</caption><tbody>${rows.join('')}</tbody></table>`;
}

// ---------------------------------------------------------------------------
// torch's _Formatter: one notation and one width for every element of a tensor.

function makeFormatter(values: Scalar[], floating: boolean, precision: number): Formatter {
  if (!floating) {
    let width = 1;
    for (const v of values) width = Math.max(width, scalarStr(v).length);
    return { width, format: (v) => scalarStr(v).padStart(width) };
  }
  let intMode = true;
  let sciMode = false;
  let width = 1;
  // Only nonzero finite values decide the notation and the width.
  const nums = (values as number[]).filter((x) => Number.isFinite(x) && x !== 0);
  if (nums.length > 0) {
    let min = Infinity;
    let max = 0;
    for (const x of nums) {
      min = Math.min(min, Math.abs(x));
      max = Math.max(max, Math.abs(x));
      if (x !== Math.ceil(x)) intMode = false;
    }
    const wide = max / min > 1000 || max > 1e8;
    sciMode = intMode ? wide : wide || min < 1e-4;
    for (const x of nums) width = Math.max(width, formatFloat(x).length);
  }
  function formatFloat(x: number): string {
    if (sciMode) return pyExponential(x, precision);
    // Integer-valued floats print as `2.`; the dot marks the dtype as floating.
    if (intMode) return pyFixed(x, 0) + (Number.isFinite(x) ? '.' : '');
    return pyFixed(x, precision);
  }
  return { width, format: (v) => formatFloat(Number(v)).padStart(width) };
}

/** Python's `'{}'.format` for the non-floating dtypes. */
function scalarStr(v: Scalar): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function nonFinite(x: number): string {
  return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
}

function negative(x: number): boolean {
  return x < 0 || Object.is(x, -0); // Python prints -0.0 as `-0.`
}

/**
 * |x| as an exact decimal `digits / 10^scale`. Every double is one, and working on
 * it lets us round half-to-even like Python; `toFixed` rounds exact ties away from zero.
 */
function exactDecimal(x: number): { digits: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const biased = hi >>> 20;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let exp = -1074; // subnormal
  if (biased !== 0) {
    mantissa |= 1n << 52n;
    exp = biased - 1075;
  }
  if (exp >= 0) return { digits: mantissa << BigInt(exp), scale: 0 };
  return { digits: mantissa * 5n ** BigInt(-exp), scale: -exp }; // m / 2^k = m * 5^k / 10^k
}

/** `n / 10^drop`, rounded half to even (`drop` may be negative: scale up). */
function shiftRound(n: bigint, drop: number): bigint {
  if (drop <= 0) return n * 10n ** BigInt(-drop);
  const d = 10n ** BigInt(drop);
  const q = n / d;
  const twiceRest = (n % d) * 2n;
  return twiceRest > d || (twiceRest === d && q % 2n === 1n) ? q + 1n : q;
}

/** Python's `'{:.Nf}'.format(x)`. */
function pyFixed(x: number, precision: number): string {
  if (!Number.isFinite(x)) return nonFinite(x);
  const { digits, scale } = exactDecimal(x);
  const s = shiftRound(digits, scale - precision).toString().padStart(precision + 1, '0');
  const body = precision > 0 ? `${s.slice(0, -precision)}.${s.slice(-precision)}` : s;
  return (negative(x) ? '-' : '') + body;
}

/** Python's `'{:.Ne}'.format(x)`, e.g. `1.0000e+05`. */
function pyExponential(x: number, precision: number): string {
  if (!Number.isFinite(x)) return nonFinite(x);
  const { digits, scale } = exactDecimal(x);
  let mantissa = 0n;
  let exp = 0;
  if (digits !== 0n) {
    const len = digits.toString().length;
    exp = len - 1 - scale;
    mantissa = shiftRound(digits, len - 1 - precision); // keep precision + 1 significant digits
    if (mantissa.toString().length > precision + 1) {
      mantissa /= 10n; // rounded up to the next power of ten, e.g. 9.99996 -> 1.0000e+01
      exp += 1;
    }
  }
  const m = mantissa.toString().padStart(precision + 1, '0');
  const body = precision > 0 ? `${m[0]}.${m.slice(1)}` : m;
  const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${negative(x) ? '-' : ''}${body}e${e}`;
}
