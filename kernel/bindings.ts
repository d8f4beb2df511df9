/**
 * IPython's cell semantics on top of tslab: what a cell bound before it failed stays bound.
 *
 * tslab type-checks each cell against the declarations of the cells that *completed* (its `prevDecl`),
 * while the CommonJS code it runs stores every top-level binding in the session's exports object as the
 * declaration runs. A cell that throws or is interrupted thus left values behind that later cells could
 * not name (`let q = 5; throw ...`, then `q` -> "Cannot find name 'q'"). In Python `q` exists: the
 * statements before the failing one ran, those after it did not. We do the same, by composition:
 *
 * - `bindInPlace` rewrites tslab's JavaScript so a name reaches the session exactly when its declaration
 *   runs: TypeScript's CommonJS preamble `exports.a = exports.b = void 0;` is blanked (it would reset an
 *   earlier cell's `a` to undefined before the redeclaring statement was even reached), and an export of a
 *   hoisted function is moved to the function's own line (TypeScript 5.0 already puts it there; we do not
 *   rely on it).
 * - the executor records which exports the cell wrote while it ran (its *bound* names);
 * - `keptDeclarations` builds the declarations later cells are checked against after a failure: the
 *   failed cell's declarations of the names it bound (and of types declared before the failure point),
 *   and the earlier cells' declarations of every other name, so a redeclaration that never ran leaves the
 *   old name with its old type, as its old value is still there.
 *
 * Decisions worth knowing:
 * - A `function f` after the failing statement stays undefined for later cells (Python semantics), though
 *   inside the failing cell JavaScript hoisting still lets earlier statements call it.
 * - Interfaces and type aliases have no run time: they are kept when they come before the first value
 *   declaration that did not run and, for a thrown error whose line in the cell is known, on or before
 *   that line. After an interrupt the failure point is unknown, so types declared after it may be kept
 *   (harmless: no value is missing behind a type).
 * - Imports and namespaces count as values (bound when their `require` ran); a name of an import that
 *   binds nothing at run time (a type) is kept when the import lies before the failing line.
 */
import * as ts from '@tslab/typescript-for-tslab'; // the compiler tslab already loaded: no second copy

/** tslab's CommonJS output with each export placed where its declaration runs (line numbers kept). */
export function bindInPlace(js: string): string {
  const lines = js.split('\n');
  const hoisted = new Map<string, number>(); // function name -> line of its early `exports.f = f;`
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^exports\.[\w$]+ = (?:exports\.[\w$]+ = )*void 0;$/.test(line)) {
      lines[i] = '';
      continue;
    }
    const early = /^exports\.([\w$]+) = ([\w$]+);$/.exec(line);
    if (early && early[1] === early[2] && !hoisted.has(early[1])) hoisted.set(early[1], i);
    const fn = /^(?:async )?function\*? ?([\w$]+)\s*[(<]/.exec(line);
    if (fn && hoisted.has(fn[1])) {
      lines[hoisted.get(fn[1])!] = '';
      lines[i] = `exports.${fn[1]} = ${fn[1]}; ${line}`;
      hoisted.delete(fn[1]);
    }
  }
  return lines.join('\n');
}

/**
 * `{ a }` → `{ a: a }` in a cell's TypeScript, before tslab converts it. tslab reads an earlier cell's name as
 * `exports.a` by replacing the identifier, which inside a shorthand property prints as the bare `a` again, so
 * `console.log({ a })` threw "a is not defined" while `{ a: a }` worked. The long form means the same in object
 * literals and in destructuring assignments (`({ a } = o)`, `({ a = 1 } = o)`); only columns after it on its
 * line move, which error positions (reported per line) do not show.
 */
export function expandShorthands(src: string): string {
  const sf = ts.createSourceFile('cell.ts', src, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const at: { end: number; name: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isShorthandPropertyAssignment(node)) at.push({ end: node.name.end, name: node.name.text });
    ts.forEachChild(node, visit);
  };
  visit(sf);
  let out = src;
  for (const { end, name } of at.sort((a, b) => b.end - a.end)) out = `${out.slice(0, end)}: ${name}${out.slice(end)}`;
  return out;
}

/** A top-level statement of a cell, as far as binding goes. */
interface CellStatement {
  names: string[];
  /** Binds its names at run time (let/const/var, function with a body, class, enum, import, namespace). */
  value: boolean;
  import: boolean;
  /** 1-based line of its first token. */
  line: number;
}

function bindingNames(name: ts.BindingName, out: string[] = []): string[] {
  if (ts.isIdentifier(name)) out.push(name.text);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, out);
  return out;
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return (ts.canHaveModifiers(node) ? ts.getModifiers(node) : undefined)?.some((m) => m.kind === kind) ?? false;
}

function importNames(st: ts.ImportDeclaration | ts.ImportEqualsDeclaration): string[] {
  if (ts.isImportEqualsDeclaration(st)) return [st.name.text];
  const c = st.importClause;
  if (!c) return [];
  const names = c.name ? [c.name.text] : [];
  if (c.namedBindings) {
    if (ts.isNamespaceImport(c.namedBindings)) names.push(c.namedBindings.name.text);
    else for (const el of c.namedBindings.elements) names.push(el.name.text);
  }
  return names;
}

/** Names a top-level statement declares (any declaration space). */
function statementNames(st: ts.Statement): string[] {
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.flatMap((d) => bindingNames(d.name));
  if (ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st)) return importNames(st);
  if (ts.isModuleDeclaration(st)) return ts.isIdentifier(st.name) ? [st.name.text] : [];
  if (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) {
    return st.name ? [st.name.text] : [];
  }
  return [];
}

function cellStatements(src: string): CellStatement[] {
  const sf = ts.createSourceFile('cell.ts', src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  return sf.statements.map((st) => {
    const declared = hasModifier(st, ts.SyntaxKind.DeclareKeyword);
    let value = false;
    if (ts.isVariableStatement(st) || ts.isClassDeclaration(st) || ts.isModuleDeclaration(st) || ts.isImportEqualsDeclaration(st)) value = !declared;
    else if (ts.isFunctionDeclaration(st)) value = !declared && !!st.body;
    else if (ts.isEnumDeclaration(st)) value = !declared && !hasModifier(st, ts.SyntaxKind.ConstKeyword);
    else if (ts.isImportDeclaration(st)) value = !st.importClause?.isTypeOnly;
    const imp = ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st);
    return { names: statementNames(st), value, import: imp, line: sf.getLineAndCharacterOfPosition(st.getStart(sf)).line + 1 };
  });
}

/**
 * The text of the declarations in `sf` whose names pass `keep`, statement by statement; a variable
 * statement or an import keeps only the passing names. Statements that declare nothing follow `nameless`.
 */
function pick(sf: ts.SourceFile, keep: (name: string) => boolean, nameless: boolean): string {
  const text = sf.text;
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st)) {
      const all = st.declarationList.declarations;
      const kept = all.filter((d) => bindingNames(d.name).every(keep));
      if (kept.length === all.length) out.push(text.slice(st.pos, st.end));
      else if (kept.length) out.push(`\n${text.slice(st.getStart(sf), all[0].getStart(sf))}${kept.map((d) => d.getText(sf)).join(', ')};`);
      continue;
    }
    if (ts.isImportDeclaration(st) && st.importClause) {
      const names = importNames(st);
      if (names.every(keep)) { out.push(text.slice(st.pos, st.end)); continue; }
      const c = st.importClause;
      const head = `\nimport ${c.isTypeOnly ? 'type ' : ''}`;
      const from = ` from ${st.moduleSpecifier.getText(sf)};`;
      if (c.name && keep(c.name.text)) out.push(`${head}${c.name.text}${from}`);
      const nb = c.namedBindings;
      if (nb && ts.isNamespaceImport(nb) && keep(nb.name.text)) out.push(`${head}* as ${nb.name.text}${from}`);
      if (nb && ts.isNamedImports(nb)) {
        const els = nb.elements.filter((el) => keep(el.name.text));
        if (els.length) out.push(`${head}{ ${els.map((el) => el.getText(sf)).join(', ')} }${from}`);
      }
      continue;
    }
    const names = statementNames(st);
    if (names.length ? names.every(keep) : nameless) out.push(text.slice(st.pos, st.end));
  }
  return out.join('');
}

export interface Failure {
  /** Names the cell wrote to the session's exports before it stopped. */
  bound: ReadonlySet<string>;
  /** Line of the cell where a thrown error came from, when its stack says so. */
  line?: number;
}

/**
 * Declarations for the cells after a failed one.
 * @param prev the declarations the failed cell was checked against
 * @param declOutput what tslab would have carried had the cell completed: the cell's own declarations
 *   followed by those of `prev` it did not redeclare
 * @param src the failed cell's TypeScript
 */
export function keptDeclarations(prev: string, declOutput: string, src: string, failure: Failure): string {
  const stmts = cellStatements(src);
  const firstUnbound = stmts.findIndex((s) => s.value && !s.import && s.names.some((n) => !failure.bound.has(n)));
  const reached = (i: number, strict: boolean) =>
    (firstUnbound < 0 || i < firstUnbound) && (failure.line === undefined || (strict ? stmts[i].line < failure.line : stmts[i].line <= failure.line));
  const kept = new Set<string>();
  const dropped = new Set<string>();
  stmts.forEach((s, i) => {
    for (const n of s.names) {
      if (failure.bound.has(n) || (s.import ? reached(i, true) : !s.value && reached(i, false))) kept.add(n);
      else dropped.add(n);
    }
  });
  // A name declared twice in the cell (function overloads, merged interfaces) counts as run if either ran.
  for (const n of kept) dropped.delete(n);
  if (!dropped.size) return declOutput;
  const parse = (text: string) => ts.createSourceFile('__prev__.d.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  // Everything about a dropped name comes from before the cell, whichever declaration space tslab kept.
  const own = pick(parse(declOutput), (n) => !dropped.has(n), true);
  const old = pick(parse(prev), (n) => dropped.has(n), false);
  return old ? `${own.replace(/\n*$/, '\n')}${old.replace(/^\n+/, '')}\n` : own;
}
