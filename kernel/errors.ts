/**
 * Error replies a learner can read: ename/evalue/traceback in IPython's layout, with frames named by
 * cell and line (`Cell In[3], line 2`) and the kernel's, tslab's and Node's own frames removed.
 */

/** The source of an executed cell: its TypeScript and the JavaScript tslab produced from it. */
import { inspect } from 'util';

export interface CellSource {
  ts: string;
  /** tslab's output; its wrapper prefix shares line 1, so JS line numbers are V8's line numbers. */
  js: string;
}

/** A TypeScript diagnostic as tslab reports it (1-based line and column within the cell). */
export interface Diagnostic {
  file?: string;
  line: number;
  col: number;
  message: string;
}

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

const RED = '\x1b[0;31m';
const GREEN = '\x1b[0;32m';
const RESET = '\x1b[0m';
const RULE = `${RED}${'-'.repeat(75)}${RESET}`;

/** Label used as the vm filename of cell n, so V8 stack frames name the cell. */
export const cellLabel = (n: number | string) => `Cell In[${n}]`;

function header(ename: string): string[] {
  return [RULE, `${RED}${ename}${RESET}${' '.repeat(Math.max(1, 42 - ename.length))}Traceback (most recent call last)`];
}

/** Source lines around `line` (1-based), the IPython way: arrow on the failing line. */
export function contextLines(src: string, line: number, col?: number, around = 2): string[] {
  const lines = src.split('\n');
  const out: string[] = [];
  const lo = Math.max(1, line - around), hi = Math.min(lines.length, line + around);
  const w = String(hi).length;
  for (let i = lo; i <= hi; i++) {
    const mark = i === line ? `${GREEN}---> ` : '     ';
    out.push(`${mark}${String(i).padStart(w)}${i === line ? RESET : ''} ${lines[i - 1]}`);
    if (i === line && col) out.push(`${' '.repeat(5 + w + col)}${RED}^${RESET}`);
  }
  return out;
}

/** Error content for TypeScript diagnostics of cell `label`. */
export function compileError(label: string, src: string, diags: Diagnostic[]): ErrorContent {
  const tb = header('CompileError');
  for (const d of diags) {
    if (d.file) {
      tb.push(`File ${d.file}:${d.line}:${d.col}`, `  ${d.message}`, '');
    } else {
      tb.push(`${label}, line ${d.line}, col ${d.col}`, ...contextLines(src, d.line, d.col, 1), `  ${d.message}`, '');
    }
  }
  const first = diags[0];
  const where = first ? `${first.file ? first.file + ' ' : ''}line ${first.line}:${first.col} - ` : '';
  const more = diags.length > 1 ? ` (and ${diags.length - 1} more)` : '';
  const evalue = `${where}${first?.message ?? 'compilation failed'}${more}`;
  tb.push(`${RED}CompileError${RESET}: ${evalue}`);
  return { ename: 'CompileError', evalue, traceback: tb };
}

/** Error content for an interrupted cell. */
export function interruptError(): ErrorContent {
  return { ename: 'KeyboardInterrupt', evalue: 'execution interrupted', traceback: [...header('KeyboardInterrupt'), `${RED}KeyboardInterrupt${RESET}: execution interrupted`] };
}

const FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;
/** Frames nobody learning deep learning wants to see. */
const INTERNAL = [/^node:/, /[\\/]tslab[\\/]dist[\\/]/, /[\\/]dist[\\/]kernel[\\/]/, /[\\/]kernel[\\/][\w-]+\.[tj]s$/, /^evalmachine/, /^internal[\\/]/];

/** Error content for a thrown value; `cells` maps a vm filename (cell label) to its source for line mapping. */
export function runtimeError(err: unknown, cells: Map<string, CellSource>): ErrorContent {
  const e = err instanceof Error ? err : undefined;
  const ename = e ? e.name || e.constructor?.name || 'Error' : 'Error';
  const evalue = e ? e.message : typeof err === 'string' ? err : safeString(err);
  const tb = header(ename);
  const frames = (e?.stack ?? '').split('\n').filter((l) => /^\s*at /.test(l)).reverse(); // most recent call last
  let hidden = 0, hiddenWhere = '';
  const flushHidden = () => {
    if (hidden) tb.push(`[... ${hidden} frame${hidden > 1 ? 's' : ''} in ${hiddenWhere} hidden ...]`, '');
    hidden = 0;
  };
  for (const f of frames) {
    const m = FRAME.exec(f);
    if (!m) continue;
    const fn = m[1]?.replace(/^async /, "");
    const l = m[3];
    const file = m[2].replace(/^async /, '');
    const cell = cells.get(file);
    if (cell) {
      const loc = mapToTs(cell, Number(l));
      if (!loc) continue; // the wrapper's own call line
      flushHidden();
      const name = fn?.replace(/^(exports|Proxy)\./, '');
      // tslab's last-expression variable, the cell's own body and a timer's anonymous callback have no name worth showing
      const fname = name && !/^(tsLastExpr|Object\.<anonymous>|(Timeout|Immediate)\.(<anonymous>|_onTimeout|_onImmediate))$/.test(name) ? `, in ${name}` : '';
      tb.push(`${file}, line ${loc.line}${fname}`, ...contextLines(cell.ts, loc.line), '');
    } else if (INTERNAL.some((r) => r.test(file))) {
      continue;
    } else if (/node_modules/.test(file)) {
      if (hidden && packageOf(file) !== hiddenWhere) flushHidden();
      hidden++;
      hiddenWhere = packageOf(file);
    } else {
      flushHidden();
      const name = fn?.replace(/^(exports|Proxy)\./, '');
      tb.push(`File ${file}:${l}${name ? `, in ${name}` : ''}`, '');
    }
  }
  flushHidden();
  tb.push(`${RED}${ename}${RESET}: ${evalue}`);
  return { ename, evalue, traceback: tb };
}

/**
 * A late error - thrown in a timer callback or a promise rejection nobody handled, after its cell returned -
 * as text for that cell's stderr: `Name: message`, then the frames a cell's traceback would show (cells
 * and user files; the kernel's, tslab's and Node's own frames removed).
 */
export function lateErrorText(err: unknown, cells: Map<string, CellSource>): string {
  const c = runtimeError(err, cells);
  const head = err instanceof Error ? `${c.ename}: ${c.evalue}` : c.evalue;
  const frames = c.traceback.slice(2, -1); // between the header and the closing `ename: evalue` line
  return [head, ...frames].join('\n').replace(/\n+$/, '');
}

/**
 * The line of cell `label` that a thrown error came from: its outermost frame in that cell, i.e. the cell's
 * top-level statement that failed (not a line inside a function the statement called). Undefined when the
 * stack does not pass through the cell (an error from a callback, a truncated stack).
 */
export function failedLine(err: unknown, label: string, cells: Map<string, CellSource>): number | undefined {
  const cell = cells.get(label);
  const stack = err instanceof Error ? err.stack : undefined;
  if (!cell || typeof stack !== 'string') return undefined;
  let line: number | undefined;
  for (const f of stack.split('\n')) {
    const m = FRAME.exec(f);
    if (m && m[2].replace(/^async /, '') === label) line = mapToTs(cell, Number(m[3]))?.line ?? line;
  }
  return line;
}

function packageOf(file: string): string {
  const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
  return m ? m[1].replace(/\\/g, '/') : 'node_modules';
}

/** A thrown non-Error (`throw {code: 42}`) shown the way a learner wrote it, not as `[object Object]`. */
function safeString(v: unknown): string {
  try {
    const ts = v !== null && typeof v === 'object' ? (v as { toString?: unknown }).toString : undefined;
    const own = typeof ts === 'function' && ts !== Object.prototype.toString;
    return own ? String(v) : inspect(v, { depth: 2, breakLength: Infinity, maxArrayLength: 20 });
  } catch {
    return Object.prototype.toString.call(v);
  }
}

const TOKEN = /[A-Za-z_$][\w$]*|\d+(?:\.\d+)?|'[^']*'|"[^"]*"|`[^`]*`/g;
const NOISE = new Set(['exports', 'tsLastExpr', 'const', 'let', 'var', 'require', 'void', 'default']);
const tokens = (s: string) => (s.match(TOKEN) ?? []).filter((t) => !NOISE.has(t));

function lcs(a: string[], b: string[]): number {
  const prev = new Array(b.length + 1).fill(0);
  for (const x of a) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = x === b[j - 1] ? diag + 1 : Math.max(prev[j], prev[j - 1]);
      diag = up;
    }
  }
  return prev[b.length];
}

/**
 * Maps a line of tslab's JavaScript back to the TypeScript line it came from. tslab emits no source map,
 * so we align by tokens: the TS line sharing the most identifiers/literals (in order) with the JS line
 * wins, ties going to the line at the same relative position. Returns undefined for wrapper lines.
 */
export function mapToTs(cell: CellSource, line: number): { line: number } | undefined {
  const js = cell.js.split('\n');
  if (line < 1 || line >= js.length) return undefined; // the last line is the wrapper's call
  const text = js[line - 1];
  const ts = cell.ts.split('\n');
  const jt = tokens(text);
  if (!jt.length) return { line: Math.min(ts.length, Math.max(1, Math.round((line / js.length) * ts.length))) };
  let best = 1, bestScore = -1;
  const rel = line / js.length;
  ts.forEach((t, i) => {
    const score = lcs(jt, tokens(t)) - Math.abs((i + 1) / ts.length - rel) * 0.5;
    if (score > bestScore) { bestScore = score; best = i + 1; }
  });
  return { line: best };
}
