#!/usr/bin/env node
// `npm run lessons [-- NAME...] [--verbose] [--timeout SEC] [--out DIR]`
// Executes lecture notebooks through the d2l-ts kernel over the Jupyter protocol (the path Jupyter uses),
// cell by cell with a fresh kernel per notebook, and writes the executed notebooks to out/.
// NAME selects notebooks by prefix (`09`, `23-lenet`). Ctrl-C interrupts the running cell; twice aborts.
const fs = require('fs');
const path = require('path');
const ROOT = path.resolve(__dirname, '..');
let KernelClient;
try {
  ({ KernelClient } = require(path.join(ROOT, 'dist', 'kernel', 'client.js')));
} catch (e) {
  console.error('lessons: the kernel is not built; run `npm run build` first');
  process.exit(1);
}

function parseArgs(argv) {
  const o = { names: [], verbose: false, timeout: 900, out: path.join(ROOT, 'out'), dir: path.join(ROOT, 'notebooks') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--timeout') o.timeout = Number(argv[++i]);
    else if (a === '--out') o.out = path.resolve(argv[++i]);
    else if (a === '--dir') o.dir = path.resolve(argv[++i]);
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.names.push(a);
  }
  if (!(o.timeout > 0)) throw new Error('--timeout needs a positive number of seconds');
  return o;
}

const src = (c) => (Array.isArray(c.source) ? c.source.join('') : c.source);
const fmt = (ms) => (ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`);

async function runNotebook(file, opts, state) {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cells = nb.cells.filter((c) => c.cell_type === 'code');
  const kc = await KernelClient.start({
    argv: [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'],
    cwd: path.dirname(file),
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
  });
  state.kernel = kc;
  const t0 = Date.now();
  let error;
  try {
    for (let j = 0; j < cells.length; j++) {
      const cell = cells[j];
      const tags = cell.metadata?.tags ?? [];
      process.stderr.write(`\r  cell ${j + 1}/${cells.length}  ${fmt(Date.now() - t0)}   `);
      const r = await kc.execute(src(cell), {
        timeoutMs: opts.timeout * 1000,
        coalesceStreams: true,
        onIopub: opts.verbose ? (m) => { if (m.header.msg_type === 'stream') process.stderr.write(m.content.text); } : undefined,
      });
      cell.outputs = r.outputs;
      cell.execution_count = r.executionCount;
      if (r.reply.content.status !== 'ok' && !tags.includes('raises-exception')) {
        const c = r.reply.content;
        error = `cell ${j + 1} (In[${r.executionCount}]): ${c.ename ?? c.status}: ${c.evalue ?? ''}`;
        break;
      }
    }
  } finally {
    state.kernel = undefined;
    await kc.shutdown().catch(() => kc.kill());
  }
  process.stderr.write('\r' + ' '.repeat(40) + '\r');
  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, path.basename(file)), JSON.stringify(nb, null, 1) + '\n');
  return { ms: Date.now() - t0, error };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const all = fs.existsSync(opts.dir) ? fs.readdirSync(opts.dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
  const chosen = opts.names.length ? all.filter((f) => opts.names.some((n) => f.startsWith(n))) : all;
  const missing = opts.names.filter((n) => !all.some((f) => f.startsWith(n)));
  if (missing.length) throw new Error(`no notebook in ${path.relative(ROOT, opts.dir) || '.'} matches ${missing.join(', ')}`);
  if (!chosen.length) throw new Error(`no notebooks in ${opts.dir}`);
  const state = { kernel: undefined, interrupts: 0 };
  process.on('SIGINT', () => {
    if (++state.interrupts > 1 || !state.kernel) { console.error('\nlessons: aborted'); state.kernel?.kill(); process.exit(130); }
    console.error('\nlessons: interrupting the running cell (Ctrl-C again to abort)');
    state.kernel.interrupt().catch(() => state.kernel?.signalInterrupt());
  });
  const results = [];
  for (let i = 0; i < chosen.length; i++) {
    console.log(`[${i + 1}/${chosen.length}] ${chosen[i]}`);
    const r = await runNotebook(path.join(opts.dir, chosen[i]), opts, state);
    console.log(`      ${r.error ? 'FAILED ' + r.error : 'ok'} (${fmt(r.ms)})`);
    results.push({ name: chosen[i], ...r });
  }
  const failed = results.filter((r) => r.error);
  console.log(`\nexecuted notebooks are in ${path.relative(process.cwd(), opts.out) || '.'}/`);
  console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((e) => { console.error(`lessons: ${e.message}`); process.exit(1); });
