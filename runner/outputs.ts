/**
 * nbclient's output rules: the iopub messages of each executed cell become nbformat outputs exactly as
 * `jupyter nbconvert --execute` stores them (display updates across cells, `clear_output(wait)`, stream merging,
 * `coalesce_streams`), so notebooks run by `npm run lessons` match nbconvert's.
 * @module
 */
import type { ExecuteOptions, ExecuteResult, KernelClient } from '../jupyter/client';

/** nbformat 4 `stream` output. */
export interface StreamOutput {
  output_type: 'stream';
  name: string;
  text: string;
}
/** nbformat 4 `display_data` output. */
export interface DisplayDataOutput {
  output_type: 'display_data';
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}
/** nbformat 4 `execute_result` output. */
export interface ExecuteResultOutput {
  output_type: 'execute_result';
  execution_count: number | null;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}
/** nbformat 4 `error` output. */
export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}
/** One nbformat 4 code-cell output. */
export type NotebookOutput = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** The subset of a message that output conversion looks at (so unit tests can pass plain objects). */
export interface IopubLike {
  header: { msg_type: string };
  content: Record<string, any>;
}

/**
 * nbformat's `output_from_msg`: converts an iopub message to an output dict, or
 * returns `undefined` for message types that are not outputs.
 */
export function outputFromMessage(msg: IopubLike): NotebookOutput | undefined {
  const c = msg.content ?? {};
  switch (msg.header.msg_type) {
    case 'stream':
      return { output_type: 'stream', name: c.name, text: c.text };
    case 'display_data':
      return { output_type: 'display_data', data: c.data ?? {}, metadata: c.metadata ?? {} };
    case 'execute_result':
      return {
        output_type: 'execute_result',
        execution_count: c.execution_count ?? null,
        data: c.data ?? {},
        metadata: c.metadata ?? {},
      };
    case 'error':
      return { output_type: 'error', ename: c.ename, evalue: c.evalue, traceback: c.traceback ?? [] };
    default:
      return undefined;
  }
}

/**
 * Output state shared by all cells of one notebook run: the display_id map.
 *
 * nbclient keeps `display_id -> {cell_index: [output_index]}` for the whole
 * notebook, so an `update_display_data` sent while a later cell runs rewrites an
 * earlier cell's output. We keep references to the output objects instead of
 * indices (stream merging would shift indices); the effect is the same.
 */
export class OutputTracker {
  /** display_id -> cell -> outputs of that cell carrying the display_id. */
  readonly displays = new Map<string, Map<CellOutputs, Array<DisplayDataOutput | ExecuteResultOutput>>>();

  /** Starts collecting the outputs of a new cell (one `execute_request`). */
  startCell(): CellOutputs {
    return new CellOutputs(this);
  }
}

/**
 * The outputs of one executed cell, built from its iopub messages exactly like
 * nbclient's `process_message`/`output`/`clear_output`, plus merging of
 * consecutive same-name `stream` outputs (what Jupyter frontends store).
 */
export class CellOutputs {
  /** The nbformat outputs so far (mutated in place, as nbclient does). */
  readonly outputs: NotebookOutput[] = [];
  /** Last `execution_count` seen in an iopub content (execute_input / execute_result). */
  executionCount: number | null = null;
  /** True once `status: idle` was processed; later messages are ignored, like nbclient. */
  done = false;
  /** `clear_output(wait=True)` defers the clear until the next output arrives. */
  private clearBeforeNextOutput = false;

  constructor(private readonly tracker: OutputTracker) {}

  /** Processes one iopub message whose parent is this cell's execute_request. */
  handle(msg: IopubLike): void {
    if (this.done) return;
    const type = msg.header.msg_type;
    const content = msg.content ?? {};
    // `transient` may be explicitly null (nbclient guards this too).
    const displayId: string | undefined = content.transient ? content.transient.display_id : undefined;
    if (displayId && (type === 'execute_result' || type === 'display_data' || type === 'update_display_data')) {
      this.updateDisplay(displayId, msg);
    }
    if ('execution_count' in content) this.executionCount = content.execution_count;

    if (type === 'status') {
      if (content.execution_state === 'idle') this.done = true;
    } else if (type === 'clear_output') {
      if (content.wait) {
        this.clearBeforeNextOutput = true;
      } else {
        this.clear();
      }
    } else if (type.startsWith('comm') || type === 'execute_input' || type === 'update_display_data') {
      // Not outputs (widget state is not stored).
    } else {
      this.append(msg, displayId);
    }
  }

  private append(msg: IopubLike, displayId: string | undefined): void {
    const out = outputFromMessage(msg);
    if (!out) return; // nbclient logs "unhandled iopub msg" and, importantly, does not run a pending clear
    if (this.clearBeforeNextOutput) {
      this.clear();
      this.clearBeforeNextOutput = false;
    }
    if (out.output_type === 'stream') {
      const last = this.outputs[this.outputs.length - 1];
      if (last && last.output_type === 'stream' && last.name === out.name) {
        last.text += out.text;
        return;
      }
    }
    if (displayId && (out.output_type === 'display_data' || out.output_type === 'execute_result')) {
      let cells = this.tracker.displays.get(displayId);
      if (!cells) this.tracker.displays.set(displayId, (cells = new Map()));
      let list = cells.get(this);
      if (!list) cells.set(this, (list = []));
      list.push(out);
    }
    this.outputs.push(out);
  }

  /** Immediate clear: drop outputs and forget this cell's display_id entries (nbclient `clear_display_id_mapping`). */
  private clear(): void {
    this.outputs.length = 0;
    for (const cells of this.tracker.displays.values()) {
      if (cells.has(this)) cells.set(this, []);
    }
  }

  /** nbclient `_update_display_id`: every earlier output with this display_id gets the new data/metadata. */
  private updateDisplay(displayId: string, msg: IopubLike): void {
    const cells = this.tracker.displays.get(displayId);
    if (!cells) return;
    const c = msg.content;
    const data = c.data ?? {};
    const metadata = c.metadata ?? {};
    for (const list of cells.values()) {
      for (const out of list) {
        out.data = data;
        out.metadata = metadata;
      }
    }
  }
}

/**
 * Converts the iopub messages of one cell into nbformat outputs (see {@link CellOutputs}).
 * Pass the same `tracker` for successive cells so display updates cross cells.
 */
export function toNotebookOutputs(messages: Iterable<IopubLike>, tracker = new OutputTracker()): NotebookOutput[] {
  const cell = tracker.startCell();
  for (const m of messages) cell.handle(m);
  return cell.outputs;
}

/**
 * nbclient's `coalesce_streams=True` post-processing of a cell's outputs: all
 * streams of one name are merged into the first one, `\r` overwrites are applied,
 * and a stderr stream directly followed by a stdout stream is swapped behind it.
 *
 * Returns a new array; merged stream objects are mutated. Faithful to nbclient,
 * backspaces are left alone (its backspace loop never runs).
 */
export function coalesceStreams(outputs: NotebookOutput[]): NotebookOutput[] {
  const result: NotebookOutput[] = [];
  const streams = new Map<string, StreamOutput>();
  for (const out of outputs) {
    if (out.output_type === 'stream') {
      const first = streams.get(out.name);
      if (first) {
        first.text += out.text;
        continue;
      }
      streams.set(out.name, out);
    }
    result.push(out);
  }
  // Python's `.*\r(?=[^\n])`: `.` matches anything but `\n` (JS `.` also excludes `\r`).
  for (const s of streams.values()) s.text = s.text.replace(/[^\n]*\r(?=[^\n])/g, '');
  for (let i = 0; i < result.length; i++) {
    const out = result[i];
    const next = result[i + 1];
    if (out.output_type === 'stream' && out.name === 'stderr' && next?.output_type === 'stream' && next.name === 'stdout') {
      result.splice(i + 1, 1);
      result.splice(i, 0, next);
    }
  }
  return result;
}

/** Options of {@link executeCell}: the client's, plus how to build outputs. */
export interface ExecuteCellOptions extends ExecuteOptions {
  /** The display_id scope, one per notebook (default: one per client, shared by all its cells). */
  tracker?: OutputTracker;
  /** Post-process the outputs with nbclient's `coalesce_streams` (see {@link coalesceStreams}); default false. */
  coalesceStreams?: boolean;
}

/** What {@link executeCell} resolves to: the client's result plus the cell's nbformat outputs. */
export interface CellResult extends ExecuteResult {
  /** nbformat outputs; display outputs may still be updated by later cells of the same tracker (same objects). */
  outputs: NotebookOutput[];
}

const trackers = new WeakMap<KernelClient, OutputTracker>();
function clientTracker(kc: KernelClient): OutputTracker {
  let t = trackers.get(kc);
  if (!t) trackers.set(kc, (t = new OutputTracker()));
  return t;
}

/** Runs one cell through `kc` and builds its outputs as the messages arrive (live, like nbclient). */
export async function executeCell(kc: KernelClient, code: string, opts: ExecuteCellOptions = {}): Promise<CellResult> {
  const { tracker = clientTracker(kc), coalesceStreams: coalesce = false, ...rest } = opts;
  const cell = tracker.startCell();
  const result = await kc.execute(code, {
    ...rest,
    onIopub: (msg) => {
      rest.onIopub?.(msg);
      cell.handle(msg);
    },
  });
  const executionCount = cell.executionCount ?? result.executionCount;
  return { ...result, executionCount, outputs: coalesce ? coalesceStreams(cell.outputs) : cell.outputs };
}
