/**
 * A progress line for long work (training loops): epoch i/n, batch progress, metrics such as the loss,
 * examples/s, elapsed time and ETA.
 *
 *     train epoch 3/10 [########------------] 94/235  loss 0.512  acc 0.831  4,210 ex/s  0:42 ETA 1:02
 *
 * In a Jupyter kernel it is one output updated in place (display handle, text/plain + text/html with a
 * `<progress>` bar, at most 4 updates a second; `finish()` sends the final line at once). Elsewhere it goes
 * through cli-progress to `stream` (stderr by default): redrawn in place on a terminal, and on a non-TTY
 * (CI logs, piped output) printed as a plain line every `intervalMs` plus the final one — cli-progress's
 * `noTTYOutput` mode. We use cli-progress for the scheduling and terminal handling only; the line itself is
 * ours (its format tokens cannot show epochs and named metrics).
 * @module
 */
import { SingleBar } from 'cli-progress';
import { DisplayContent, displayable, inKernel, LiveOutput, MIMEBUNDLE } from './output';
import type { TensorLike } from './plot';

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Number of epochs (shows `epoch i/n` and gives the ETA). */
  epochs?: number;
  /** Batches per epoch (shows the bar and `b/n`, refines the ETA). */
  batches?: number;
  /** A word in front of the line (`train`). */
  label?: string;
  /** Outside a kernel on a non-TTY: one line every intervalMs (default 5000). */
  intervalMs?: number;
  /** Outside a kernel: where lines go (default process.stderr). */
  stream?: NodeJS.WritableStream;
}

/** Metric values: numbers or one-element tensors; undefined removes a metric from the line. */
export type Metrics = Record<string, number | TensorLike | undefined>;

const BAR = 20;

/** `0:42`, `12:05`, `1:02:03`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

/** A metric as d2l prints them: 3 decimals, or scientific when tiny or huge. */
export function formatMetric(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(3);
}

function positiveInt(name: string, v: unknown): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1)) throw new TypeError(`Progress: ${name} must be a positive integer, got ${v}`);
}

const escapeHtml = (s: string) => s.replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]!);

/**
 * The progress of a training run.
 * @example
 * const progress = new d2l.Progress({ epochs: numEpochs, batches: trainIter.numBatches, label: 'train' })
 * for (let epoch = 0; epoch < numEpochs; epoch++) {
 *   for (const [X, y] of trainIter) { ...; progress.step(X.shape[0], { loss }) }
 *   progress.endEpoch({ 'test acc': testAcc })
 * }
 * progress.finish()
 */
export class Progress {
  /** Current epoch, from 1. */
  epoch = 1;
  /** Batches done in the current epoch. */
  batch = 0;
  /** Examples seen so far. */
  examples = 0;
  /** Batches done in all epochs. */
  batchesDone = 0;
  /** Epochs finished. */
  epochsDone = 0;
  readonly metrics: Record<string, number> = {};
  private readonly start = Date.now();
  private end?: number;
  private readonly live?: LiveOutput;
  private bar?: SingleBar;
  private epochEnded = false;

  constructor(readonly options: ProgressOptions = {}) {
    positiveInt('epochs', options.epochs);
    positiveInt('batches', options.batches);
    if (inKernel()) this.live = new LiveOutput(() => displayable(this.bundle()));
  }

  /** True once {@link finish} was called. */
  get finished(): boolean {
    return this.end !== undefined;
  }

  /** One batch done: `examples` in it, and metrics to show (kept until changed). */
  step(examples = 0, metrics: Metrics = {}): void {
    const { batches } = this.options;
    if (this.epochEnded || (batches !== undefined && this.batch >= batches)) this.newEpoch();
    this.batch++;
    this.batchesDone++;
    this.examples += examples;
    this.set(metrics);
  }

  /** The epoch is over (with its metrics, e.g. test accuracy); the next step starts the next one. */
  endEpoch(metrics: Metrics = {}): void {
    this.epochsDone = Math.max(this.epochsDone, this.epoch);
    this.epochEnded = true;
    this.set(metrics);
  }

  /** Sets metrics without counting a batch. */
  set(metrics: Metrics): void {
    this.assign(metrics);
    this.changed();
  }

  /** Ends the line: sends / prints the final state now. */
  finish(metrics: Metrics = {}): void {
    if (this.finished) return;
    this.assign(metrics);
    this.end = Date.now();
    if (this.live) {
      this.live.changed();
      this.live.flush({ final: true });
    } else if (this.bar) {
      this.bar.update(this.done);
      this.bar.stop();
    } else {
      this.stream.write(this.line + '\n');
    }
  }

  /** Seconds since the start (until finish). */
  get elapsed(): number {
    return ((this.end ?? Date.now()) - this.start) / 1000;
  }

  /** Fraction of the whole run done, when the number of epochs is known. */
  get fraction(): number | undefined {
    const { epochs, batches } = this.options;
    if (!epochs) return undefined;
    if (this.finished) return 1;
    const done = batches && !this.epochEnded ? this.epoch - 1 + Math.min(this.batch, batches) / batches : this.epochsDone;
    return Math.min(1, done / epochs);
  }

  /** The progress line (what is shown). */
  get line(): string {
    const { epochs, batches, label } = this.options;
    const parts: string[] = [];
    if (label) parts.push(label);
    parts.push(`epoch ${this.epoch}${epochs ? `/${epochs}` : ''}`);
    if (batches) {
      const fill = Math.round((Math.min(this.batch, batches) / batches) * BAR);
      parts.push(`[${'#'.repeat(fill)}${'-'.repeat(BAR - fill)}] ${this.batch}/${batches}`);
    } else if (this.batch) {
      parts.push(`batch ${this.batch}`);
    }
    const m = Object.entries(this.metrics).map(([k, v]) => `${k} ${formatMetric(v)}`);
    if (m.length) parts.push(m.join('  '));
    const t = this.elapsed;
    if (this.examples && t > 0) parts.push(`${Math.round(this.examples / t).toLocaleString('en-US')} ex/s`);
    const f = this.fraction;
    if (this.finished) parts.push(`done in ${formatDuration(t)}`);
    else if (f !== undefined && f > 0) parts.push(`${formatDuration(t)} ETA ${formatDuration((t * (1 - f)) / f)}`);
    else parts.push(formatDuration(t));
    return parts.join('  ');
  }

  /** The kernel's bundle: the line as text, and as HTML with a `<progress>` bar. */
  bundle(): Record<string, string> {
    const f = this.fraction;
    const bar = f !== undefined ? `<progress value="${f.toFixed(4)}" max="1" style="width:12em;vertical-align:middle"></progress> ` : '';
    const html = `<div class="d2l-progress" style="font-family:monospace;font-size:12px;white-space:pre-wrap">${bar}${escapeHtml(this.line)}</div>`;
    return { 'text/plain': this.line, 'text/html': html };
  }

  /** `progress` at the end of a cell shows the line as it is now. */
  [MIMEBUNDLE](): DisplayContent {
    return this.bundle();
  }

  private assign(metrics: Metrics): void {
    for (const [k, v] of Object.entries(metrics)) {
      if (v === undefined) delete this.metrics[k];
      else this.metrics[k] = typeof v === 'number' ? v : v.dataSync()[0];
    }
  }

  private get done(): number {
    return this.batchesDone || this.epochsDone;
  }

  private get stream(): NodeJS.WritableStream {
    return this.options.stream ?? process.stderr;
  }

  private newEpoch(): void {
    this.epochsDone = Math.max(this.epochsDone, this.epoch);
    this.epoch++;
    this.batch = 0;
    this.epochEnded = false;
  }

  private changed(): void {
    if (this.finished) return;
    if (this.live) { this.live.changed(); return; }
    if (!this.bar) {
      const tty = (this.stream as { isTTY?: boolean }).isTTY === true;
      this.bar = new SingleBar({
        format: () => this.line,
        stream: this.stream as NodeJS.WritableStream,
        noTTYOutput: true,
        notTTYSchedule: this.options.intervalMs ?? 5000,
        fps: 4,
        hideCursor: false,
        linewrap: true,
        // In a log, the final render already ends its line; on a terminal keep the line and end it.
        clearOnComplete: !tty,
      });
      const { epochs, batches } = this.options;
      this.bar.start(epochs && batches ? epochs * batches : epochs ?? 1, this.done);
    } else {
      this.bar.update(this.done);
    }
  }
}
