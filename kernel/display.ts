/**
 * What a learner sees for a value: a Jupyter mime bundle.
 *
 * Rich-display convention (used by lib plots, image grids and tables): an object with a method
 * `[Symbol.for('jupyter.mimebundle')]()` returning a mime bundle `{ 'text/plain': ..., 'text/html': ... }`
 * (optionally `{ data, metadata }`). Tensors get PyTorch-style text plus an HTML table; everything else
 * gets depth-limited `util.inspect` text.
 */
import { inspect } from 'util';
import { MIMEBUNDLE, type MimeBundle } from '../common/mime';
import { installTensorInspect } from '../common/tensor-inspect';
import { isTensorLike, tensorMimeBundle } from '../common/tensor-format';

export { MIMEBUNDLE, type MimeBundle };

/** One output as the wire carries it (display_data, execute_result): a bundle and its metadata. */
export interface DisplayContent {
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

/** Options for util.inspect: enough to read a value, never a dump of a library's internals. */
const INSPECT = { depth: 2, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 } as const;

/**
 * Converts any value to a mime bundle. Returns undefined for `undefined` (nothing is shown).
 * A throwing rich-display method falls back to text and says why, so one bad object can't break output.
 */
export function toDisplayContent(value: unknown): DisplayContent | undefined {
  if (value === undefined) return undefined;
  if (isTensorLike(value)) return { data: tensorMimeBundle(value), metadata: {} };
  const method = value !== null && typeof value === 'object' ? (value as any)[MIMEBUNDLE] : undefined;
  if (typeof method === 'function') {
    try {
      const b = method.call(value);
      if (b && typeof b === 'object' && 'data' in b && typeof b.data === 'object') {
        return { data: withPlain(b.data, value), metadata: b.metadata ?? {} };
      }
      return { data: withPlain(b, value), metadata: {} };
    } catch (e) {
      return { data: { 'text/plain': `${plain(value)}\n[display failed: ${(e as Error)?.message ?? e}]` }, metadata: {} };
    }
  }
  return { data: { 'text/plain': plain(value) }, metadata: {} };
}

/**
 * Tensors inside arrays and objects (`[x.add(y), x.mul(y)]`) should read like PyTorch too, not like tfjs's
 * internals: give the tensor classes we meet a util.inspect hook (which console.log uses as well).
 */
function teachTensorInspect(v: unknown, depth: number): void {
  if (isTensorLike(v)) {
    const proto = Object.getPrototypeOf(v);
    if (proto) installTensorInspect(proto);
    return;
  }
  if (depth <= 0 || v === null || typeof v !== 'object') return;
  const items = v instanceof Map ? [...v.values()] : Array.isArray(v) ? v : Object.values(v);
  for (const x of items.slice(0, 100)) teachTensorInspect(x, depth - 1);
}

function withPlain(b: MimeBundle, value: unknown): MimeBundle {
  return 'text/plain' in b ? b : { ...b, 'text/plain': plain(value) };
}

/** Text form of a value: strings keep quotes (like a REPL), objects are depth-limited. */
export function plain(value: unknown): string {
  teachTensorInspect(value, 2);
  const text = inspect(value, INSPECT);
  // async_hooks (which the kernel uses to stop interrupted cells) tags promises with symbols; hide them.
  return value instanceof Promise ? text.replace(/,?\s*\[Symbol\((async_id_symbol|trigger_async_id_symbol|kResourceStore)\)\]: [^\n]*?(?=,?\n|\s*\}$)/g, '').replace(/\{\s+([^\n]*?)\s*\}$/, '{ $1 }') : text;
}

/** A handle on one display output, returned by `display()`. */
export interface DisplayHandle {
  readonly displayId: string;
  /** Replaces the output in place (update_display_data). */
  update(obj: unknown): void;
}

export interface DisplaySink {
  /** Publishes display_data (update=false) or update_display_data (update=true). */
  publish(content: DisplayContent & { transient: { display_id?: string } }, update: boolean): void;
  clearOutput(wait: boolean): void;
}

let counter = 0;
function newDisplayId(): string {
  return `d2l-${process.pid.toString(36)}-${(++counter).toString(36)}-${Date.now().toString(36)}`;
}

/**
 * Creates the `display`/`clearOutput` functions that cells and the lib call.
 * `display(obj, {displayId})`: shows obj as display_data and returns a handle whose `update(obj)` rewrites it.
 * Passing an existing displayId (or calling `display(obj, {displayId, update: true})`) updates that output.
 */
export function createDisplayApi(sink: DisplaySink) {
  function display(obj: unknown, opts: { displayId?: string; update?: boolean } = {}): DisplayHandle {
    const displayId = opts.displayId ?? newDisplayId();
    const send = (o: unknown, update: boolean) => {
      const c = toDisplayContent(o) ?? { data: { 'text/plain': '' }, metadata: {} };
      sink.publish({ ...c, transient: { display_id: displayId } }, update);
    };
    send(obj, !!opts.update);
    return { displayId, update: (o: unknown) => send(o, true) };
  }
  function clearOutput(opts: { wait?: boolean } | boolean = {}): void {
    sink.clearOutput(typeof opts === 'boolean' ? opts : !!opts.wait);
  }
  return { display, clearOutput };
}

/** TypeScript declarations of the globals above, prepended to tslab's "previous cells" declarations. */
export const DISPLAY_DECLARATIONS = `
interface DisplayHandle { readonly displayId: string; update(obj: unknown): void; }
/** Shows obj in the cell's output (rich if it has a [Symbol.for('jupyter.mimebundle')] method); returns a handle to update it in place. */
declare function display(obj: unknown, opts?: { displayId?: string; update?: boolean }): DisplayHandle;
/** Clears the cell's output; with {wait: true} the clearing happens when the next output arrives (no flicker). */
declare function clearOutput(opts?: { wait?: boolean } | boolean): void;
`;
