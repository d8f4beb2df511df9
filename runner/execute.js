// Executes one notebook through the d2l-ts kernel over the Jupyter protocol, the way nbclient
// (`jupyter nbconvert --execute`) does: a fresh kernel, code cells in order (empty cells and cells tagged
// `skip-execution` are skipped), outputs and execution counts filled in, streams coalesced, per-cell timing in
// `metadata.execution`, `language_info` from the kernel, and the run stops at the first error of a cell that is
// not tagged `raises-exception`. A cell that times out gets nbclient's CellTimeoutError output, a kernel that
// dies a DeadKernelError output; both stop the notebook.
'use strict';
const path = require('path');
const { codeCells, isExecutable, text } = require('./notebook');

const ROOT = path.resolve(__dirname, '..', '..');

function loadClient() {
  try {
    return require(path.join(ROOT, 'dist', 'kernel', 'client.js'));
  } catch (e) {
    throw new Error('the kernel is not built; run `npm run build` first');
  }
}

/** nbclient's `record_timing`: header dates of execute_input, status busy/idle and the reply. */
function timing(messages, reply) {
  const t = {};
  for (const m of messages) {
    const type = m.header.msg_type;
    if (type === 'execute_input') t['iopub.execute_input'] = m.header.date;
    else if (type === 'status' && m.content.execution_state === 'busy') t['iopub.status.busy'] ??= m.header.date;
    else if (type === 'status' && m.content.execution_state === 'idle') t['iopub.status.idle'] = m.header.date;
  }
  if (reply?.header?.date) t['shell.execute_reply'] = reply.header.date;
  return t;
}

/**
 * Runs `nb` (modified in place) with cwd `cwd`. opts: { timeoutSec, schedule, env }. state.kernel is set while
 * a kernel runs (for Ctrl-C); state.interrupted stops after the running cell. progress: a Progress.
 * Resolves to { ms, error?: string (first failure, naming the cell), stopped: boolean }.
 */
async function executeNotebook(nb, cwd, opts, state, progress) {
  const { KernelClient, KernelError, coalesceStreams, toNotebookOutputs } = loadClient();
  const cells = codeCells(nb);
  const todo = cells.filter((c) => isExecutable(c.cell));
  for (const c of todo) {
    c.cell.outputs = [];
    c.cell.execution_count = null;
  }
  const t0 = Date.now();
  const kc = await KernelClient.start({
    argv: [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'],
    cwd,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2', ...opts.env, D2L_SCHEDULE: opts.schedule },
  });
  state.kernel = kc;
  const li = kc.kernelInfo?.content?.language_info;
  if (li) nb.metadata.language_info = li;
  let error;
  let stopped = false;
  try {
    for (let j = 0; j < todo.length; j++) {
      const { cell } = todo[j];
      const label = (n) => `cell ${todo[j].pos} (In[${n ?? ' '}]${cell.id ? `, id ${cell.id}` : ''})`;
      const tags = cell.metadata?.tags ?? [];
      const messages = [];
      let count = null;
      progress.cell(j + 1, todo.length);
      let r;
      try {
        r = await kc.execute(text(cell.source), {
          timeoutMs: opts.timeoutSec * 1000,
          coalesceStreams: true,
          onIopub: (m) => {
            messages.push(m);
            if (m.header.msg_type === 'execute_input') count = m.content.execution_count ?? count;
            if (m.header.msg_type === 'stream') progress.output(m.content.text);
            else if (m.header.msg_type === 'display_data' && m.content.data?.['application/vnd.d2l.check+json']) progress.output(`${m.content.data['text/plain']}\n`);
          },
        });
      } catch (e) {
        progress.cellDone();
        if (!(e instanceof KernelError)) throw e;
        // Keep what the cell printed before it timed out or the kernel died.
        const outputs = coalesceStreams(toNotebookOutputs(messages));
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

module.exports = { executeNotebook, timing };
