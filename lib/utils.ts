/**
 * Small utilities the training helpers share: d2l's `Timer` (lecture 08) and `Accumulator` (lecture 09),
 * plus the argument checks and the event-loop yield used by `linear.ts`, `classify.ts`, `train.ts` and
 * `conv.ts`.
 * @module
 */
import { checkPositiveInt, describe, ArgumentError } from './args';

/**
 * Lecture 08 (`linear-regression.md`, `Timer`): records wall-clock intervals in seconds. Starts on
 * construction, like d2l's.
 * @example const timer = new d2l.Timer(); work(); timer.stop(); timer.avg()
 */
export class Timer {
  /** Every interval recorded by {@link stop}, in seconds. */
  readonly times: number[] = [];
  private tik = 0;

  constructor() {
    this.start();
  }

  /** Starts (or restarts) the current interval. */
  start(): void {
    this.tik = performance.now();
  }

  /** Ends the current interval, records it and returns its length in seconds. */
  stop(): number {
    const t = (performance.now() - this.tik) / 1000;
    this.times.push(t);
    return t;
  }

  /** The mean of the recorded intervals (0 when none). */
  avg(): number {
    return this.times.length === 0 ? 0 : this.sum() / this.times.length;
  }

  /** The sum of the recorded intervals. */
  sum(): number {
    return this.times.reduce((a, b) => a + b, 0);
  }

  /** The running totals of the recorded intervals (d2l's `np.array(times).cumsum().tolist()`). */
  cumsum(): number[] {
    let s = 0;
    return this.times.map((t) => (s += t));
  }
}

/**
 * Lecture 09 (`softmax-regression-scratch.md`, `Accumulator`): `n` running sums of numbers.
 * d2l indexes it as `metric[i]`; here it is `metric.get(i)`.
 * @example const metric = new d2l.Accumulator(2); metric.add(3, 10); metric.get(0) / metric.get(1)
 */
export class Accumulator {
  private readonly data: number[];

  /** @param n the number of slots, a positive integer */
  constructor(n: number) {
    checkPositiveInt('Accumulator', 'n', n);
    this.data = new Array<number>(n).fill(0);
  }

  /** Number of slots. */
  get length(): number {
    return this.data.length;
  }

  /** Adds `args[i]` to slot `i`; exactly one number per slot. */
  add(...args: number[]): void {
    if (args.length !== this.data.length) {
      throw new ArgumentError(`Accumulator.add: expected ${this.data.length} numbers (one per slot), got ${args.length}`);
    }
    args.forEach((v, i) => {
      if (typeof v !== 'number') throw new ArgumentError(`Accumulator.add: expected numbers, got ${describe(v)} at position ${i}`);
      this.data[i] += v;
    });
  }

  /** Sets every slot back to 0. */
  reset(): void {
    this.data.fill(0);
  }

  /** The sum in slot `i`. */
  get(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.data.length) {
      throw new ArgumentError(`Accumulator.get: expected an index in 0..${this.data.length - 1}, got ${describe(i)}`);
    }
    return this.data[i];
  }

  /** A copy of all the sums. */
  toArray(): number[] {
    return this.data.slice();
  }
}

// ----------------------------------------------------------------------------------------------------
// Internal helpers (not re-exported by lib/index.ts).

/**
 * Lets the event loop run (Jupyter output, interrupts) from inside a training loop: `tf.nextFrame()`'s
 * Node behaviour (one `setImmediate`), but looking `setImmediate` up at call time, so the kernel's
 * interrupt guard on timers always applies — an interrupted cell stops at this await.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => globalThis.setImmediate(resolve));
}

/**
 * Calls {@link yieldToEventLoop} at most every `intervalMs` of wall-clock time: cheap enough to call after
 * every batch, responsive enough for live plots and interrupts.
 */
export class Yielder {
  private last = performance.now();
  constructor(private readonly intervalMs = 100) {}

  /** Yields if `intervalMs` has passed since the last yield (or when `force`). */
  async maybeYield(force = false): Promise<void> {
    const now = performance.now();
    if (force || now - this.last >= this.intervalMs) {
      await yieldToEventLoop();
      this.last = performance.now();
    }
  }
}
