#!/usr/bin/env node
// Checks a smoke notebook executed by real Jupyter (`jupyter nbconvert --to notebook --execute`):
// execute_result with execution_count, PyTorch-style tensor text, an error with ename and a cell frame,
// a display that was updated in place, and that cells after the error still ran.
const fs = require('fs');
const file = process.argv[2];
if (!file) { console.error('usage: check-smoke.js EXECUTED.ipynb'); process.exit(2); }
const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
const code = nb.cells.filter((c) => c.cell_type === 'code');
const text = (v) => (Array.isArray(v) ? v.join('') : v ?? '');
let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) { passed++; console.log(`  ok   ${name}`); } else { failed++; console.log(`  FAIL ${name}: ${detail}`); }
}
const out = (i, type) => code[i].outputs.find((o) => o.output_type === type);
const r0 = out(0, 'execute_result');
check('execute_result with execution_count', r0 && r0.execution_count === 1 && text(r0.data['text/plain']) === '3', JSON.stringify(code[0].outputs));
const r1 = out(1, 'execute_result');
check('tensor printed like PyTorch', r1 && text(r1.data['text/plain']) === 'tensor([[0., 1., 2.],\n        [3., 4., 5.]])' && text(r1.data['text/html']).includes('<table'), JSON.stringify(r1));
const e = out(2, 'error');
check('error with ename/evalue', e && e.ename === 'TypeError' && e.evalue === 'smoke 7', JSON.stringify(e));
check('traceback names the cell and line', e && e.traceback.join('\n').includes(`Cell In[${code[2].execution_count}], line 2, in fails`), e && e.traceback.join('\n'));
const d = code[3].outputs.filter((o) => o.output_type === 'display_data');
check('display updated in place (one output, last value)', d.length === 1 && text(d[0].data['text/plain']) === "'step 3'", JSON.stringify(code[3].outputs));
const last = code[4];
check('cells after an error run', text(out(4, 'stream')?.text) === 'still alive\n' && text(out(4, 'execute_result')?.data['text/plain']) === "'done'", JSON.stringify(last.outputs));
check('execution counts are 1..5', code.map((c) => c.execution_count).join() === '1,2,3,4,5', code.map((c) => c.execution_count).join());
console.log(`smoke notebook: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
