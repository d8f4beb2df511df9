/**
 * Stopping an async cell for real. tslab's interrupt only stops *waiting* for a cell's promise: a training
 * loop that awaits between batches would go on in the background, printing into later cells. We run each
 * cell in an AsyncLocalStorage context and guard the timer functions: once a cell is interrupted, no timer
 * callback scheduled from its context runs again, so its loop stops at its next `await` on a timer
 * (`tf.nextFrame()`, `setTimeout`, `setImmediate` - what the lib's loops and progress updates use).
 * A purely synchronous loop is stopped by SIGINT through vm's `breakOnSigint` instead.
 */
import { AsyncLocalStorage } from 'async_hooks';

export interface CellContext {
  cancelled: boolean;
}

const als = new AsyncLocalStorage<CellContext>();
let installed = false;

/** Runs fn inside a new cell context; the returned context can be cancelled later. */
export function runInCell<T>(fn: () => T, ctx: CellContext = { cancelled: false }): { ctx: CellContext; result: T } {
  return { ctx, result: als.run(ctx, fn) };
}

/** The context of the cell whose code is running now (also in its callbacks), if any. */
export function currentCell(): CellContext | undefined {
  return als.getStore();
}

/** Wraps a callback so it is dropped when the context that scheduled it was cancelled. */
function guard<F extends (...a: any[]) => any>(fn: F): F {
  const ctx = als.getStore();
  if (!ctx || typeof fn !== 'function') return fn;
  return function (this: unknown, ...args: any[]) {
    if (ctx.cancelled) return undefined;
    return fn.apply(this, args);
  } as F;
}

/** Installs the timer guards once per process (idempotent). */
export function installTimerGuards(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as any;
  for (const name of ['setTimeout', 'setInterval', 'setImmediate'] as const) {
    const orig = g[name];
    const wrapped = function (this: unknown, cb: any, ...rest: any[]) {
      return orig.call(this, guard(cb), ...rest);
    };
    // Keep util.promisify(setTimeout) and friends working.
    for (const key of Reflect.ownKeys(orig)) {
      try { Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(orig, key)!); } catch { /* non-configurable */ }
    }
    g[name] = wrapped;
  }
}

/** The timer functions as they were before the guards: for the kernel's own timers (output flushing). */
export const rawTimers = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setImmediate: globalThis.setImmediate,
};
