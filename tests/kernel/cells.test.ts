/**
 * Cell semantics as in IPython, through the Jupyter protocol: what a cell bound before it threw or was
 * interrupted stays defined (value and type) for later cells, what came after the failure does not, and
 * late errors (a timer throwing after its cell returned) show the cell's frames, not the kernel's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'path';
import { KernelClient } from '../../jupyter/client';
import { executeCell } from '../../runner/outputs';

const ROOT = path.resolve(__dirname, '../..');
const ARGV = [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'];
const text = (outputs: any[]) => outputs.map((o) => o.text ?? o.data?.['text/plain'] ?? '').join('');

describe('cells that fail keep what ran, as in IPython', () => {
  let kc: KernelClient;
  beforeAll(async () => {
    kc = await KernelClient.start({ argv: ARGV, cwd: path.join(ROOT, 'notebooks'), startTimeoutMs: 30000 });
  }, 40000);
  afterAll(async () => { await kc?.shutdown().catch(() => kc.kill()); });

  /** Runs a cell that must succeed and returns its text output. */
  const value = async (code: string) => {
    const r = await executeCell(kc, code);
    expect(r.reply.content, `${code}: ${r.reply.content.evalue}`).toMatchObject({ status: 'ok' });
    return text(r.outputs);
  };
  /** Runs a cell that must fail to compile and returns the error's evalue. */
  const compileError = async (code: string) => {
    const r = await executeCell(kc, code);
    expect(r.reply.content.ename, code).toBe('CompileError');
    return r.reply.content.evalue as string;
  };

  it('keeps the names bound before a throw, with their types; names after it stay undefined', async () => {
    const r = await executeCell(kc, [
      'let q = 5',
      'const nothing = undefined',
      "const { da, db: [dc] } = { da: 1, db: ['xy'] }",
      'interface Point { x: number }',
      'class Early { v = 2 }',
      'function early() { return 3 }',
      "if (q > 0) throw new Error('boom')",
      'let late = 1',
      'function lateFn() { return 1 }',
      'class LateClass {}',
      'type LateType = string',
    ].join('\n'));
    expect(r.reply.content).toMatchObject({ status: 'error', ename: 'Error', evalue: 'boom' });
    expect(await value('q.toFixed(1)')).toBe("'5.0'"); // q: number, not any
    expect(await value('nothing === undefined')).toBe('true'); // bound, though its value is undefined
    expect(await value('da + dc.length')).toBe('3');
    expect(await value('const pt: Point = { x: 1 }\nnew Early().v + early() + pt.x')).toBe('6');
    for (const name of ['late', 'lateFn', 'LateClass']) expect(await compileError(name)).toContain(`Cannot find name '${name}'`);
    expect(await compileError("const s: LateType = 'a'")).toContain("Cannot find name 'LateType'");
  });

  it('a redeclaration the failed cell never reached leaves the earlier name, value and type', async () => {
    await value("let old = 'text'\nfunction shape() { return 'old' }");
    const r = await executeCell(kc, "if (Math.random() < 2) throw new TypeError('before redeclaring')\nlet old = 3\nfunction shape() { return 4 }");
    expect(r.reply.content.ename).toBe('TypeError');
    expect(await value('old.toUpperCase() + shape().toUpperCase()')).toBe("'TEXTOLD'");
    // a redeclaration that did run before the throw wins, with its new type
    await executeCell(kc, "let old = 7\nthrow new Error('after redeclaring')");
    expect(await value('old.toFixed(1)')).toBe("'7.0'");
  });

  it('keeps the variables of an interrupted async loop, with their values at the interrupt', async () => {
    const loop = executeCell(kc, [
      'let n = 0',
      'interface Tick { n: number }',
      'while (true) {',
      '  n++',
      '  await new Promise((r) => setTimeout(r, 10))',
      '}',
      'const afterLoop = 1',
    ].join('\n'));
    await new Promise((r) => setTimeout(r, 400));
    expect((await kc.interrupt()).content.status).toBe('ok');
    expect((await loop).reply.content.ename).toBe('KeyboardInterrupt');
    const n = Number(await value('const tick: Tick = { n: n }\ntick.n.toFixed(0)').then((s) => s.replace(/'/g, '')));
    expect(n).toBeGreaterThan(0);
    expect(await value('n')).toBe(String(n)); // the loop really stopped
    expect(await compileError('afterLoop')).toContain("Cannot find name 'afterLoop'");
  });

  it("names an earlier cell's bindings in shorthand properties and shorthand destructuring", async () => {
    await value("const shA = 1\nlet shB = 'b'\nfunction shF() { return 3 }");
    expect(await value('({ shA, shB, n: shF() })')).toBe("{ shA: 1, shB: 'b', n: 3 }");
    expect(await value('console.log({ shA })')).toBe('{ shA: 1 }\n');
    // assignment destructuring into an earlier cell's let, with and without a default
    expect(await value("({ shB } = { shB: 'c' });\n({ shB = 'd' } = {} as { shB?: string });\nshB")).toBe("'d'");
  });

  it('still lets later cells redeclare let, const, function, class, interface and type', async () => {
    await value('let r1 = 1\nconst c1 = 1\nfunction f1() { return 1 }\nclass K1 { a = 1 }\ninterface I1 { a: number }\ntype T1 = number');
    await value("let r1 = 'r'\nconst c1 = 'c'\nfunction f1() { return 'f' }\nclass K1 { b = 'k' }\ninterface I1 { b: string }\ntype T1 = string");
    expect(await value("[r1, c1, f1(), new K1().b, ({ b: 'i' } as I1).b, ('t' as T1)].map((s) => s.toUpperCase()).join('')")).toBe("'RCFKIT'");
    // ... and names kept from a failed cell too
    await executeCell(kc, "let k2 = 1\nthrow new Error('x')");
    await value("let k2 = 'two'");
    expect(await value('k2.length')).toBe('3');
  });

  it('offers and describes a name kept from a failed cell in complete and inspect', async () => {
    await executeCell(kc, "const keptAfterFailure = { answer: 42 }\nthrow new Error('x')");
    const c = await kc.request('shell', 'complete_request', { code: 'keptAf', cursor_pos: 6 });
    expect(c.content.matches).toContain('keptAfterFailure');
    const m = await kc.request('shell', 'complete_request', { code: 'keptAfterFailure.ans', cursor_pos: 20 });
    expect(m.content.matches).toContain('answer');
    const i = await kc.request('shell', 'inspect_request', { code: 'keptAfterFailure', cursor_pos: 3, detail_level: 0 });
    expect(i.content.found).toBe(true);
    expect(i.content.data['text/plain']).toContain('answer: number');
  });

  it('shows a late error with the cell frames of a traceback, not the kernel or Node internals', async () => {
    const late = kc.waitForMessage((m) => m.header.msg_type === 'stream' && /late throw here/.test(m.content.text), 5000);
    const r = await executeCell(kc, "const delay = 50\nsetTimeout(() => { throw new RangeError('late throw here') }, delay)");
    expect(r.reply.content.status).toBe('ok');
    const msg = await late;
    expect(msg.parent_header.msg_id).toBe(r.reply.parent_header.msg_id); // the output of the cell that scheduled it
    const err: string = msg.content.text;
    expect(err).toContain('Uncaught exception: RangeError: late throw here');
    expect(err).toContain(`Cell In[${r.reply.content.execution_count}], line 2`);
    expect(err).not.toMatch(/node:|internal[\\/]|[\\/]dist[\\/]kernel[\\/]|tslab[\\/]dist|_onTimeout|listOnTimeout/);
  });
});
