/**
 * `npm run lessons` executes notebooks through the kernel over the protocol; the same smoke notebook is
 * checked by the same script as the nbconvert run in .ci/run, so both clients must agree.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

describe('lessons runner', () => {
  it('runs the smoke notebook through the kernel and writes an executed notebook', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lessons-'));
    const run = spawnSync(process.execPath, ['scripts/run-notebooks.js', '--dir', 'tests/fixtures', '--out', out, 'smoke'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stdout).toContain('1 passed, 0 failed');
    expect(run.status).toBe(0);
    const check = execFileSync(process.execPath, ['tests/jupyter/check-smoke.js', path.join(out, 'smoke.ipynb')], { cwd: ROOT, encoding: 'utf8' });
    expect(check).toContain('7 passed, 0 failed');
  }, 60000);

  it('fails with the notebook, cell and error named when a cell throws', () => {
    const dir = fs.mkdtempSync(path.join(ROOT, 'out', 'broken-'));
    try {
      const nb = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/fixtures/smoke.ipynb'), 'utf8'));
      nb.cells.find((c: any) => c.cell_type === 'code' && c.metadata?.tags?.includes('raises-exception')).metadata = {};
      fs.writeFileSync(path.join(dir, 'broken.ipynb'), JSON.stringify(nb));
      const run = spawnSync(process.execPath, ['scripts/run-notebooks.js', '--dir', dir, '--out', dir], { cwd: ROOT, encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('FAILED cell 3 (In[3]): TypeError: smoke 7');
      expect(run.stdout).toContain('0 passed, 1 failed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);

  it('names an unknown notebook', () => {
    const run = spawnSync(process.execPath, ['scripts/run-notebooks.js', 'no-such-lecture'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('matches no-such-lecture');
  });
});
