/**
 * CellExecutor: tslab's executor with the kernel's prelude of globals.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as path from 'path';
import { CellExecutor, stripPrelude } from '../../kernel/executor';
import { DISPLAY_DECLARATIONS } from '../../kernel/display';

describe('CellExecutor', () => {
  const shown: unknown[] = [];
  const ex = new CellExecutor(path.resolve(__dirname, '../..', 'notebooks'), DISPLAY_DECLARATIONS, {
    display: (x: unknown) => { shown.push(x); return { displayId: 'x', update() {} }; },
    clearOutput: () => {},
  });
  afterAll(() => ex.close());

  it('carries user declarations between cells but never the prelude (it would pile up per cell)', async () => {
    for (let i = 0; i < 5; i++) expect((await ex.execute('1 + 1', i)).status).toBe('ok');
    expect(ex.declarationsLength).toBe(0);
    await ex.execute('const q: number = 41', 6);
    const after = ex.declarationsLength;
    expect(after).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) await ex.execute('q + 1', 7 + i);
    expect(ex.declarationsLength).toBe(after);
  }, 30000);

  it('types and provides the kernel globals in every cell', async () => {
    const r = await ex.execute('display(q + 1)', 20);
    expect(r.status).toBe('ok');
    expect(shown).toContain(42);
    const bad = await ex.execute('display()', 21);
    expect(bad.status).toBe('error');
    if (bad.status === 'error') expect(bad.error.ename).toBe('CompileError');
  }, 30000);

  it('stripPrelude removes exactly the marked block', () => {
    const block = 'declare const __d2l_prelude_begin__: 0;\ndeclare function display(): void;\ndeclare const __d2l_prelude_end__: 0;\n';
    expect(stripPrelude(`declare let a: number;\n${block}declare let b: string;\n`)).toBe('declare let a: number;\ndeclare let b: string;\n');
    expect(stripPrelude('declare let a: number;\n')).toBe('declare let a: number;\n');
  });
});
