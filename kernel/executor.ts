/**
 * Runs cells with tslab's TypeScript converter and executor (not re-implemented), and captures what they
 * produce as values instead of text: tslab prints the last expression with console.log and errors with
 * console.error, so we hand it a console that records them (the documented hook of createExecutor).
 *
 * The declarations a cell is type-checked against are ours, not tslab's: tslab moves them forward only
 * when a cell completes, so whatever a failed or interrupted cell had bound was unnamable afterwards.
 * We hand our own to every convert/complete/inspect call and, after a failure, keep what ran (bindings.ts).
 */
import vm from 'vm';
import * as ts from '@tslab/typescript-for-tslab';
import { createConverter, isCompleteCode } from 'tslab/dist/converter';
import { createExecutor, Executor } from 'tslab/dist/executor';
import { printQuickInfo } from 'tslab/dist/inspect';
import { bindInPlace, expandShorthands, keptDeclarations } from './bindings';
import { packageRoot } from '../common/package-root';
import { resolveFromKernel } from './modules';
import { CellSource, cellLabel, compileError, Diagnostic, ErrorContent, failedLine, interruptError, runtimeError } from './errors';
import { installTimerGuards, runInCell, CellContext, currentCell } from './interrupt';

export type Outcome =
  | { status: 'ok'; hasValue: boolean; value?: unknown }
  | { status: 'error'; error: ErrorContent };

const WRAPPER = /^\(\s*(async\s+)?function\s*\(exports,\s*require\)\s*\{/;
const INTERRUPT_MESSAGES = new Set(['Interrupted asynchronously', 'Script execution interrupted.']);

type Conversion = { declOutput?: string };

export class CellExecutor {
  private tslab?: Executor;
  /** Declarations of earlier cells' top-level names, that each cell is checked against (no prelude). */
  private declarations = '';
  /** tslab's conversion of the running cell: its declarations had it completed. */
  private converted?: Conversion;
  /** Top-level names the running cell has written to the session so far. */
  private readonly bound = new Set<string>();
  /** Length of the declarations carried from cell to cell (grows with user declarations only). */
  get declarationsLength(): number {
    return this.declarations.length;
  }
  private closeConverter?: () => void;
  /** Sources of executed cells by label, for tracebacks into earlier cells' functions. */
  readonly cells = new Map<string, CellSource>();
  private current?: { label: string; ts: string; ctx?: CellContext };
  private capture = { hasValue: false, value: undefined as unknown, diags: [] as Diagnostic[], errors: [] as unknown[] };

  /**
   * @param cwd directory that `require` and imports resolve from (the notebook's folder)
   * @param prelude TypeScript declarations visible to every cell (kernel-provided globals)
   * @param globals values for those declarations
   */
  constructor(private cwd: string, private prelude: string, private globals: Record<string, unknown>) {}

  /** Creates the TypeScript converter (the slow part of start-up). Idempotent. */
  init(): Executor {
    if (this.tslab) return this.tslab;
    installTimerGuards();
    patchVmFilenames(() => this.current && { ...this.current, record: (js: string) => this.cells.set(this.current!.label, { ts: this.current!.ts, js }) });
    resolveFromKernel(this.cwd, packageRoot(__dirname)); // a notebook outside the checkout still finds d2l-ts
    const conv = createConverter({ isJS: false, isBrowser: false });
    // Prepend our globals' declarations to tslab's "previous cells" declarations on every call, between
    // markers: tslab re-prints earlier declarations into each cell's declOutput (in its own order), so we
    // cut the marked block out again, or it would pile up once per cell and slow every compile.
    const prelude = preludeFilter(this.prelude);
    // tslab's own `prev` argument is ignored: it lags behind after a failed cell (see the header).
    const node = {
      ...conv,
      convert: (_prev: string, src: string) => {
        const r = conv.convert(prelude(this.declarations) + this.declarations, expandShorthands(src));
        if (r.declOutput) r.declOutput = stripPrelude(r.declOutput);
        if (r.output) r.output = bindInPlace(r.output);
        this.converted = { declOutput: r.declOutput };
        return r;
      },
      inspect: (_prev: string, src: string, pos: number) => conv.inspect(prelude(this.declarations) + this.declarations, src, pos),
      complete: (_prev: string, src: string, pos: number) => conv.complete(prelude(this.declarations) + this.declarations, src, pos),
    };
    const cap = this.capture;
    this.tslab = createExecutor(this.cwd, { node, browser: node, close: () => conv.close() } as any, {
      log: (v: unknown) => { cap.hasValue = true; cap.value = v; },
      error: (...a: any[]) => {
        if (a[0] === '%s%d:%d - %s') cap.diags.push({ file: String(a[1]).trim() || undefined, line: a[2], col: a[3], message: flatten(a[4]) });
        else cap.errors.push(a[0]);
      },
    });
    Object.assign(this.tslab.locals, this.globals);
    this.trackBindings();
    this.closeConverter = () => conv.close();
    return this.tslab;
  }

  /** Executes one cell; `count` names it in tracebacks (`Cell In[count]`). */
  async execute(code: string, count: number | string): Promise<Outcome> {
    const ex = this.init();
    const label = cellLabel(count);
    Object.assign(this.capture, { hasValue: false, value: undefined, diags: [], errors: [] });
    const ctx: CellContext = { cancelled: false };
    this.current = { label, ts: code, ctx };
    this.converted = undefined;
    this.bound.clear();
    try {
      const ok = await runInCell(() => ex.execute(code), ctx).result;
      const cap = this.capture;
      const converted = this.converted as Conversion | undefined; // set by convert() meanwhile
      const declOutput = converted?.declOutput;
      if (ok) {
        if (converted) this.declarations = declOutput ?? ''; // as tslab's prevDecl; module cells convert nothing
        return { status: 'ok', hasValue: cap.hasValue, value: cap.value };
      }
      if (cap.diags.length) return { status: 'error', error: compileError(label, code, cap.diags) };
      const err = cap.errors[0];
      const interrupted = err instanceof Error && (INTERRUPT_MESSAGES.has(err.message) || (err as any).code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED');
      if (interrupted) ctx.cancelled = true;
      // The cell ran up to a point: later cells see what it bound by then, as in IPython.
      // (Should that ever fail, later cells see the declarations from before this cell, as in stock tslab.)
      if (declOutput !== undefined) {
        const line = interrupted ? undefined : failedLine(err, label, this.cells);
        try {
          this.declarations = keptDeclarations(this.declarations, declOutput, code, { bound: new Set(this.bound), line });
        } catch { /* keep this.declarations */ }
      }
      return { status: 'error', error: interrupted ? interruptError() : runtimeError(err, this.cells) };
    } finally {
      this.current = undefined;
    }
  }

  /**
   * Records the names the running cell writes to the session: cells reach it as `__tslab__.exports`, which
   * tslab set once; we put a recording proxy in front of its own (values still land in tslab's object).
   * Only writes made in the running cell's context count, not those of an earlier cell's timers.
   */
  private trackBindings(): void {
    const holder = (globalThis as any).__tslab__ as { exports: object } | undefined;
    if (!holder || (holder.exports as any)[TRACKED]) return;
    const record = (p: string | symbol) => {
      const ctx = this.current?.ctx;
      if (typeof p === 'string' && p !== '__esModule' && ctx && currentCell() === ctx) this.bound.add(p);
    };
    holder.exports = new Proxy(holder.exports, {
      set: (t, p, v) => { record(p); return Reflect.set(t, p, v); },
      defineProperty: (t, p, attrs) => { record(p); return Reflect.defineProperty(t, p, attrs); },
      get: (t, p) => (p === TRACKED ? true : Reflect.get(t, p)),
    });
  }

  /** Stops the running cell: its pending promise is abandoned and its timers never fire again. */
  interrupt(): void {
    if (this.current?.ctx) this.current.ctx.cancelled = true;
    this.tslab?.interrupt();
  }

  complete(code: string, pos: number) {
    const info = this.init().complete(code, pos);
    return { status: 'ok', matches: info.candidates, cursor_start: info.start, cursor_end: info.end, metadata: {} };
  }

  inspect(code: string, pos: number) {
    const info = this.init().inspect(code, pos);
    return info
      ? { status: 'ok', found: true, data: { 'text/plain': printQuickInfo(info) }, metadata: {} }
      : { status: 'ok', found: false, data: {}, metadata: {} };
  }

  isComplete(code: string) {
    const r = isCompleteCode(code);
    return r.completed ? { status: 'complete' } : { status: 'incomplete', indent: r.indent ?? '' };
  }

  close(): void {
    this.closeConverter?.();
  }
}

const TRACKED = Symbol('d2l.trackedExports');
const PRELUDE_BEGIN = 'declare const __d2l_prelude_begin__: 0;';
const PRELUDE_END = 'declare const __d2l_prelude_end__: 0;';
/** Removes the kernel's prelude block (markers included) from tslab's declaration output. */
export function stripPrelude(decl: string): string {
  const b = decl.indexOf(PRELUDE_BEGIN);
  const e = decl.indexOf(PRELUDE_END, b);
  if (b < 0 || e < 0) return decl;
  return decl.slice(0, b) + decl.slice(e + PRELUDE_END.length).replace(/^\n/, '');
}

/**
 * The marked prelude block for tslab's "previous cells" declarations `prev`, without the globals that an earlier
 * cell declared itself. A learner's `const input = tf.ones([2])` shadows the kernel's `input()` in its own cell
 * (the cell is a scope below the declarations); from the next cell on both would be in the same declarations and
 * TypeScript would keep the kernel's type (`input + 1`: "Operator '+' cannot be applied…"). At run time tslab
 * reads earlier cells' names from its exports object, where the learner's value has replaced the kernel's, so
 * dropping the kernel's declaration is all it takes. Recomputed only when `prev` changes.
 */
export function preludeFilter(prelude: string): (prev: string) => string {
  const parts = ts.createSourceFile('prelude.d.ts', prelude, ts.ScriptTarget.Latest, true).statements.map((st) => ({
    names: declaredNames(st),
    text: prelude.slice(st.getFullStart(), st.end),
  }));
  const whole = `${PRELUDE_BEGIN}\n${prelude}\n${PRELUDE_END}\n`;
  let last = { prev: '', block: whole };
  return (prev) => {
    if (prev === last.prev) return last.block;
    const taken = new Set(ts.createSourceFile('prev.d.ts', prev, ts.ScriptTarget.Latest).statements.flatMap(declaredNames));
    const kept = parts.filter((p) => !p.names.some((n) => taken.has(n)));
    const block = kept.length === parts.length ? whole : `${PRELUDE_BEGIN}\n${kept.map((p) => p.text).join('')}\n${PRELUDE_END}\n`;
    last = { prev, block };
    return block;
  };
}

/** Top-level names a declaration statement introduces (variables, functions, classes, types, imports). */
function declaredNames(st: ts.Statement): string[] {
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : []));
  if (ts.isImportDeclaration(st)) {
    const c = st.importClause;
    if (!c) return [];
    const named = c.namedBindings;
    return [
      ...(c.name ? [c.name.text] : []),
      ...(named && ts.isNamespaceImport(named) ? [named.name.text] : []),
      ...(named && ts.isNamedImports(named) ? named.elements.map((e) => e.name.text) : []),
    ];
  }
  const name = (st as ts.Statement & { name?: ts.Node }).name;
  return name && ts.isIdentifier(name) ? [name.text] : [];
}

function flatten(m: unknown): string {
  if (typeof m === 'string') return m;
  const chain = m as { messageText?: string; next?: unknown[] };
  return chain?.messageText ? [chain.messageText, ...(chain.next ?? []).map(flatten)].join('\n  ') : String(m);
}

let vmPatched = false;
/**
 * Gives each cell's code a vm filename (`Cell In[3]`) so stack frames name the cell, and records the code
 * for line mapping. tslab calls vm.runInThisContext without a filename; we wrap it only for cell wrappers.
 */
function patchVmFilenames(current: () => { label: string; record(js: string): void } | undefined): void {
  if (vmPatched) return;
  vmPatched = true;
  const orig = vm.runInThisContext;
  (vm as any).runInThisContext = function (code: string, opts?: vm.RunningScriptOptions | string) {
    const cur = current();
    if (cur && typeof code === 'string' && WRAPPER.test(code) && typeof opts === 'object') {
      cur.record(code);
      return orig.call(vm, code, { ...opts, filename: cur.label });
    }
    return orig.call(vm, code, opts as any);
  };
}
