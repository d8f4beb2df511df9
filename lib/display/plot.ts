/**
 * Line plots (lecture 06 `plot`, `set_figsize`; used in 08, 10): d2l's matplotlib helpers on plotly.js.
 *
 * `d2l.plot(x, [f(x), g(x)], {xlabel: 'x', legend: ['f', 'g']})` returns a {@link Figure}, which shows
 * itself when it ends a cell (or `display(fig)` mid-cell). Its mime bundle has
 *
 * - `application/vnd.plotly.v1+json` — `{data, layout, config}`, drawn natively by JupyterLab with the
 *   `jupyterlab-plotly` renderer (pip `plotly`), Notebook 7 with it, and VS Code's Jupyter renderers;
 * - `text/html` — a `<div>` and a script calling `Plotly.newPlot`, for front ends without the renderer
 *   (JupyterLab/Notebook 7 without it, classic Notebook, `jupyter nbconvert --to html`, reports). plotly.js
 *   comes from node_modules/plotly.js-dist-min, never from a CDN: see {@link setPlotlyInline} for how it
 *   is inlined once per kernel process;
 * - `text/plain` — one line: `Figure(420x300 px): 2 traces [f, g]; x linear, y log`.
 *
 * Sizes follow d2l: `figsize` in inches (default 3.5 x 2.5, {@link setFigsize}), 120 px per inch.
 * @module
 */
import { plotlyScriptTag } from '../../common/plotly';
import { isTensorLike as isAnyTensor, type TensorLike as AnyTensor } from '../../common/tensor-format';
import { DisplayContent, MIMEBUNDLE } from './output';
import { ArgumentError } from '../args';

export { plotlyScriptTag };

/** Axis scale (matplotlib's `xscale`/`yscale`). */
export type Scale = 'linear' | 'log';

/** d2l's `set_axes` arguments. */
export interface AxesOptions {
  xlabel?: string;
  ylabel?: string;
  /** Names of the first series, in order (the rest stay out of the legend, as in matplotlib). */
  legend?: string[];
  /** Axis limits in data units (also on log axes). */
  xlim?: [number, number];
  ylim?: [number, number];
  xscale?: Scale;
  yscale?: Scale;
}

/** Options of {@link plot}. */
export interface PlotOptions extends AxesOptions {
  /**
   * matplotlib format strings, one per series, cycled: `[marker][line][color]` as in `'-'`, `'m--'`, `'g-.'`,
   * `'r:'`, `'o'`, `'b.'`. Default d2l's `['-', 'm--', 'g-.', 'r:']`.
   */
  fmts?: string | string[];
  /** Width and height in inches (default: {@link setFigsize}'s, initially [3.5, 2.5]). */
  figsize?: [number, number];
}

/** A numeric tfjs tensor, duck-typed (a cell may hold tensors of another tfjs copy than the lib's). */
export type TensorLike = Omit<AnyTensor, 'dataSync'> & { dataSync(): ArrayLike<number>; arraySync(): unknown };

/** True for tfjs tensors of any copy (common/tensor-format's test). */
export const isTensorLike = (v: unknown): v is TensorLike => isAnyTensor(v);

/** One series: numbers, a typed array or a 1-D tensor. */
export type Series = ArrayLike<number | null> | TensorLike;
/** One series, several (an array of them), or a 2-D tensor whose rows are series. */
export type SeriesInput = Series | Series[];

/** Screen pixels per figsize inch. */
export const PX_PER_INCH = 120;
/** d2l's default format strings. */
export const DEFAULT_FMTS = ['-', 'm--', 'g-.', 'r:'];

let defaultFigsize: [number, number] = [3.5, 2.5];

/** Lecture 06 `set_figsize`: the size of later figures that do not pass `figsize`, in inches. */
export function setFigsize(figsize: [number, number] = [3.5, 2.5]): void {
  checkPair('setFigsize', 'figsize', figsize, (v) => v > 0);
  defaultFigsize = [figsize[0], figsize[1]];
}

// ---- plotly.js in the text/html fallback ---------------------------------------------------------------------

/** How the text/html fallback gets plotly.js: see {@link setPlotlyInline}. */
export type PlotlyInline = 'once' | 'each' | 'never';
let inlineMode: PlotlyInline = 'once';
/** The figure (or animator) whose latest output carries plotly.js, in 'once' mode. */
let inlineOwner: object | null = null;

/**
 * How figures' text/html gets plotly.js (4.8 MB, from node_modules/plotly.js-dist-min; never a CDN).
 *
 * - `'once'` (default): the first figure a kernel process shows carries plotly.js in a `<script>` guarded by
 *   `if (!window.Plotly)`; later figures only call `Plotly.newPlot`. A notebook stays one copy heavier, not one
 *   per figure. Outputs are not always rendered in order or at all (a page whose first figure sits further
 *   down, JupyterLab rendering outputs as they arrive, an output updated in place), so every figure's script
 *   waits for `window.Plotly` (polling for up to 60 s) and says what is missing if it never comes.
 *   An Animator's live states are transient (each replaces the last), so they never count as the carrier:
 *   its first live state always carries plotly.js (lib/display/animator.ts says why), later ones never, and its
 *   final state (`finish()`) is a figure like any other; an Animator never finished leaves the role to the
 *   next figure. Limitation: re-running the first figure's cell in the same kernel makes an output without
 *   plotly.js, so a notebook saved from such a session renders its html fallback only after Restart & Run
 *   All (JupyterLab and VS Code draw the plotly JSON and never need it).
 * - `'each'`: every figure carries plotly.js (self-contained outputs, 4.8 MB each).
 * - `'never'`: no figure does: the page must provide `window.Plotly` itself.
 */
export function setPlotlyInline(mode: PlotlyInline): void {
  if (!['once', 'each', 'never'].includes(mode)) throw new ArgumentError(`setPlotlyInline: expected 'once', 'each' or 'never', got ${JSON.stringify(mode)}`);
  inlineMode = mode;
  inlineOwner = null;
}

/** The current {@link setPlotlyInline} mode. */
export function plotlyInlineMode(): PlotlyInline {
  return inlineMode;
}

/** Whether `owner`'s output should carry plotly.js now; in 'once' mode the first asker becomes the carrier. */
export function claimPlotlyInline(owner: object): boolean {
  if (inlineMode !== 'once') return inlineMode === 'each';
  if (inlineOwner === null) inlineOwner = owner;
  return inlineOwner === owner;
}

/** Forgets which output carries plotly.js (tests; a fresh kernel process starts this way). */
export function resetPlotlyInline(): void {
  inlineOwner = null;
}

// ---- figures -------------------------------------------------------------------------------------------------

/** A plotly trace as this module writes it. */
export interface Trace {
  type: 'scatter';
  mode: 'lines' | 'markers' | 'lines+markers';
  x: (number | null)[];
  y: (number | null)[];
  name?: string;
  showlegend: boolean;
  line?: { color: string; dash: string; width: number };
  marker?: { color: string; symbol: string; size: number };
}

/** The plotly figure JSON: `{data, layout, config}`. */
export interface FigureSpec {
  data: Trace[];
  layout: Record<string, any>;
  config: Record<string, unknown>;
}

let figureCounter = 0;
const PAGE_PREFIX = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** A plotly figure that shows itself in Jupyter (see the module docs for its mime bundle). */
export class Figure {
  constructor(readonly spec: FigureSpec) {}

  /** The plotly JSON. */
  toJSON(): FigureSpec {
    return this.spec;
  }

  /** One line: size, traces, scales. */
  toString(): string {
    const { data, layout } = this.spec;
    const names = data.some((t) => t.name !== undefined) ? data.map((t, i) => t.name ?? `#${i}`) : [];
    const list = names.length ? ` [${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}]` : '';
    return `Figure(${layout.width}x${layout.height} px): ${data.length} trace${data.length === 1 ? '' : 's'}${list}; ` +
      `x ${layout.xaxis.type}, y ${layout.yaxis.type}`;
  }

  /** The mime bundle, with plotly.js inlined in the text/html when `inlinePlotly`. */
  bundle(inlinePlotly: boolean): DisplayContent {
    return {
      'application/vnd.plotly.v1+json': this.spec,
      'text/html': figureHtml(this.spec, inlinePlotly, this.toString()),
      'text/plain': this.toString(),
    };
  }

  [MIMEBUNDLE](): DisplayContent {
    return this.bundle(claimPlotlyInline(this));
  }
}

/**
 * The text/html fallback: a sized div, plotly.js when asked, and a script that draws once plotly is there.
 * Until then (or where scripts do not run: an untrusted notebook) the div shows `placeholder` text.
 */
export function figureHtml(spec: FigureSpec, inlinePlotly: boolean, placeholder = ''): string {
  const id = `d2l-plot-${PAGE_PREFIX}-${++figureCounter}`;
  const json = JSON.stringify(spec).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const { width, height } = spec.layout;
  const text = placeholder.replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]!);
  return `<div id="${id}" class="d2l-plot" style="width:${width}px;height:${height}px">` +
    (text ? `<pre style="margin:0;padding:8px;color:#777;font-size:11px;white-space:pre-wrap">${text}</pre>` : '') + `</div>\n` +
    (inlinePlotly ? plotlyScriptTag() + '\n' : '') +
    `<script>(function () {\n` +
    `  var fig = ${json};\n` +
    `  var el = document.getElementById('${id}') || (document.currentScript && document.currentScript.parentNode &&\n` +
    `    document.currentScript.parentNode.querySelector('#${id}'));\n` +
    `  var t0 = Date.now();\n` +
    `  function draw() {\n` +
    `    el = el || document.getElementById('${id}');\n` +
    `    var ready = el && el.isConnected && window.Plotly && window.Plotly.newPlot;\n` +
    `    if (ready) { el.textContent = ''; window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); return; }\n` +
    `    var waited = Date.now() - t0;\n` +
    `    if (waited < 60000) { setTimeout(draw, waited < 2000 ? 20 : 200); return; }\n` +
    `    if (el) el.textContent = 'plotly.js is not loaded: d2l-ts inlines it in the first figure of a kernel session; ' +\n` +
    `      'run all cells again (Restart & Run All), or draw with the plotly renderer (pip install plotly).';\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>`;
}

// ---- fmts ----------------------------------------------------------------------------------------------------

/** matplotlib's one-letter colours, and its default colour cycle (tab10, which is also plotly's). */
const COLORS: Record<string, string> = {
  b: '#0000ff', g: '#008000', r: '#ff0000', c: '#00bfbf', m: '#bf00bf', y: '#bfbf00', k: '#000000', w: '#ffffff',
};
const CYCLE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const DASHES: [string, string][] = [['--', 'dash'], ['-.', 'dashdot'], [':', 'dot'], ['-', 'solid']];
const MARKERS: Record<string, [string, number]> = {
  '.': ['circle', 4], o: ['circle', 7], v: ['triangle-down', 7], '^': ['triangle-up', 7], '<': ['triangle-left', 7],
  '>': ['triangle-right', 7], s: ['square', 7], '*': ['star', 9], '+': ['cross', 7], x: ['x', 7], D: ['diamond', 7],
  d: ['diamond', 6], p: ['pentagon', 7], h: ['hexagon', 7],
};

/** A parsed matplotlib format string. */
export interface Fmt {
  color?: string;
  dash?: string;
  marker?: [symbol: string, size: number];
}

/** Parses a matplotlib format string (`'m--'`, `'g-.'`, `'r:'`, `'o'`, `'C1-'`). */
export function parseFmt(fmt: string): Fmt {
  const out: Fmt = {};
  let rest = fmt;
  const fail = (why: string) => new ArgumentError(`fmts: cannot read ${JSON.stringify(fmt)}: ${why} (expected [marker][line][color], e.g. '-', 'm--', 'g-.', 'r:', 'bo')`);
  while (rest.length) {
    const dash = DASHES.find(([s]) => rest.startsWith(s));
    const cycle = /^C(\d)/.exec(rest);
    if (dash) {
      if (out.dash) throw fail('two line styles');
      out.dash = dash[1];
      rest = rest.slice(dash[0].length);
    } else if (cycle) {
      if (out.color) throw fail('two colours');
      out.color = CYCLE[Number(cycle[1])];
      rest = rest.slice(2);
    } else if (COLORS[rest[0]]) {
      if (out.color) throw fail('two colours');
      out.color = COLORS[rest[0]];
      rest = rest.slice(1);
    } else if (MARKERS[rest[0]]) {
      if (out.marker) throw fail('two markers');
      out.marker = MARKERS[rest[0]];
      rest = rest.slice(1);
    } else {
      throw fail(`unknown ${JSON.stringify(rest[0])}`);
    }
  }
  return out;
}

// ---- series --------------------------------------------------------------------------------------------------

function isNumberish(v: unknown): boolean {
  return v === null || v === undefined || typeof v === 'number';
}

/** Float32 tensor values printed with 7 significant digits: the JSON stays small, the plot the same. */
function short(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(7)) : v;
}

function one(v: unknown, what: string): (number | null)[] {
  if (isTensorLike(v)) {
    if (v.shape.length > 1 && v.shape.slice(1).some((d) => d !== 1)) {
      throw new ArgumentError(`${what}: expected a 1-D tensor, got shape [${v.shape.join(', ')}]`);
    }
    return Array.from(v.dataSync(), short);
  }
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const a = Array.from(v as ArrayLike<unknown>);
    const bad = a.findIndex((x) => !isNumberish(x));
    if (bad >= 0) throw new ArgumentError(`${what}: expected numbers, got ${typeof a[bad]} at index ${bad}`);
    return a.map((x) => (x === undefined || x === null ? null : (x as number)));
  }
  throw new ArgumentError(`${what}: expected an array of numbers or a 1-D tensor, got ${v === null ? 'null' : typeof v}`);
}

/**
 * Normalises d2l's X/Y arguments to a list of series: a 1-D tensor or a number array is one series; a 2-D
 * tensor is one series per row; an array of arrays/tensors is one series each.
 */
export function toSeriesList(v: unknown, what = 'plot'): (number | null)[][] {
  if (isTensorLike(v)) {
    // A column [n, 1] (labels, say) is one series; other 2-D tensors are one series per row.
    if (v.shape.length === 2 && v.shape[1] !== 1) return (v.arraySync() as number[][]).map((row) => row.map(short));
    if (v.shape.length > 2) throw new ArgumentError(`${what}: expected a 1-D or 2-D tensor, got shape [${v.shape.join(', ')}]`);
    return [one(v, what)];
  }
  if (ArrayBuffer.isView(v)) return [one(v, what)];
  if (Array.isArray(v)) {
    if (v.every(isNumberish)) return [one(v, what)];
    return v.map((s, i) => one(s, `${what} series ${i}`));
  }
  throw new ArgumentError(`${what}: expected an array, a list of arrays or a tensor, got ${v === null ? 'null' : typeof v}`);
}

function checkPair(fn: string, name: string, v: unknown, ok: (x: number) => boolean = Number.isFinite): void {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && ok(x))) {
    throw new ArgumentError(`${fn}: expected ${name} to be [number, number], got ${JSON.stringify(v)}`);
  }
}

function checkScale(fn: string, name: string, v: unknown): Scale {
  if (v === undefined) return 'linear';
  if (v !== 'linear' && v !== 'log') throw new ArgumentError(`${fn}: expected ${name} to be 'linear' or 'log', got ${JSON.stringify(v)}`);
  return v;
}

// ---- layout --------------------------------------------------------------------------------------------------

function axis(title: string | undefined, type: Scale, lim: [number, number] | undefined, fn: string, name: string) {
  if (lim !== undefined) {
    checkPair(fn, name, lim);
    if (type === 'log' && !(lim[0] > 0 && lim[1] > 0)) throw new ArgumentError(`${fn}: expected ${name} to be positive on a log axis, got ${JSON.stringify(lim)}`);
  }
  return {
    type,
    title: title ? { text: title, standoff: 6 } : undefined,
    // plotly wants log-axis ranges as powers of ten; d2l gives data units.
    range: lim ? (type === 'log' ? lim.map(Math.log10) : [...lim]) : undefined,
    autorange: lim ? false : true,
    showgrid: true, gridcolor: '#e5e5e5', zeroline: false,
    showline: true, linecolor: '#444', linewidth: 1, mirror: true, ticks: 'outside', ticklen: 4,
    exponentformat: type === 'log' ? 'power' : 'B',
  };
}

/**
 * matplotlib's `loc='best'` in small: the corner (upper right, upper left, lower left, lower right) with the
 * fewest points, in axis coordinates.
 */
function legendCorner(traces: Trace[], xlim?: [number, number], ylim?: [number, number], xlog = false, ylog = false) {
  const tx = (v: number) => (xlog ? Math.log10(v) : v);
  const ty = (v: number) => (ylog ? Math.log10(v) : v);
  const xs: number[] = [], ys: number[] = [];
  for (const t of traces) {
    t.x.forEach((x, i) => {
      const y = t.y[i];
      if (x !== null && y !== null && Number.isFinite(tx(x)) && Number.isFinite(ty(y))) { xs.push(tx(x)); ys.push(ty(y)); }
    });
  }
  const range = (v: number[], lim?: [number, number], f = (u: number) => u) => {
    if (lim) return [f(lim[0]), f(lim[1])];
    let lo = Infinity, hi = -Infinity;
    for (const u of v) { if (u < lo) lo = u; if (u > hi) hi = u; }
    return lo < hi ? [lo, hi] : [lo - 1, lo + 1];
  };
  const [x0, x1] = range(xs, xlim, tx), [y0, y1] = range(ys, ylim, ty);
  const corners = [
    { x: 0.99, y: 0.99, xanchor: 'right', yanchor: 'top', fx: [0.55, 1], fy: [0.6, 1] },
    { x: 0.01, y: 0.99, xanchor: 'left', yanchor: 'top', fx: [0, 0.45], fy: [0.6, 1] },
    { x: 0.01, y: 0.01, xanchor: 'left', yanchor: 'bottom', fx: [0, 0.45], fy: [0, 0.4] },
    { x: 0.99, y: 0.01, xanchor: 'right', yanchor: 'bottom', fx: [0.55, 1], fy: [0, 0.4] },
  ];
  let best = corners[0], fewest = Infinity;
  for (const c of corners) {
    let n = 0;
    for (let i = 0; i < xs.length; i++) {
      const u = (xs[i] - x0) / (x1 - x0), v = (ys[i] - y0) / (y1 - y0);
      if (u >= c.fx[0] && u <= c.fx[1] && v >= c.fy[0] && v <= c.fy[1]) n++;
    }
    if (n < fewest) { fewest = n; best = c; }
  }
  return { x: best.x, y: best.y, xanchor: best.xanchor, yanchor: best.yanchor };
}

/**
 * Builds the figure for series xs[i] / ys[i] (already paired): traces styled by `fmts`, axes by d2l's
 * `set_axes` arguments. {@link plot} and the Animator use it.
 */
export function makeFigure(xs: (number | null)[][], ys: (number | null)[][], opts: PlotOptions = {}, fn = 'plot'): Figure {
  const fmts = opts.fmts === undefined ? DEFAULT_FMTS : typeof opts.fmts === 'string' ? [opts.fmts] : opts.fmts;
  if (!Array.isArray(fmts) || !fmts.length || !fmts.every((f) => typeof f === 'string')) {
    throw new ArgumentError(`${fn}: expected fmts to be a string or a non-empty array of strings, got ${JSON.stringify(opts.fmts)}`);
  }
  const legend = opts.legend ?? [];
  if (!Array.isArray(legend)) throw new ArgumentError(`${fn}: expected legend to be an array of strings, got ${JSON.stringify(legend)}`);
  const figsize = opts.figsize ?? defaultFigsize;
  checkPair(fn, 'figsize', figsize, (v) => v > 0);
  const xscale = checkScale(fn, 'xscale', opts.xscale), yscale = checkScale(fn, 'yscale', opts.yscale);
  const parsed = fmts.map(parseFmt);
  let cycle = 0;
  const data: Trace[] = ys.map((y, i) => {
    const f = parsed[i % parsed.length];
    // Series without a colour take the next colour of the cycle, as matplotlib's do.
    const color = f.color ?? CYCLE[cycle++ % CYCLE.length];
    const lines = f.dash !== undefined || !f.marker;
    const t: Trace = {
      type: 'scatter', mode: lines && f.marker ? 'lines+markers' : lines ? 'lines' : 'markers',
      x: xs[i], y, showlegend: i < legend.length,
    };
    if (i < legend.length) t.name = String(legend[i]);
    if (lines) t.line = { color, dash: f.dash ?? 'solid', width: 1.5 };
    if (f.marker) t.marker = { color, symbol: f.marker[0], size: f.marker[1] };
    return t;
  });
  const layout = {
    width: Math.round(figsize[0] * PX_PER_INCH),
    height: Math.round(figsize[1] * PX_PER_INCH),
    margin: { l: 58, r: 14, t: 12, b: 46 },
    font: { family: 'DejaVu Sans, Arial, sans-serif', size: 11, color: '#222' },
    paper_bgcolor: '#fff', plot_bgcolor: '#fff',
    xaxis: axis(opts.xlabel, xscale, opts.xlim, fn, 'xlim'),
    yaxis: axis(opts.ylabel, yscale, opts.ylim, fn, 'ylim'),
    showlegend: legend.length > 0,
    legend: {
      ...legendCorner(data, opts.xlim, opts.ylim, xscale === 'log', yscale === 'log'),
      bgcolor: 'rgba(255,255,255,0.8)', bordercolor: '#ccc', borderwidth: 1, font: { size: 10 },
    },
  };
  return new Figure({ data, layout, config: { displaylogo: false, responsive: false } });
}

/**
 * Lecture 06 `plot`: one or several line series.
 *
 * - `plot(y)` / `plot([y1, y2])`: series against their index;
 * - `plot(x, y)`, `plot(x, [y1, y2])`: one x shared by every y; `plot([x1, x2], [y1, y2])`: pairwise;
 * - each of X, Y: number arrays, 1-D tensors, arrays of them, or a 2-D tensor (its rows are series; a
 *   column [n, 1] is one series);
 * - options as d2l's keyword arguments; `fmts` cycle when there are more series than formats
 *   (d2l silently drops those series).
 * @example d2l.plot(x, [f(x), x.mul(2).sub(3)], { xlabel: 'x', ylabel: 'f(x)', legend: ['f(x)', 'Tangent line (x=1)'] })
 * @example d2l.plot(x, y, { yscale: 'log', fmts: ['o'] })
 */
export function plot(X: SeriesInput, Y?: SeriesInput | PlotOptions, opts: PlotOptions = {}): Figure {
  // plot(X, {options}): no Y.
  if (Y !== undefined && Y !== null && !Array.isArray(Y) && !ArrayBuffer.isView(Y) && !isTensorLike(Y)) {
    opts = Y as PlotOptions;
    Y = undefined;
  }
  let xs = toSeriesList(X, 'plot: X');
  let ys: (number | null)[][];
  if (Y === undefined || Y === null) {
    ys = xs;
    xs = ys.map((y) => y.map((_, i) => i));
  } else {
    ys = toSeriesList(Y, 'plot: Y');
    if (xs.length === 1 && ys.length > 1) xs = ys.map(() => xs[0]);
    if (xs.length !== ys.length) throw new ArgumentError(`plot: ${xs.length} x series for ${ys.length} y series (give one x, or one per y)`);
  }
  xs.forEach((x, i) => {
    if (x.length !== ys[i].length) throw new ArgumentError(`plot: series ${i} has ${x.length} x values and ${ys[i].length} y values`);
  });
  return makeFigure(xs, ys, opts, 'plot');
}
