/**
 * `d2l-ts lessons [NAME...] [options]` (`npm run lessons`): executes lecture notebooks through the d2l-ts
 * kernel over the Jupyter protocol (the path Jupyter uses), cell by cell with a fresh kernel per notebook, checks
 * each executed notebook against its golden file (runner/golden.ts, the checker .ci/run uses on nbconvert's
 * output), and writes out/<name>.ipynb, out/<name>.html and out/index.html (summary table + one section per
 * notebook). Exit code 1 when a cell fails or a checked value leaves its band; the message names notebook,
 * cell and value. Ctrl-C interrupts the running cell and ends the run after that notebook; twice aborts.
 *
 * Modules: execute.ts (running a notebook like nbclient, with outputs.ts), notebook.ts (nbformat read/write/
 * validate), progress.ts (progress on stderr), report.ts (HTML).
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';
import { executeNotebook, type NotebookRun, type RunState } from './execute';
import * as golden from './golden';
import { notebookName, readNotebook, writeNotebook, type Notebook } from './notebook';
import { ROOT } from './paths';
import { fmt, Progress } from './progress';
import { renderPages, writeIndex, type IndexEntry } from './report';

const USAGE = `usage: d2l-ts lessons [NAME...] [options]      (npm run lessons [-- NAME...] [options])
  NAME              run the notebooks whose file name starts with NAME (\`09\`, \`23-lenet\`); default: all
  --verbose, -v     copy each running cell's streamed output (and check lines) to stderr
  --timeout SEC     per-cell limit in seconds (default 900)
  --schedule S      full (default) or short: sets D2L_SCHEDULE for the kernel (fewer epochs) and uses the
                    golden files' short bands; default $D2L_SCHEDULE or full
  --fast            only the notebooks whose golden file says "fast": true
  --report R        auto (nbconvert when found, else the built-in renderer), nbconvert, builtin or none
  --no-report       same as --report none
  --out DIR         where executed notebooks and the report go (default out/)
  --dir DIR         where the notebooks are (default notebooks/)
  --golden-dir DIR  where the golden files are (default tests/golden)`;

interface Options {
  names: string[];
  verbose: boolean;
  timeout: number;
  fast: boolean;
  report: string;
  schedule: string;
  out: string;
  dir: string;
  goldenDir: string;
  help?: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    names: [], verbose: false, timeout: 900, fast: false, report: 'auto',
    schedule: (process.env.D2L_SCHEDULE || 'full').trim().toLowerCase(),
    out: path.join(ROOT, 'out'), dir: path.join(ROOT, 'notebooks'), goldenDir: golden.GOLDEN_DIR,
  };
  const value = (i: number, a: string) => {
    if (i >= argv.length) throw new Error(`${a} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--timeout') o.timeout = Number(value(++i, a));
    else if (a === '--schedule') o.schedule = value(++i, a);
    else if (a === '--fast') o.fast = true;
    else if (a === '--report') o.report = value(++i, a);
    else if (a === '--no-report') o.report = 'none';
    else if (a === '--out') o.out = path.resolve(value(++i, a));
    else if (a === '--dir') o.dir = path.resolve(value(++i, a));
    else if (a === '--golden-dir') o.goldenDir = path.resolve(value(++i, a));
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else o.names.push(a);
  }
  if (!(o.timeout > 0)) throw new Error('--timeout needs a positive number of seconds');
  if (!['full', 'short'].includes(o.schedule)) throw new Error(`--schedule (or D2L_SCHEDULE) is full or short, not ${o.schedule}`);
  if (!['auto', 'nbconvert', 'builtin', 'none'].includes(o.report)) throw new Error('--report is auto, nbconvert, builtin or none');
  return o;
}

interface Selected {
  file: string;
  name: string;
  nb: Notebook;
  golden: { file: string; golden: golden.Golden } | null;
}

/** The golden file of a notebook (parsed and validated), or null. Throws when it is invalid. */
function goldenOf(nb: Notebook, file: string, opts: Options): Selected['golden'] {
  const g = golden.goldenPathFor(nb, file, opts.goldenDir);
  return fs.existsSync(g) ? { file: g, golden: golden.loadGolden(g) } : null;
}

/** Picks the notebooks to run; validates their golden files before anything runs. */
function selectNotebooks(opts: Options): Selected[] {
  const all = fs.existsSync(opts.dir) ? fs.readdirSync(opts.dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
  const missing = opts.names.filter((n) => !all.some((f) => f.startsWith(n)));
  if (missing.length) throw new Error(`no notebook in ${path.relative(ROOT, opts.dir) || '.'} matches ${missing.join(', ')}`);
  const chosen = opts.names.length ? all.filter((f) => opts.names.some((n) => f.startsWith(n))) : all;
  if (!chosen.length) throw new Error(`no notebooks in ${opts.dir}`);
  const list = chosen.map((f) => {
    const file = path.join(opts.dir, f);
    const nb = readNotebook(file);
    return { file, name: notebookName(file), nb, golden: goldenOf(nb, file, opts) };
  });
  if (opts.fast) {
    const fast = list.filter((e) => e.golden?.golden.fast);
    if (!fast.length) throw new Error('--fast: no selected notebook has "fast": true in its golden file');
    return fast;
  }
  return list;
}

/** out/lessons.json: the latest result of every notebook run into this out dir (the index lists them all). */
function loadDb(out: string): { notebooks: Record<string, IndexEntry> } {
  try {
    return JSON.parse(fs.readFileSync(path.join(out, 'lessons.json'), 'utf8'));
  } catch {
    return { notebooks: {} };
  }
}

type Result = IndexEntry & { ms: number; failures: string[]; check: golden.NotebookCheck; nb: Notebook };

/** Runs the notebooks `argv` selects; resolves to the exit code (0, 1, or 130 when interrupted). */
export async function main(argv: string[]): Promise<number> {
  try {
    return await lessons(parseArgs(argv));
  } catch (e) {
    console.error(`lessons: ${(e as Error).message}`);
    return 1;
  }
}

async function lessons(opts: Options): Promise<number> {
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const chosen = selectNotebooks(opts);
  const state: RunState = { kernel: undefined, interrupts: 0, interrupted: false };
  const onSigint = () => {
    if (++state.interrupts > 1 || !state.kernel) { console.error('\nlessons: aborted'); state.kernel?.kill(); process.exit(130); }
    state.interrupted = true;
    console.error('\nlessons: interrupting the running cell; the run ends after this notebook (Ctrl-C again to abort)');
    state.kernel.interrupt().catch(() => state.kernel?.signalInterrupt());
  };
  process.on('SIGINT', onSigint);
  try {
    return await runAll(chosen, opts, state);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function runAll(chosen: Selected[], opts: Options, state: RunState): Promise<number> {
  const progress = new Progress({ verbose: opts.verbose });
  fs.mkdirSync(opts.out, { recursive: true });
  const t0 = Date.now();
  const results: Result[] = [];
  for (let i = 0; i < chosen.length && !state.interrupted; i++) {
    const e = chosen[i];
    console.log(`[${i + 1}/${chosen.length}] ${path.basename(e.file)}${opts.schedule === 'short' ? ' (short schedule)' : ''}`);
    progress.notebook(i + 1, chosen.length, e.name);
    let run: NotebookRun & { crashed?: boolean };
    try {
      run = await executeNotebook(e.nb, path.dirname(e.file), { timeoutSec: opts.timeout, schedule: opts.schedule }, state, progress);
    } catch (err) {
      run = { ms: 0, error: `the kernel failed: ${(err as Error).message}`, stopped: true, crashed: true };
    }
    writeNotebook(path.join(opts.out, `${e.name}.ipynb`), e.nb);
    const check = golden.checkNotebook(e.nb, e.golden?.golden ?? null, { name: e.name, schedule: opts.schedule });
    check.golden = e.golden?.file ?? null;
    const failures = golden.failureMessages(check);
    if (run.crashed) failures.unshift(`${e.name}: ${run.error}`);
    const ok = failures.length === 0;
    const nChecks = check.checks.length;
    if (ok) console.log(`      ok (${fmt(run.ms)}; ${check.passed} checks passed${nChecks ? `, ${nChecks} values in band` : ''}${e.golden ? '' : '; no golden file'})`);
    else {
      for (const f of failures.slice(0, 8)) console.log(`      FAILED ${f}`);
      if (failures.length > 8) console.log(`      … and ${failures.length - 8} more failures`);
      console.log(`      (${fmt(run.ms)}; ${check.passed} checks passed, ${check.failed} failed)`);
    }
    results.push({ name: e.name, ms: run.ms, ok, error: run.error, failures, check, schedule: opts.schedule, ranAt: new Date().toISOString(), html: `${e.name}.html`, ipynb: `${e.name}.ipynb`, nb: e.nb });
  }
  const totalMs = Date.now() - t0;

  // Report: pages for this run's notebooks, the index for every notebook run into this out dir.
  const db = loadDb(opts.out);
  for (const r of results) {
    const { nb, ...rest } = r;
    db.notebooks[r.name] = rest;
  }
  fs.writeFileSync(path.join(opts.out, 'lessons.json'), JSON.stringify(db, null, 1) + '\n');
  let reportLine = '';
  let reportFailed = false;
  if (opts.report !== 'none' && results.length) {
    try {
      const pages = renderPages(results, opts.out, opts.report);
      if (pages.failed.length) console.error(`lessons: nbconvert failed for ${pages.failed.join(', ')}; used the built-in renderer:\n${pages.log.slice(-2000)}`);
      const entries = Object.values(db.notebooks)
        .filter((r) => fs.existsSync(path.join(opts.out, r.ipynb)))
        .sort((a, b) => a.name.localeCompare(b.name));
      const index = writeIndex(entries, opts.out, { renderer: pages.renderer, totalMs, started: new Date(t0).toISOString() });
      reportLine = `report: ${path.relative(process.cwd(), index) || index} (pages rendered by ${pages.renderer})`;
    } catch (err) {
      reportLine = `report: not written: ${(err as Error).message}`;
      reportFailed = true;
    }
  }

  // Summary
  const failed = results.filter((r) => !r.ok);
  const w = Math.max(8, ...results.map((r) => r.name.length));
  console.log(`\n${'notebook'.padEnd(w)}  ${'time'.padStart(10)}  values  checks   result`);
  for (const r of results) {
    const vals = r.check.checks.length ? `${r.check.checks.filter((c) => c.ok).length}/${r.check.checks.length}` : '-';
    console.log(`${r.name.padEnd(w)}  ${fmt(r.ms).padStart(10)}  ${vals.padStart(6)}  ${`${r.check.passed}/${r.check.passed + r.check.failed}`.padStart(6)}   ${r.ok ? 'ok' : 'FAILED'}`);
  }
  if (failed.length) {
    console.log('\nfailures:');
    for (const r of failed) for (const f of r.failures) console.log(`  ${f}`);
  }
  const skipped = chosen.length - results.length;
  if (skipped) console.log(`\ninterrupted: ${skipped} notebook${skipped === 1 ? '' : 's'} not run`);
  console.log(`\nexecuted notebooks are in ${path.relative(process.cwd(), opts.out) || '.'}/ (${fmt(totalMs)}, schedule ${opts.schedule})`);
  if (reportLine) console.log(reportLine);
  console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
  if (state.interrupted) return 130;
  return failed.length || reportFailed ? 1 : 0;
}

if (require.main === module) main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
