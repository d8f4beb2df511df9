/**
 * Executes one notebook through the d2l-ts kernel over the Jupyter protocol, the way nbclient
 * (`jupyter nbconvert --execute`) does: a fresh kernel, code cells in order (empty cells and cells tagged
 * `skip-execution` are skipped), outputs and execution counts filled in, streams coalesced, per-cell timing in
 * `metadata.execution`, `language_info` from the kernel, and the run stops at the first error of a cell that is
 * not tagged `raises-exception`. A cell that times out gets nbclient's CellTimeoutError output, a kernel that
 * dies a DeadKernelError output; both stop the notebook.
 * @module
 */
import { KernelClient, KernelError, type JupyterMessage } from '../jupyter/client';
import { CHECK_MIME } from '../common/mime';
import { codeCells, isExecutable, text, type Notebook } from './notebook';
import { coalesceStreams, executeCell, OutputTracker, toNotebookOutputs } from './outputs';
import { D2L_BIN } from './paths';
import type { Progress } from './progress';

/** nbclient's `record_timing`: header dates of execute_input, status busy/idle and the reply. */
export function timing(messages: JupyterMessage[], reply?: JupyterMessage): Record<string, string> {
  const t: Record<string, string> = {};
  for (const m of messages) {
    const type = m.header.msg_type;
    if (type === 'execute_input') t['iopub.execute_input'] = m.header.date;
    else if (type === 'status' && m.content.execution_state === 'busy') t['iopub.status.busy'] ??= m.header.date;
    else if (type === 'status' && m.content.execution_state === 'idle') t['iopub.status.idle'] = m.header.date;
  }
  if (reply?.header?.date) t['shell.execute_reply'] = reply.header.date;
  return t;
}

export interface ExecuteNotebookOptions {
  /** Per-cell limit. */
  timeoutSec: number;
  /** D2L_SCHEDULE of the kernel: 'full' | 'short'. */
  schedule: string;
  /** Extra environment of the kernel. */
  env?: NodeJS.ProcessEnv;
}

/** Shared with the Ctrl-C handler: the running kernel, and whether the run should end after this cell. */
export interface RunState {
  kernel: KernelClient | undefined;
  interrupts: number;
  interrupted: boolean;
}

export interface NotebookRun {
  ms: number;
  /** The first failure, naming the cell. */
  error?: string;
  /** The run stopped before the last cell. */
  stopped: boolean;
}

/**
 * Runs `nb` (modified in place) with cwd `cwd`. state.kernel is set while a kernel runs (for Ctrl-C);
 * state.interrupted stops after the running cell.
 */
export async function executeNotebook(nb: Notebook, cwd: string, opts: ExecuteNotebookOptions, state: RunState, progress: Progress): Promise<NotebookRun> {
  const todo = codeCells(nb).filter((c) => isExecutable(c.cell));
  for (const c of todo) {
    c.cell.outputs = [];
    c.cell.execution_count = null;
  }
  const t0 = Date.now();
  // D2L_HISTORY=0: runs by the runner (and by the tests that use it) stay out of the learner's input history.
  // Cells run with allow_stdin false (executeCell is given no onInputRequest): an input() fails at once.
  const kc = await KernelClient.start({
    argv: [process.execPath, D2L_BIN, 'kernel', '{connection_file}'],
    cwd,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2', ...opts.env, D2L_SCHEDULE: opts.schedule, D2L_HISTORY: '0' },
  });
  state.kernel = kc;
  const li = kc.kernelInfo?.content?.language_info;
  if (li) nb.metadata.language_info = li;
  const tracker = new OutputTracker(); // display updates cross cells within this notebook only
  let error: string | undefined;
  let stopped = false;
  try {
    for (let j = 0; j < todo.length; j++) {
      const { cell } = todo[j];
      const label = (n: number | null) => `cell ${todo[j].pos} (In[${n ?? ' '}]${cell.id ? `, id ${cell.id}` : ''})`;
      const tags: string[] = cell.metadata?.tags ?? [];
      const messages: JupyterMessage[] = [];
      let count: number | null = null;
      progress.cell(j + 1, todo.length);
      let r;
      try {
        r = await executeCell(kc, text(cell.source), {
          timeoutMs: opts.timeoutSec * 1000,
          tracker,
          coalesceStreams: true,
          onIopub: (m) => {
            messages.push(m);
            if (m.header.msg_type === 'execute_input') count = m.content.execution_count ?? count;
            if (m.header.msg_type === 'stream') progress.output(m.content.text);
            else if (m.header.msg_type === 'display_data' && m.content.data?.[CHECK_MIME]) progress.output(`${m.content.data['text/plain']}\n`);
          },
        });
      } catch (e) {
        progress.cellDone();
        if (!(e instanceof KernelError)) throw e;
        // Keep what the cell printed before it timed out or the kernel died.
        const outputs: any[] = coalesceStreams(toNotebookOutputs(messages));
        const [ename, evalue] = e.reason === 'timeout'
          ? ['CellTimeoutError', `A cell timed out while it was being executed, after ${opts.timeoutSec} seconds.`]
          : ['DeadKernelError', `Kernel died while executing the cell: ${e.message}`];
        outputs.push({ output_type: 'error', ename, evalue, traceback: [`${ename}: ${evalue}`] });
        cell.outputs = outputs;
        cell.execution_count = count;
        cell.metadata = { ...cell.metadata, execution: timing(messages) };
        error = `${label(count)}: ${ename}: ${evalue}`;
        stopped = true;
        break;
      }
      progress.cellDone();
      cell.outputs = r.outputs;
      cell.execution_count = r.executionCount;
      cell.metadata = { ...cell.metadata, execution: timing(r.messages, r.reply) };
      const c = r.reply.content;
      if (c.status !== 'ok' && !tags.includes('raises-exception')) {
        error = `${label(r.executionCount)}: ${c.ename ?? c.status}: ${c.evalue ?? ''}`;
        stopped = true;
        break;
      }
      if (state.interrupted) {
        error = `${label(r.executionCount)}: interrupted`;
        stopped = true;
        break;
      }
    }
  } finally {
    state.kernel = undefined;
    progress.stop();
    await kc.shutdown().catch(() => kc.kill());
  }
  // Recorded for the checker (which bands apply); a full run leaves the notebook exactly as nbconvert writes it.
  if (opts.schedule === 'short') nb.metadata.d2l = { ...(nb.metadata.d2l ?? {}), schedule: 'short' };
  return { ms: Date.now() - t0, error, stopped };
}
