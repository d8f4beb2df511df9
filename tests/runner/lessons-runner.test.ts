/**
 * `d2l-ts lessons` (`npm run lessons`) executes notebooks through the kernel over the protocol and checks them
 * against their golden files with runner/golden.ts, the checker .ci/run applies to nbconvert's output
 * (`d2l-ts check-golden`), so both clients must agree. The command runs from dist/, built first when stale.
 *
 * `npm test` runs the fast lecture notebooks (golden `"fast": true`) with the short schedule;
 * `D2L_LESSONS=all` (`npm run test:lessons`) runs every notebook (D2L_SCHEDULE picks the schedule, default short).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { codeCells, readNotebook, validateNotebook } from '../../runner/notebook';

const ROOT = path.resolve(__dirname, '../..');
const D2L = 'bin/d2l-ts.js';

/** The newest modification time under `dir` of files ending in `ext`. */
function newest(dir: string, ext: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

/** `d2l-ts lessons` runs dist/runner/cli.js and the kernel from dist/: build when dist/ is missing or stale. */
beforeAll(() => {
  const built = path.join(ROOT, 'dist', 'runner', 'cli.js');
  const sources = Math.max(...['common', 'jupyter', 'kernel', 'lib', 'runner'].map((d) => newest(path.join(ROOT, d), '.ts')));
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < sources) {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore', timeout: 300000 });
  }
}, 310000);

const runner = (args: string[], opts: { timeout?: number; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(process.execPath, [D2L, 'lessons', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120000,
    env: { ...process.env, ...opts.env },
  });
/** out/ (absent in a fresh clone until something writes there). */
const outDir = () => { const d = path.join(ROOT, 'out'); fs.mkdirSync(d, { recursive: true }); return d; };
const tmpOut = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `lessons-${tag}-`));

describe('lessons runner', () => {
  it('runs the smoke notebook through the kernel and writes an executed notebook', () => {
    const out = tmpOut('smoke');
    const run = runner(['--dir', 'tests/fixtures', '--out', out, '--report', 'none', 'smoke']);
    expect(run.stdout).toContain('1 passed, 0 failed');
    expect(run.status).toBe(0);
    const check = execFileSync(process.execPath, ['tests/conformance/check-smoke.js', path.join(out, 'smoke.ipynb')], { cwd: ROOT, encoding: 'utf8' });
    expect(check).toContain('7 passed, 0 failed');
  }, 60000);

  it('fails with the notebook, cell and error named when a cell throws', () => {
    const dir = fs.mkdtempSync(path.join(outDir(), 'broken-'));
    try {
      const nb = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/fixtures/smoke.ipynb'), 'utf8'));
      nb.cells.find((c: any) => c.cell_type === 'code' && c.metadata?.tags?.includes('raises-exception')).metadata = {};
      fs.writeFileSync(path.join(dir, 'broken.ipynb'), JSON.stringify(nb));
      const run = runner(['--dir', dir, '--out', dir, '--report', 'none']);
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('FAILED broken cell 3 (In[3], id smoke-3): error TypeError: smoke 7');
      expect(run.stdout).toContain('0 passed, 1 failed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);

  it('names an unknown notebook and rejects bad options', () => {
    const run = runner(['no-such-lecture']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('matches no-such-lecture');
    expect(runner(['--schedule', 'long']).stderr).toContain('--schedule (or D2L_SCHEDULE) is full or short');
  });
});

// ---------------------------------------------------------------------------------------------------------
// The lecture notebooks against their golden files

const ALL = process.env.D2L_LESSONS === 'all';
const SCHEDULE = process.env.D2L_SCHEDULE || 'short';
const goldenOf = (f: string) => {
  const g = path.join(ROOT, 'tests/golden', f.replace(/\.ipynb$/, '.json'));
  return fs.existsSync(g) ? JSON.parse(fs.readFileSync(g, 'utf8')) : {};
};
const lectures = fs.readdirSync(path.join(ROOT, 'notebooks')).filter((f) => f.endsWith('.ipynb')).sort();
const selected = ALL ? lectures : lectures.filter((f) => goldenOf(f).fast === true);

describe(`lecture notebooks (${ALL ? 'all' : 'fast'}, schedule ${SCHEDULE})`, () => {
  const out = tmpOut('lectures');
  let run: { status: number | null; stdout: string; stderr: string };
  // Budget for the whole run: the fast notebooks take 1-2 min on 2 idle cores; all of them, ~15 min.
  const budget = ALL ? 44 * 60000 : 12 * 60000;
  beforeAll(async () => {
    // One runner invocation, as `npm run lessons` would do it: it also writes the report. Asynchronous, so
    // vitest's worker stays responsive during a run of several minutes.
    const names = selected.map((f) => f.replace(/\.ipynb$/, ''));
    run = await new Promise((resolve) => {
      execFile(process.execPath, [D2L, 'lessons', '--schedule', SCHEDULE, '--out', out, ...names],
        { cwd: ROOT, encoding: 'utf8', timeout: budget, maxBuffer: 64 << 20, env: { ...process.env, FORCE_COLOR: '0' } },
        (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
  }, budget + 60000);
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('has fast notebooks to run in npm test', () => {
    expect(selected.length).toBeGreaterThan(0);
  });

  it('every selected notebook passes its golden checks', () => {
    const stdout = String(run.stdout);
    if (run.status !== 0) throw new Error(`runner exited ${run.status}:\n${stdout.slice(-4000)}\n${String(run.stderr).slice(-2000)}`);
    expect(stdout).toContain(`${selected.length} passed, 0 failed`);
  });

  it.each(selected)('%s: the executed notebook is valid nbformat 4.5 with outputs and execution counts', (f) => {
    const nb = JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'));
    expect(validateNotebook(nb)).toEqual([]);
    const cells = codeCells(readNotebook(path.join(out, f)));
    expect(cells.every((c: any) => Number.isInteger(c.cell.execution_count))).toBe(true);
    expect(cells.map((c: any) => c.cell.execution_count)).toEqual(cells.map((_: any, i: number) => i + 1));
    expect(cells[0].cell.metadata.execution['iopub.status.idle']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(nb.metadata.d2l?.schedule).toBe(SCHEDULE === 'short' ? 'short' : undefined);
    // An invalid notebook is rejected, naming the place.
    const bad = JSON.parse(JSON.stringify(nb));
    const badCell = bad.cells.find((c: any) => c.cell_type === 'code');
    delete badCell.outputs;
    bad.cells.find((c: any, i: number) => c.cell_type === 'code' && c !== badCell && i).outputs.push({ output_type: 'picture' });
    const errors = validateNotebook(bad).join('\n');
    expect(errors).toContain("must have required property 'outputs'");
    expect(validateNotebook({ ...nb, nbformat_minor: 4 })[0]).toContain('the vendored schema is v4.5');
  });

  it('writes out/index.html with the summary table and one section per notebook', () => {
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).toContain('<table class="summary">');
    expect(html).toContain('<th>checked values vs bands</th>');
    expect(html.match(/<section class="notebook"/g)?.length).toBe(selected.length);
    for (const f of selected) {
      const name = f.replace(/\.ipynb$/, '');
      expect(html).toContain(`<section class="notebook" id="nb-${name}">`);
      expect(fs.existsSync(path.join(out, `${name}.html`))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Proof that the checks can fail, and check values end to end (kernel → marker → checker → report)

describe('golden checks through the runner', () => {
  it('a deliberately broken copy of lecture 05 fails its golden check, naming cell and value', () => {
    const out = tmpOut('broken05');
    const run = runner(['--dir', 'tests/fixtures', '--out', out, '--report', 'none', 'broken-05']);
    expect(run.status).toBe(1);
    // (Listed again under "failures:" at the end, whatever else fails once lecture 05 reports d2l.check values.)
    expect(run.stdout).toContain(
      'broken-05-linear-algebra cell 19 (In[19], id c35): execute_result in c35: text = "tensor(190.)" (A.sum(axis=[0, 1]) = 190) — found 0, expected at least 1; got "tensor([40., 45., 50., 55.])"',
    );
    expect(run.stdout).toContain('0 passed, 1 failed');
    // The CLI .ci/run uses says the same about the same file.
    const cli = spawnSync(process.execPath, [D2L, 'check-golden', path.join(out, 'broken-05-linear-algebra.ipynb')], { cwd: ROOT, encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain('FAIL execute_result in c35: text = "tensor(190.)"');
    expect(cli.stdout).toMatch(/: \d+ passed, [1-9]\d* failed\n$/);
  }, 60000);

  it('d2l.check values and plots are checked against bands (short schedule) and shown in the report', () => {
    const dir = fs.mkdtempSync(path.join(outDir(), 'checks-'));
    try {
      const cell = (id: string, source: string) => ({ id, cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null });
      const nb = (cells: any[]) => ({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'd2l-ts', display_name: 'TypeScript (d2l-ts)' } }, cells });
      const fig = "{ data: [{ y: [3, 1, 2], name: 'train loss' }, { y: [1, 2, 3], name: 'test acc' }], layout: {} }";
      fs.writeFileSync(path.join(dir, 'a-train.ipynb'), JSON.stringify(nb([
        cell('imp', "import { check, numEpochs } from 'd2l-ts/dist/lib/check';\nconst epochs = numEpochs(10);\nepochs"),
        cell('fig', `display({ [Symbol.for('jupyter.mimebundle')]: () => ({ 'application/vnd.plotly.v1+json': ${fig}, 'text/html': '<b>fallback</b>', 'text/plain': 'Figure' }) });`),
        cell('acc', "check('test_acc', 0.5 + epochs * 0.1)"),
      ])));
      const markdown = { id: 'md', cell_type: 'markdown', metadata: {}, source: '## Notes\n\nA **bold** `code` word, $x^2$ and\n$$\\sum_i a_i$$' };
      fs.writeFileSync(path.join(dir, 'b-other.ipynb'), JSON.stringify(nb([markdown, cell('x', '1 + 1')])));
      const goldenDir = path.join(dir, 'golden');
      fs.mkdirSync(goldenDir);
      const writeGolden = (acc: object) => fs.writeFileSync(path.join(goldenDir, 'a-train.json'), JSON.stringify({
        checks: { test_acc: acc },
        outputs: [{ kind: 'plot', traces: 2, count: 1 }, { kind: 'execute_result', cell: 'imp', text: '2', schedule: 'short' }],
      }));
      const args = ['--dir', dir, '--out', path.join(dir, 'out'), '--golden-dir', goldenDir, '--schedule', 'short', '--report', 'builtin'];

      writeGolden({ min: 0.9, short: { equals: 0.7, abs: 1e-9 } }); // short: 2 epochs → 0.7
      const ok = runner(args);
      expect(ok.stdout).toContain('2 passed, 0 failed');
      expect(ok.status).toBe(0);
      const index = fs.readFileSync(path.join(dir, 'out', 'index.html'), 'utf8');
      expect(index.match(/<section class="notebook"/g)?.length).toBe(2);
      expect(index).toContain('<code>test_acc = 0.7</code> <span class="muted">== 0.7 ± 1e-9</span>');
      const page = fs.readFileSync(path.join(dir, 'out', 'a-train.html'), 'utf8');
      expect(page.split('inlined by d2l-ts */').length - 1).toBe(1); // plotly inlined once
      expect(page).toContain('Plotly.newPlot(el, f.data, f.layout, f.config)');
      expect(page).not.toContain('<b>fallback</b>');
      // The built-in renderer renders markdown, and TeX as MathML.
      const other = fs.readFileSync(path.join(dir, 'out', 'b-other.html'), 'utf8');
      expect(other).toContain('<h2>Notes</h2>');
      expect(other).toContain('A <strong>bold</strong> <code>code</code> word, <math>');
      expect(other).toContain('<math display="block"');
      expect(other).not.toMatch(/\*\*|\$/);

      writeGolden({ min: 0.9, short: { min: 0.8 } }); // out of band now
      const bad = runner([...args, 'a-']);
      expect(bad.status).toBe(1);
      expect(bad.stdout).toContain('FAILED a-train cell 3 (In[3], id acc): check test_acc = 0.7 >= 0.8 — below the band');
      // The index keeps the other notebook's earlier result and shows the new failure.
      const index2 = fs.readFileSync(path.join(dir, 'out', 'index.html'), 'utf8');
      expect(index2).toContain('1 of 2 notebooks passed');
      expect(index2).toContain('<span class="fail">✗</span> <code>test_acc = 0.7</code>');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});
