import { describe, expect, it } from 'vitest';
import {
  cellLabel,
  compileError,
  contextLines,
  interruptError,
  mapToTs,
  runtimeError,
  type CellSource,
} from '../../kernel/errors';

// ANSI codes as the kernel writes them (IPython's colours).
const RED = '\x1b[0;31m';
const GREEN = '\x1b[0;32m';
const RESET = '\x1b[0m';
const RULE = `${RED}${'-'.repeat(75)}${RESET}`;
/** The IPython header line: name in red, padded to column 42, then the "most recent call last" note. */
const head = (ename: string, pad: number) => `${RED}${ename}${RESET}${' '.repeat(pad)}Traceback (most recent call last)`;
const arrow = (n: string) => `${GREEN}---> ${n}${RESET}`;
const caret = (spaces: number) => `${' '.repeat(spaces)}${RED}^${RESET}`;

/** An Error whose stack is exactly `frames` under the usual "Name: message" line. */
function withStack<E extends Error>(err: E, frames: string[]): E {
  err.stack = [`${err.name}: ${err.message}`, ...frames].join('\n');
  return err;
}

// tslab's wrapper: prefix on line 1 (so V8 line numbers are JS line numbers), call on the last line.
const wrap = (body: string, async = false) =>
  `(${async ? 'async ' : ''}function(exports, require) { ${body}\n})(__tslab__.exports, __tslab__.require)`;

describe('compileError', () => {
  const src = 'const a: number = "x"\nconst b = a +\nlet c = 1';
  const diags = [
    { line: 1, col: 7, message: "Type 'string' is not assignable to type 'number'." },
    { line: 3, col: 1, message: "Expression expected." },
  ];

  it('names the first diagnostic in evalue and counts the others', () => {
    const e = compileError(cellLabel(4), src, diags);
    expect(e.ename).toBe('CompileError');
    expect(e.evalue).toBe("line 1:7 - Type 'string' is not assignable to type 'number'. (and 1 more)");
  });

  it('shows each diagnostic under "Cell In[n], line L, col C" with the source line, arrow and caret', () => {
    const e = compileError('Cell In[4]', src, diags);
    expect(e.traceback).toEqual([
      RULE,
      head('CompileError', 30), // 42 - 12
      'Cell In[4], line 1, col 7',
      `${arrow('1')} const a: number = "x"`,
      // "---> 1 " is 7 characters, so column 7 of the source sits at index 13.
      caret(13),
      '     2 const b = a +',
      "  Type 'string' is not assignable to type 'number'.",
      '',
      'Cell In[4], line 3, col 1',
      '     2 const b = a +',
      `${arrow('3')} let c = 1`,
      caret(7),
      '  Expression expected.',
      '',
      `${RED}CompileError${RESET}: line 1:7 - Type 'string' is not assignable to type 'number'. (and 1 more)`,
    ]);
  });

  it('the caret lands under the reported column', () => {
    const [, , , line, mark] = compileError('Cell In[1]', 'let x = foo(1)', [{ line: 1, col: 9, message: "Cannot find name 'foo'." }]).traceback;
    const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
    expect(strip(line)).toBe('---> 1 let x = foo(1)');
    expect(strip(mark).indexOf('^')).toBe(strip(line).indexOf('foo'));
  });

  it('a single diagnostic has no "(and N more)"; a diagnostic in another file is named by file', () => {
    expect(compileError('Cell In[2]', 'x', [{ line: 1, col: 1, message: "Cannot find name 'x'." }]).evalue).toBe(
      "line 1:1 - Cannot find name 'x'.",
    );
    const e = compileError('Cell In[2]', 'import "../m"', [{ file: 'm.ts', line: 3, col: 2, message: 'bad' }]);
    expect(e.evalue).toBe('m.ts line 3:2 - bad');
    expect(e.traceback.slice(2)).toEqual(['File m.ts:3:2', '  bad', '', `${RED}CompileError${RESET}: m.ts line 3:2 - bad`]);
  });

  it('without diagnostics says "compilation failed"', () => {
    expect(compileError('Cell In[2]', 'x', []).evalue).toBe('compilation failed');
  });
});

describe('contextLines', () => {
  it('pads line numbers to the widest shown and marks the failing line', () => {
    const src = Array.from({ length: 12 }, (_, i) => `l${i + 1}`).join('\n');
    expect(contextLines(src, 10)).toEqual(['      8 l8', '      9 l9', `${arrow('10')} l10`, '     11 l11', '     12 l12']);
    expect(contextLines(src, 1, undefined, 1)).toEqual([`${arrow('1')} l1`, '     2 l2']);
  });
});

describe('mapToTs', () => {
  const brief: CellSource = {
    ts: "const a = 1\nthrow new RangeError('x' + a)",
    js: "(function(exports, require) { exports.a = 1;\nthrow new RangeError('x' + exports.a);\n})(__tslab__.exports, __tslab__.require)",
  };

  it('maps a JS line to the TS line with the same tokens', () => {
    expect(mapToTs(brief, 2)).toEqual({ line: 2 });
    expect(mapToTs(brief, 1)).toEqual({ line: 1 });
  });

  it('returns undefined for the wrapper call line and out-of-range lines', () => {
    expect(mapToTs(brief, 3)).toBeUndefined();
    expect(mapToTs(brief, 0)).toBeUndefined();
    expect(mapToTs(brief, 9)).toBeUndefined();
  });

  it('follows the code when TS lines are removed (type-only) or added (exports) in JS', () => {
    // tslab's real output for this cell: the interface is gone, exports lines are added.
    const cell: CellSource = {
      ts: 'interface P { x: number }\nconst p: P = { x: 1 }\nthrow new Error(`bad ${p.x}`)',
      js: wrap('Object.defineProperty(exports, "__esModule", { value: true });\nexports.p = void 0;\nconst p = { x: 1 };\nexports.p = p;\nthrow new Error(`bad ${p.x}`);\n'),
    };
    expect(mapToTs(cell, 5)).toEqual({ line: 3 }); // JS line 5 is the throw
    expect(mapToTs(cell, 3)).toEqual({ line: 2 }); // const p
    expect(mapToTs(cell, 7)).toBeUndefined(); // "})(__tslab__.exports, __tslab__.require)"
  });
});

describe('runtimeError', () => {
  // Cell 2 defines f, which calls the lib; cell 3 calls f. JS is what tslab produces for them.
  const cell2: CellSource = {
    ts: 'function f(n: number) {\n  const w = n * 2\n  return trainCh3(w)\n}',
    js: wrap('Object.defineProperty(exports, "__esModule", { value: true });\nexports.f = void 0;\nfunction f(n) {\n    const w = n * 2;\n    return exports.trainCh3(w);\n}\nexports.f = f;\n'),
  };
  const cell3: CellSource = {
    ts: 'const r = f(21)\nconsole.log(r)',
    js: wrap('Object.defineProperty(exports, "__esModule", { value: true });\nexports.r = exports.tsLastExpr = void 0;\nconst r = exports.f(21);\nexports.r = r;\nexports.tsLastExpr = console.log(r);\n'),
  };
  const cells = new Map([
    ['Cell In[2]', cell2],
    ['Cell In[3]', cell3],
  ]);
  const tfjs = '/x/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js';
  const kernelFrames = [
    '    at Script.runInThisContext (node:vm:137:12)',
    '    at Object.runInThisContext (node:vm:317:38)',
    '    at Object.execute (/x/node_modules/tslab/dist/executor.js:160:38)',
    '    at CellExecutor.execute (/x/dist/kernel/executor.js:70:40)',
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
  ];

  it('cell → cell → lib → tfjs: most recent call last, internals gone, node_modules collapsed', () => {
    const err = withStack(new Error('Error in matMul: inner shapes (3) and (4) must match'), [
      `    at assert (${tfjs}:100:15)`,
      `    at matMul_ (${tfjs}:10038:14)`,
      `    at Object.matMul__op [as matMul] (${tfjs}:5612:29)`,
      '    at trainCh3 (/x/dist/lib/train.js:10:3)',
      '    at Proxy.f (Cell In[2]:5:12)',
      '    at Cell In[3]:3:11',
      ...kernelFrames,
    ]);
    const e = runtimeError(err, cells);
    expect(e.ename).toBe('Error');
    expect(e.evalue).toBe('Error in matMul: inner shapes (3) and (4) must match');
    expect(e.traceback).toEqual([
      RULE,
      head('Error', 37), // 42 - 5
      'Cell In[3], line 1',
      `${arrow('1')} const r = f(21)`,
      '     2 console.log(r)',
      '',
      'Cell In[2], line 3, in f', // JS line 5 is TS line 3; "Proxy." dropped
      '     1 function f(n: number) {',
      '     2   const w = n * 2',
      `${arrow('3')}   return trainCh3(w)`,
      '     4 }',
      '',
      'File /x/dist/lib/train.js:10, in trainCh3',
      '',
      '[... 3 frames in @tensorflow/tfjs-core hidden ...]',
      '',
      `${RED}Error${RESET}: Error in matMul: inner shapes (3) and (4) must match`,
    ]);
    const text = e.traceback.join('\n');
    expect(text).not.toMatch(/tslab|node:|dist\/kernel|runInThisContext/);
  });

  it('maps the throwing cell line (JS line ≠ TS line) and drops the wrapper line', () => {
    const cell: CellSource = {
      ts: 'interface P { x: number }\nconst p: P = { x: 1 }\nthrow new RangeError(`bad ${p.x}`)',
      js: wrap('Object.defineProperty(exports, "__esModule", { value: true });\nexports.p = void 0;\nconst p = { x: 1 };\nexports.p = p;\nthrow new RangeError(`bad ${p.x}`);\n'),
    };
    const err = withStack(new RangeError('bad 1'), ['    at Cell In[5]:5:7', '    at Cell In[5]:7:4', ...kernelFrames]);
    const e = runtimeError(err, new Map([['Cell In[5]', cell]]));
    expect(e.ename).toBe('RangeError');
    expect(e.traceback).toEqual([
      RULE,
      head('RangeError', 32),
      'Cell In[5], line 3',
      '     1 interface P { x: number }',
      '     2 const p: P = { x: 1 }',
      `${arrow('3')} throw new RangeError(\`bad \${p.x}\`)`,
      '',
      `${RED}RangeError${RESET}: bad 1`,
    ]);
  });

  it('handles the brief wrapper form and async cell frames ("at async Cell In[n]")', () => {
    const cell: CellSource = {
      ts: "const a = 1\nthrow new RangeError('x' + a)",
      js: "(function(exports, require) { exports.a = 1;\nthrow new RangeError('x' + exports.a);\n})(__tslab__.exports, __tslab__.require)",
    };
    const err = withStack(new RangeError('x1'), ['    at async Cell In[3]:2:5', ...kernelFrames]);
    const tb = runtimeError(err, new Map([['Cell In[3]', cell]])).traceback;
    expect(tb.slice(2)).toEqual([
      'Cell In[3], line 2',
      '     1 const a = 1',
      `${arrow('2')} throw new RangeError('x' + a)`,
      '',
      `${RED}RangeError${RESET}: x1`,
    ]);
  });

  it('frames between lib frames stay in order, each hidden run counted separately', () => {
    const err = withStack(new TypeError('t.shape is undefined'), [
      `    at a (${tfjs}:1:1)`,
      '    at show (/x/dist/lib/plot.js:20:7)',
      `    at b (${tfjs}:2:2)`,
      `    at c (${tfjs}:3:3)`,
      '    at /x/dist/lib/plot.js:40:1',
    ]);
    expect(runtimeError(err, new Map()).traceback.slice(2)).toEqual([
      'File /x/dist/lib/plot.js:40',
      '',
      '[... 2 frames in @tensorflow/tfjs-core hidden ...]',
      '',
      'File /x/dist/lib/plot.js:20, in show',
      '',
      '[... 1 frame in @tensorflow/tfjs-core hidden ...]',
      '',
      `${RED}TypeError${RESET}: t.shape is undefined`,
    ]);
  });

  it('lib frames called from a cell drop the exports proxy name, and hidden runs are split per package', () => {
    const err = withStack(new Error('p'), [
      `    at a (${tfjs}:1:1)`,
      '    at layer (/x/node_modules/@tensorflow/tfjs-layers/dist/x.js:9:9)',
      '    at Proxy.trainCh3 (/x/dist/lib/train.js:10:3)',
    ]);
    expect(runtimeError(err, new Map()).traceback.slice(2)).toEqual([
      'File /x/dist/lib/train.js:10, in trainCh3',
      '',
      '[... 1 frame in @tensorflow/tfjs-layers hidden ...]',
      '',
      '[... 1 frame in @tensorflow/tfjs-core hidden ...]',
      '',
      `${RED}Error${RESET}: p`,
    ]);
  });

  it('a frame in a cell that is not known is shown as a plain file frame', () => {
    const err = withStack(new Error('e'), ['    at Cell In[9]:4:1']);
    expect(runtimeError(err, cells).traceback.slice(2, 4)).toEqual(['File Cell In[9]:4', '']);
  });

  it('thrown strings and objects become ename "Error" with their text', () => {
    expect(runtimeError('oops', cells)).toEqual({
      ename: 'Error',
      evalue: 'oops',
      traceback: [RULE, head('Error', 37), `${RED}Error${RESET}: oops`],
    });
    expect(runtimeError({ code: 42 }, cells).evalue).toBe('{ code: 42 }');
    expect(runtimeError({ toString: () => 'custom' }, cells).evalue).toBe('custom');
    expect(runtimeError(Object.create(null), cells).evalue).toBe('[Object: null prototype] {}');
    expect(runtimeError(42, cells).evalue).toBe('42');
  });

  it('uses a custom error class name', () => {
    class ShapeError extends Error {
      override name = 'ShapeError';
    }
    const e = runtimeError(withStack(new ShapeError('rank 3'), []), cells);
    expect(e.ename).toBe('ShapeError');
    expect(e.traceback).toEqual([RULE, head('ShapeError', 32), `${RED}ShapeError${RESET}: rank 3`]);
  });
});

describe('interruptError', () => {
  it('is a KeyboardInterrupt like IPython', () => {
    expect(interruptError()).toEqual({
      ename: 'KeyboardInterrupt',
      evalue: 'execution interrupted',
      traceback: [RULE, head('KeyboardInterrupt', 25), `${RED}KeyboardInterrupt${RESET}: execution interrupted`],
    });
  });
});
