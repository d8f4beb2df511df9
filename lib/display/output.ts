/**
 * The library's bridge to the kernel's display, without importing the kernel.
 *
 * The d2l-ts kernel (kernel/display.ts) puts `display(obj, {displayId?, update?}) → {displayId, update(obj)}`
 * and `clearOutput({wait})` on `globalThis`, and shows any object with a `[Symbol.for('jupyter.mimebundle')]()`
 * method as the mime bundle it returns. Plots, image grids and progress lines use both; outside a kernel
 * (plain Node, vitest, CI logs) there is no `display`, and {@link inKernel} says so.
 * @module
 */

import { MIMEBUNDLE, type Displayable, type MimeBundle, type RichContent } from '../../common/mime';

export { MIMEBUNDLE, type Displayable, type MimeBundle };
/** What a rich-display method returns: a bundle, or a bundle with per-mime metadata. */
export type DisplayContent = RichContent;

/** The handle `display()` returns: `update(obj)` rewrites that output in place (update_display_data). */
export interface DisplayHandle {
  readonly displayId: string;
  update(obj: unknown): void;
}

type DisplayFn = (obj: unknown, opts?: { displayId?: string; update?: boolean }) => DisplayHandle;

function kernelDisplay(): DisplayFn | undefined {
  const d = (globalThis as { display?: unknown }).display;
  return typeof d === 'function' ? (d as DisplayFn) : undefined;
}

/** True when running inside the d2l-ts kernel (it defines the global `display`). */
export function inKernel(): boolean {
  return kernelDisplay() !== undefined;
}

/** Shows obj as a new output when in a kernel and returns its handle; outside a kernel does nothing. */
export function show(obj: unknown): DisplayHandle | undefined {
  return kernelDisplay()?.(obj);
}

/** Wraps a ready-made bundle as a displayable object. */
export function displayable(content: DisplayContent): Displayable {
  return { [MIMEBUNDLE]: () => content };
}

/** Options of {@link LiveOutput}. */
export interface LiveOutputOptions {
  /** The shortest time between two sends, in ms (default 250: at most 4 updates a second). */
  minIntervalMs?: number;
}

/**
 * One output that follows changing state (Animator, Progress): the first {@link changed} shows it, later ones
 * update that same output through the display handle, at most one send per `minIntervalMs`; a change that
 * arrives sooner is sent by a trailing timer. A kernel cannot tell when a loop is over, and the trailing timer
 * may fire after the cell has ended (or never, when the cell is interrupted), so owners call {@link flush}
 * at the end: the final state is then sent at once and is what a saved notebook keeps.
 * Outside a kernel nothing is sent.
 */
export class LiveOutput {
  private handle?: DisplayHandle;
  private lastSent = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private dirty = false;
  private readonly minIntervalMs: number;

  /** @param render builds what to show now; `final` is true for the send made by `flush({final: true})`. */
  constructor(private readonly render: (final: boolean) => unknown, opts: LiveOutputOptions = {}) {
    this.minIntervalMs = opts.minIntervalMs ?? 250;
  }

  /** The display id once shown (for tests and for cells that want to update it themselves). */
  get displayId(): string | undefined {
    return this.handle?.displayId;
  }

  /** Marks the state as changed: shows or updates the output now, or schedules it (throttled). */
  changed(): void {
    if (!inKernel()) return;
    this.dirty = true;
    const wait = this.lastSent + this.minIntervalMs - Date.now();
    if (!this.handle || wait <= 0) this.send(false);
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.dirty) this.send(false);
      }, wait);
      this.timer.unref?.();
    }
  }

  /**
   * Sends a pending change now. With `final`, always sends (even without a pending change) and tells the
   * renderer this is the last state.
   */
  flush(opts: { final?: boolean } = {}): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!inKernel()) return;
    if (this.dirty || (opts.final && this.handle)) this.send(!!opts.final);
  }

  private send(final: boolean): void {
    const obj = this.render(final);
    this.dirty = false;
    this.lastSent = Date.now();
    if (this.handle) this.handle.update(obj);
    else this.handle = show(obj);
  }
}
