/**
 * Regression checks: `d2l.check` (lib/check.ts) emits the documented marker, and the golden checker
 * (runner/golden.ts, shared by the lessons runner and .ci/run) judges synthetic executed notebooks:
 * values in and out of their bands, missing checks, missing output kinds, plot trace counting.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { CHECK_MIME, check, checkBundle, formatCheckValue, numEpochs, runSchedule } from '../../lib/check';
import * as golden from '../../runner/golden';
import * as notebook from '../../runner/notebook';

const ROOT = path.resolve(__dirname, '../..');
const MIMEBUNDLE = Symbol.for('jupyter.mimebundle');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('d2l.check', () => {
  afterEach(() => {
    delete (globalThis as any).display;
    vi.restoreAllMocks();
  });

  it('builds the documented marker bundle', () => {
    expect(checkBundle('test_acc', 0.83124)).toEqual({
      [CHECK_MIME]: { name: 'test_acc', value: 0.83124 },
      'text/plain': 'check test_acc = 0.8312',
    });
    expect(CHECK_MIME).toBe('application/vnd.d2l.check+json');
    expect(checkBundle('x', NaN)[CHECK_MIME]).toEqual({ name: 'x', value: 'NaN' });
    expect(checkBundle('x', -Infinity)['text/plain']).toBe('check x = -Infinity');
  });

  it('formats values briefly', () => {
    expect(formatCheckValue(190)).toBe('190');
    expect(formatCheckValue(0.83124)).toBe('0.8312');
    expect(formatCheckValue(5.1234e-5)).toBe('5.123e-5');
    expect(formatCheckValue(12.9637, 3)).toBe('13');
    expect(formatCheckValue(2.5e7)).toBe('25000000');
    expect(formatCheckValue(2.5e-7, 2)).toBe('2.5e-7');
  });

  it('displays the marker through globalThis.display in a kernel and returns the value unchanged', () => {
    const shown: any[] = [];
    (globalThis as any).display = (obj: any) => shown.push(obj[MIMEBUNDLE]());
    expect(check('loss', 4.2e-5)).toBe(4.2e-5);
    const t = tf.scalar(190);
    expect(check('A_sum', t)).toBe(t); // a tensor comes back as the tensor
    const i = tf.tensor1d([6], 'int32');
    check('dot', i);
    expect(shown).toEqual([
      { [CHECK_MIME]: { name: 'loss', value: 4.2e-5 }, 'text/plain': 'check loss = 4.2e-5' },
      { [CHECK_MIME]: { name: 'A_sum', value: 190 }, 'text/plain': 'check A_sum = 190' },
      { [CHECK_MIME]: { name: 'dot', value: 6 }, 'text/plain': 'check dot = 6' },
    ]);
  });

  it('prints the text line with console.log outside a kernel', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(check('test_acc', 0.8312)).toBe(0.8312);
    expect(log).toHaveBeenCalledWith('check test_acc = 0.8312');
  });

  it('rejects bad names and tensors with more than one element', () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(() => check('1st', 1)).toThrow(/invalid name/);
    expect(() => check('a b', 1)).toThrow(/invalid name/);
    expect(() => check('v', tf.tensor1d([1, 2]))).toThrow(/one-element tensor, got a tensor of shape \[2\]/);
    expect(() => check('v', 'x' as any)).toThrow(TypeError);
  });

  it('reads the schedule from D2L_SCHEDULE', () => {
    const old = process.env.D2L_SCHEDULE;
    try {
      delete process.env.D2L_SCHEDULE;
      expect(runSchedule()).toBe('full');
      expect(numEpochs(10)).toBe(10);
      process.env.D2L_SCHEDULE = 'short';
      expect(runSchedule()).toBe('short');
      expect(numEpochs(10)).toBe(2);
      expect(numEpochs(10, 3)).toBe(3);
      expect(numEpochs(1)).toBe(1);
    } finally {
      if (old === undefined) delete process.env.D2L_SCHEDULE;
      else process.env.D2L_SCHEDULE = old;
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The checker on synthetic executed notebooks

let n = 0;
const code = (outputs: any[], extra: Record<string, any> = {}) => {
  n++;
  return {
    id: extra.id ?? `s${n}`,
    cell_type: 'code',
    metadata: extra.metadata ?? {},
    source: extra.source ?? 'x',
    outputs,
    execution_count: 'execution_count' in extra ? extra.execution_count : n,
  };
};
const marker = (name: string, value: unknown) => ({
  output_type: 'display_data',
  data: { [CHECK_MIME]: { name, value }, 'text/plain': `check ${name} = ${value}` },
  metadata: {},
});
const plot = (traces: number, names?: string[]) => ({
  output_type: 'display_data',
  data: {
    'application/vnd.plotly.v1+json': { data: Array.from({ length: traces }, (_, i) => ({ y: [1, 2], name: names?.[i] })), layout: {} },
    'text/html': '<div>plot</div>',
    'text/plain': 'Figure',
  },
  metadata: {},
});
const result = (text: string, count = 1) => ({ output_type: 'execute_result', execution_count: count, data: { 'text/plain': text }, metadata: {} });
const nbOf = (cells: any[]) => ({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'd2l-ts', display_name: 'TypeScript (d2l-ts)' } },
  cells: [{ id: 'md', cell_type: 'markdown', metadata: {}, source: '# t' }, ...cells],
});

function synthetic() {
  n = 0;
  return nbOf([
    code([{ output_type: 'stream', name: 'stdout', text: 'epoch 1\n' }, marker('test_acc', 0.8312), marker('loss', 5.1e-5)], { id: 'train' }),
    code([plot(3, ['train loss', 'train acc', 'test acc'])], { id: 'curves', metadata: { tags: ['figure'] } }),
    code([result('tensor(190.)', 3)], { id: 'sum', execution_count: 3 }),
    code([{ output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': 'img' }, metadata: {} }], { id: 'img' }),
  ]);
}
const GOLDEN = {
  checks: { test_acc: { min: 0.8 }, loss: { min: 3e-5, max: 1e-4 } },
  outputs: [
    { kind: 'plot', traces: 3, count: 1 },
    { kind: 'image' },
    { kind: 'execute_result', cell: 'sum', text: 'tensor(190.)' },
  ],
};
const failures = (res: any) => res.results.filter((r: any) => !r.ok);

describe('check-golden', () => {
  it('passes a notebook whose values are in band and whose outputs are there', () => {
    const res = golden.checkNotebook(synthetic(), GOLDEN, { name: 'syn' });
    expect(failures(res)).toEqual([]);
    expect(res.checks.map((c: any) => [c.name, c.value, c.band, c.ok])).toEqual([
      ['test_acc', 0.8312, '>= 0.8', true],
      ['loss', 5.1e-5, 'in [3e-5, 1e-4]', true],
    ]);
    expect(res.passed).toBe(2 + 2 + 3); // schema, cells, 2 checks, 3 outputs
    const text = golden.formatResult(res);
    expect(text).toContain('ok   check test_acc = 0.8312 >= 0.8  [cell 1 (In[1], id train)]');
    expect(text).toContain('syn: 7 passed, 0 failed');
  });

  it('fails a value out of its band, naming notebook, cell and value', () => {
    const nb = synthetic();
    nb.cells[1].outputs[2] = marker('loss', 2.5e-4);
    const res = golden.checkNotebook(nb, GOLDEN, { name: 'syn' });
    expect(res.failed).toBe(1);
    expect(golden.failureMessages(res)).toEqual(['syn cell 1 (In[1], id train): check loss = 2.5e-4 in [3e-5, 1e-4] — above the band']);
    nb.cells[1].outputs[1] = marker('test_acc', 'NaN');
    expect(golden.failureMessages(golden.checkNotebook(nb, GOLDEN, { name: 'syn' }))[0]).toContain('check test_acc = NaN >= 0.8 — not a finite number');
  });

  it('supports equals with abs/rel tolerance and short-schedule bands', () => {
    const b = golden.bandViolation;
    expect(b(190, { equals: 190 })).toBeNull();
    expect(b(190.0001, { equals: 190 })).toBe('off by 1e-4');
    expect(b(190.0000005, { equals: 190, abs: 1e-6 })).toBeNull();
    expect(b(0.504, { equals: 0.5, rel: 0.01 })).toBeNull();
    expect(b(0.506, { equals: 0.5, rel: 0.01 })).toBe('off by 0.006');
    expect(b(0.79, { min: 0.8 })).toBe('below the band');
    expect(golden.describeBand({ equals: 190, abs: 1e-6 })).toBe('== 190 ± 1e-6');
    const nb = synthetic();
    nb.cells[1].outputs[1] = marker('test_acc', 0.72);
    const g = { ...GOLDEN, checks: { ...GOLDEN.checks, test_acc: { min: 0.8, short: { min: 0.7 } } } };
    expect(golden.checkNotebook(nb, g, { schedule: 'full' }).failed).toBe(1);
    expect(golden.checkNotebook(nb, g, { schedule: 'short' }).failed).toBe(0);
    nb.metadata.d2l = { schedule: 'short' }; // written by `npm run lessons -- --schedule short`
    expect(golden.checkNotebook(nb, g).failed).toBe(0);
  });

  it('fails a check that was never emitted, and a marker that has no band', () => {
    const nb = synthetic();
    nb.cells[1].outputs.splice(1, 1); // no test_acc marker
    nb.cells[1].outputs.push(marker('w_err', 1e-3));
    const msgs = golden.failureMessages(golden.checkNotebook(nb, GOLDEN, { name: 'syn' }));
    expect(msgs).toEqual([
      "syn: check test_acc >= 0.8 — missing: no d2l.check('test_acc', …) output",
      'syn cell 1 (In[1], id train): check w_err = 0.001 — no band for it in the golden file',
    ]);
    const optional = { ...GOLDEN, checks: { ...GOLDEN.checks, test_acc: { min: 0.8, optional: true }, w_err: { max: 2e-3 } } };
    expect(golden.checkNotebook(nb, optional).failed).toBe(0);
  });

  it('fails missing output kinds and wrong texts, showing what the cell printed', () => {
    const nb = synthetic();
    nb.cells[4].outputs = []; // no image
    nb.cells[3].outputs = [result('tensor([40., 45., 50., 55.])', 3)];
    const msgs = golden.failureMessages(golden.checkNotebook(nb, GOLDEN, { name: 'syn' }));
    expect(msgs).toEqual([
      'syn: image — found 0, expected at least 1',
      'syn cell 3 (In[3], id sum): execute_result in sum: text = "tensor(190.)" — found 0, expected at least 1; got "tensor([40., 45., 50., 55.])"',
    ]);
    const g = { checks: GOLDEN.checks, outputs: [{ kind: 'execute_result', cell: 'nope' }, { kind: 'error', count: 0 }, { kind: 'stream', name: 'stderr' }] };
    const m2 = golden.failureMessages(golden.checkNotebook(synthetic(), g, { name: 'syn' }));
    expect(m2).toEqual(['syn: execute_result in nope — no code cell has id or tag "nope"', 'syn: stream: stderr — found 0, expected at least 1']);
  });

  it('counts plots and their traces (the final figure), by cell id or tag', () => {
    const nb = synthetic();
    nb.cells.push(code([plot(1)], { id: 'one' }));
    const check = (e: any) => golden.checkNotebook(nb, { checks: GOLDEN.checks, outputs: [e] }).failed === 0;
    expect(check({ kind: 'plot', count: 2 })).toBe(true);
    expect(check({ kind: 'plot', count: 1 })).toBe(false);
    expect(check({ kind: 'plot', traces: 3, count: 1 })).toBe(true);
    expect(check({ kind: 'plot', traces: 1, cell: 'one' })).toBe(true);
    expect(check({ kind: 'plot', traces: 2 })).toBe(false);
    expect(check({ kind: 'plot', cell: 'figure', names: ['train loss', 'train acc', 'test acc'] })).toBe(true);
    expect(check({ kind: 'plot', cell: 'figure', names: ['train loss'] })).toBe(false);
    expect(check({ kind: 'plot', mime: 'text/html', count: 2 })).toBe(true);
    expect(check({ kind: 'image', count: 1 })).toBe(true); // plots are not images
    expect(check({ kind: 'display_data', count: 3 })).toBe(true); // 2 plots + 1 image; check markers excluded
    const res = golden.checkNotebook(nb, { checks: GOLDEN.checks, outputs: [{ kind: 'plot', traces: 3, count: 2 }] }, { name: 'syn' });
    expect(golden.failureMessages(res)).toEqual(['syn: 2× plot: 3 traces — found 1, expected 2']);
  });

  it('reports cell errors and cells that did not run', () => {
    const nb = synthetic();
    nb.cells[2].outputs = [{ output_type: 'error', ename: 'TypeError', evalue: 'boom', traceback: [] }];
    nb.cells[3].execution_count = null;
    nb.cells[3].outputs = [];
    nb.cells[4].execution_count = null;
    nb.cells[4].outputs = [];
    const msgs = golden.failureMessages(golden.checkNotebook(nb, GOLDEN, { name: 'syn' }));
    expect(msgs[0]).toBe('syn cell 2 (In[2], id curves): error TypeError: boom');
    expect(msgs[1]).toBe('syn cell 3 (In[ ], id sum), cell 4 (In[ ], id img): 2 of 4 code cells did not run — the run stopped at cell 2 (In[2], id curves)');
    expect(msgs.some((m: string) => m.includes('(the run stopped at cell 2'))).toBe(true);
    // A raises-exception cell may fail; empty cells and skip-execution cells are not expected to run.
    const ok = synthetic();
    ok.cells[2].metadata = { tags: ['raises-exception'] };
    ok.cells[2].outputs.push({ output_type: 'error', ename: 'TypeError', evalue: 'boom', traceback: [] });
    ok.cells.push(code([], { source: '  \n', execution_count: null }), code([], { metadata: { tags: ['skip-execution'] }, execution_count: null }));
    expect(failures(golden.checkNotebook(ok, GOLDEN))).toEqual([]);
  });

  it('validates golden files with a schema and names the problems', () => {
    expect(golden.validateGolden(GOLDEN)).toEqual([]);
    const bad = golden.validateGolden({
      fast: 'yes',
      checks: { 'bad name': { min: 1 }, acc: {}, loss: { max: 1, abs: 0.1 } },
      outputs: [{ kind: 'picture' }, { kind: 'stream', traces: 2 }, { kind: 'stream', match: '(' }],
      extra: 1,
    });
    const text = bad.join('\n');
    expect(text).toContain('/fast: must be boolean');
    expect(text).toContain('must NOT have additional properties (extra)');
    expect(text).toContain('/checks: property name must be valid');
    expect(text).toContain('/checks/acc: must match a schema in anyOf');
    expect(text).toContain('/checks/loss: must have property equals when property abs is present');
    expect(text).toContain('/outputs/0/kind: must be equal to one of the allowed values');
    const semantic = golden.validateGolden({ outputs: [{ kind: 'stream', traces: 2 }, { kind: 'stream', match: '(' }] });
    expect(semantic[0]).toBe('/outputs/0: "traces" does not apply to kind stream');
    expect(semantic[1]).toMatch(/^\/outputs\/1\/match: Invalid regular expression/);
  });

  it('every golden file is valid and belongs to a notebook, and every notebook has one', () => {
    const goldens = fs.readdirSync(path.join(ROOT, 'tests/golden')).filter((f) => f.endsWith('.json'));
    const notebooks = fs.readdirSync(path.join(ROOT, 'notebooks')).filter((f) => f.endsWith('.ipynb'));
    for (const g of goldens) {
      expect(() => golden.loadGolden(path.join(ROOT, 'tests/golden', g))).not.toThrow();
      expect(notebooks, `tests/golden/${g} has no notebook`).toContain(g.replace(/\.json$/, '.ipynb'));
    }
    for (const nb of notebooks) expect(goldens, `notebooks/${nb} has no golden file`).toContain(nb.replace(/\.ipynb$/, '.json'));
  });

  it('reads and writes notebooks like nbformat (split lines, sorted keys, indent 1)', () => {
    const nb = synthetic();
    nb.cells[1].outputs[0].text = 'a\nb\r\nc';
    const s = notebook.serializeNotebook(nb);
    expect(s.endsWith('}\n')).toBe(true);
    const back = JSON.parse(s);
    expect(Object.keys(back)).toEqual(['cells', 'metadata', 'nbformat', 'nbformat_minor']);
    expect(back.cells[1].outputs[0].text).toEqual(['a\n', 'b\r\n', 'c']);
    expect(back.cells[1].outputs[1].data[CHECK_MIME]).toEqual({ name: 'test_acc', value: 0.8312 }); // JSON mime left alone
    expect(notebook.parseNotebook(s)).toEqual(nb);
    expect(notebook.validateNotebook(back)).toEqual([]);
  });
});

describe('check-golden: stream chunks', () => {
  it('joins consecutive stream chunks of a cell, so nbconvert and the runner pass the same expectations', () => {
    const cell = { cell_type: 'code', id: 'a', execution_count: 1, metadata: {}, source: 'x',
      outputs: [{ output_type: 'stream', name: 'stdout', text: 'line1\n' }, { output_type: 'stream', name: 'stdout', text: 'line2\n' },
        { output_type: 'stream', name: 'stderr', text: 'warn\n' }] };
    const nb = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [cell] };
    const ok = golden.checkNotebook(nb, { outputs: [{ kind: 'stream', cell: 'a', name: 'stdout', text: 'line1\nline2', count: 1 }] }, { name: 't' });
    expect(ok.failed).toBe(0);
    const bad = golden.checkNotebook(nb, { outputs: [{ kind: 'stream', cell: 'a', text: 'line1\nline2\nwarn' }] }, { name: 't' });
    expect(bad.failed).toBeGreaterThan(0); // different stream names are not joined
  });
});
