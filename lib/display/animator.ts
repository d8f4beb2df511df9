/**
 * Lecture 09 `Animator` (used by `train_ch3`, lectures 09–13 and 23): a line plot that grows while a model
 * trains.
 *
 * d2l redraws a matplotlib figure and calls `clear_output(wait=True)` on every `add`. Here the first `add`
 * shows the plot and later ones update that same output in place through its display handle
 * (update_display_data), at most 4 times a second; `finish()` sends the final state at once (a kernel cannot
 * tell when a loop is over), and that state is what a saved notebook keeps. Outside a kernel (tests, CI logs)
 * nothing is drawn and the points are still collected in {@link Animator.data}.
 *
 * Live states are `text/html` (+ `text/plain`) only; the final state is a full {@link Figure} bundle with the
 * plotly JSON. Reason: JupyterLab's plotly renderer (jupyterlab-plotly 7) ignores in-place updates — its
 * `renderModel` returns at once when a graph is already drawn — and JupyterLab keeps the renderer as long as
 * the preferred mime type stays the same. With html live states every update is redrawn, in every front end;
 * the final state switches to the plotly mime type, so JupyterLab makes a new renderer and draws it. Where
 * the front end draws plotly JSON natively, no earlier output ran plotly.js in the page, so the first live
 * state always carries plotly.js (a transient 4.8 MB message: later states replace it and are small).
 * @module
 */
import { DisplayContent, displayable, LiveOutput, MIMEBUNDLE } from './output';
import { claimPlotlyInline, Figure, figureHtml, makeFigure, plotlyInlineMode, PlotOptions, TensorLike } from './plot';
import { ArgumentError } from '../args';

/** Options of {@link Animator}: d2l's keyword arguments. */
export interface AnimatorOptions extends PlotOptions {
  /** Accepted for d2l compatibility; as in d2l, only the first subplot is drawn. */
  nrows?: number;
  ncols?: number;
  /** Shortest time between two updates of the output, in ms (default 250). */
  minIntervalMs?: number;
}

/** A y value: a number, a one-element tensor, or null/undefined to skip that series at this x. */
export type AnimatorValue = number | TensorLike | null | undefined;

function value(v: AnimatorValue, what: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && typeof (v as TensorLike).dataSync === 'function') {
    const d = (v as TensorLike).dataSync();
    if (d.length !== 1) throw new ArgumentError(`Animator.add: expected ${what} to be a number or a one-element tensor, got shape [${(v as TensorLike).shape.join(', ')}]`);
    return d[0];
  }
  throw new ArgumentError(`Animator.add: expected ${what} to be a number, a one-element tensor or null, got ${typeof v}`);
}

/**
 * Incremental multi-line plot (d2l's `Animator`).
 * @example
 * const animator = new d2l.Animator({ xlabel: 'epoch', xlim: [1, numEpochs], ylim: [0.3, 0.9],
 *                                     legend: ['train loss', 'train acc', 'test acc'] })
 * for (let epoch = 0; epoch < numEpochs; epoch++) {
 *   const [trainLoss, trainAcc] = await trainEpoch(...)
 *   animator.add(epoch + 1, [trainLoss, trainAcc, testAcc])
 * }
 * animator.finish()
 */
export class Animator {
  /** x values per series (d2l's `self.X`). */
  readonly X: number[][] = [];
  /** y values per series (d2l's `self.Y`). */
  readonly Y: number[][] = [];
  private readonly live: LiveOutput;

  constructor(readonly options: AnimatorOptions = {}) {
    for (const k of ['nrows', 'ncols'] as const) {
      const n = options[k];
      if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new ArgumentError(`Animator: expected ${k} to be a positive integer, got ${n}`);
    }
    // Fail on bad options now rather than at the first add, deep inside a training loop.
    makeFigure([], [], options, 'Animator');
    this.live = new LiveOutput((final) => this.render(final), { minIntervalMs: options.minIntervalMs });
  }

  /** The points so far, per series: `{ X, Y }` (what the plot shows; also collected outside a kernel). */
  get data(): { X: number[][]; Y: number[][] } {
    return { X: this.X.map((s) => [...s]), Y: this.Y.map((s) => [...s]) };
  }

  /**
   * Adds one point per series: `add(epoch, [loss, acc])`, `add(epoch, loss)`, or an x per series. A null or
   * undefined y (or x) skips that series at this point, as `None` does in d2l.
   */
  add(x: AnimatorValue | AnimatorValue[], y: AnimatorValue | AnimatorValue[]): void {
    const ys = Array.isArray(y) ? y : [y];
    const xs = Array.isArray(x) ? x : ys.map(() => x);
    if (xs.length !== ys.length) throw new ArgumentError(`Animator.add: ${xs.length} x values for ${ys.length} y values`);
    ys.forEach((yi, i) => {
      const a = value(xs[i], `x[${i}]`), b = value(yi, `y[${i}]`);
      while (this.X.length <= i) { this.X.push([]); this.Y.push([]); }
      if (a !== null && b !== null) { this.X[i].push(a); this.Y[i].push(b); }
    });
    this.live.changed();
  }

  /** The figure as it is now. */
  figure(): Figure {
    return makeFigure(this.X, this.Y, this.options, 'Animator');
  }

  /** Sends a pending (throttled) update now. */
  flush(): void {
    this.live.flush();
  }

  /** Sends the final state now: call it when the loop is over (training helpers do). */
  finish(): void {
    this.live.flush({ final: true });
  }

  /** The display id of the live output, once shown (undefined outside a kernel). */
  get displayId(): string | undefined {
    return this.live.displayId;
  }

  /** `animator` at the end of a cell shows the current figure (a new output). */
  [MIMEBUNDLE](): DisplayContent {
    return this.figure()[MIMEBUNDLE]();
  }

  /** A live state: html (+ text) only, plotly.js in the first one; the final state: the whole figure. */
  private render(final: boolean): unknown {
    const fig = this.figure();
    if (final) return displayable(fig.bundle(claimPlotlyInline(this)));
    const first = this.live.displayId === undefined;
    const text = `${fig.toString()}\n${this.latest()}`;
    return displayable({ 'text/html': figureHtml(fig.spec, first && plotlyInlineMode() !== 'never', text), 'text/plain': text });
  }

  /** The last point of each series: `train loss 0.512 (x 3), train acc 0.831 (x 3)`. */
  private latest(): string {
    const names = this.options.legend ?? [];
    const short = (v: number) => +v.toPrecision(4);
    return this.Y.map((y, i) => (y.length ? `${names[i] ?? `#${i}`} ${short(y[y.length - 1])} (x ${short(this.X[i][this.X[i].length - 1])})` : ''))
      .filter(Boolean).join(', ');
  }
}
