/**
 * Progress of `d2l-ts lessons` on stderr: notebook i/n, cell j/m, elapsed time.
 * On a terminal one status line is redrawn every second (so a long training cell shows its time ticking);
 * in a log (CI, tests) only cells that take long are reported: when they finish after 10 s or more, and every
 * minute while they run. With --verbose the running cell's streams (and check lines) are copied through.
 * @module
 */

/** A duration for people: `4.2 s`, `3 min 20 s`, `1 h 5 min`. */
export function fmt(ms: number): string {
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return m < 60 ? `${m} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The part of a stream Progress writes to (process.stderr, or a fake in tests). */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Redraw one status line (default: whether the stream is a terminal). */
  tty?: boolean;
  /** Copy the running cell's output through. */
  verbose?: boolean;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly verbose: boolean;
  private timer: NodeJS.Timeout | undefined;
  private line = '';
  private atLineStart = true;
  private nb: { i: number; n: number; name: string; t0: number } | undefined;
  private cellState: { j: number; m: number; t0: number } | undefined;

  constructor({ stream = process.stderr, tty = !!stream.isTTY, verbose = false }: ProgressOptions = {}) {
    this.stream = stream;
    this.tty = tty;
    this.verbose = verbose;
  }

  /** A notebook starts: `i` of `n`. */
  notebook(i: number, n: number, name: string): void {
    this.nb = { i, n, name, t0: Date.now() };
  }

  /** Cell `j` of `m` starts. */
  cell(j: number, m: number): void {
    this.cellState = { j, m, t0: Date.now() };
    this.stop();
    this.draw();
    this.timer = setInterval(() => this.tick(), this.tty ? 1000 : 60000);
    this.timer.unref?.();
  }

  /** The current cell finished. */
  cellDone(): void {
    this.stop();
    const c = this.cellState;
    if (!c) return;
    const ms = Date.now() - c.t0;
    if (!this.tty && ms >= 10000) this.print(`      cell ${c.j}/${c.m} took ${fmt(ms)}\n`);
  }

  /** Streamed text of the running cell (only shown with --verbose). */
  output(text: string): void {
    if (!this.verbose || !text) return;
    this.clear();
    this.stream.write(text);
    this.atLineStart = text.endsWith('\n');
    this.draw();
  }

  /** Clears the status line (before printing something else). */
  clear(): void {
    if (this.tty && this.line) {
      this.stream.write('\r' + ' '.repeat(this.line.length) + '\r');
      this.line = '';
    }
  }

  print(text: string): void {
    this.clear();
    this.stream.write(text);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private tick(): void {
    if (this.tty) return this.draw();
    const c = this.cellState!;
    this.print(`      … cell ${c.j}/${c.m} running for ${fmt(Date.now() - c.t0)} (notebook ${fmt(Date.now() - this.nb!.t0)})\n`);
  }

  private draw(): void {
    if (!this.tty || !this.nb || !this.cellState) return;
    const c = this.cellState;
    const cols = this.stream.columns || 100;
    let line = `  [${this.nb.i}/${this.nb.n}] ${this.nb.name}  cell ${c.j}/${c.m}  ${fmt(Date.now() - this.nb.t0)}`;
    const cellMs = Date.now() - c.t0;
    if (cellMs >= 2000) line += `  (this cell ${fmt(cellMs)})`;
    line = line.slice(0, cols - 1);
    if (!this.atLineStart) {
      this.stream.write('\n');
      this.atLineStart = true;
    }
    this.clear();
    this.stream.write(line);
    this.line = line;
  }
}
