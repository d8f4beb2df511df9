/**
 * The Jupyter comm convention the lib and the kernel share without importing each other (like MIMEBUNDLE in
 * ./mime): the d2l-ts kernel puts a {@link CommHook} on `globalThis[Symbol.for('jupyter.comm')]`; the lib's
 * widgets (lib/display/widgets.ts) look it up and, outside a kernel (plain Node, tests), find nothing and stay
 * local. Messages follow the Jupyter messaging spec's "Custom messages" (comm_open, comm_msg, comm_close).
 * @module
 */

/** Where the kernel puts its {@link CommHook}. */
export const COMM_HOOK: unique symbol = Symbol.for('jupyter.comm') as any;

/** JSON data of a comm message (binary buffers are not used by the lib's widgets). */
export type CommData = Record<string, unknown>;

/** One end of a comm, kernel side. */
export interface CommHandle {
  readonly commId: string;
  readonly targetName: string;
  /** Sends comm_msg to the front end (parented to the request being handled). */
  send(data: CommData): void;
  /** Sends comm_close (once) and forgets the comm. */
  close(data?: CommData): void;
  /** Called for each comm_msg from the front end. */
  onMsg(cb: (data: CommData) => void): void;
  /** Called once when the front end closes the comm. */
  onClose(cb: (data: CommData) => void): void;
}

/** A value as display_data carries it. */
export interface WireContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** What the kernel offers the lib. */
export interface CommHook {
  /** Opens a comm to the front end (comm_open on iopub). */
  open(targetName: string, data: CommData, metadata?: CommData): CommHandle;
  /** Accepts comms the front end opens with `targetName`; `cb` gets each new comm and its open data. */
  registerTarget(targetName: string, cb: (comm: CommHandle, data: CommData) => void): void;
  /** How the kernel would show a value (tensors, rich objects, text), for outputs kept inside a widget. */
  displayContent(value: unknown): WireContent | undefined;
}

/** The kernel's hook, or undefined outside the d2l-ts kernel. */
export function commHook(): CommHook | undefined {
  const h = (globalThis as unknown as Record<symbol, unknown>)[COMM_HOOK];
  return h && typeof (h as CommHook).open === 'function' ? (h as CommHook) : undefined;
}
