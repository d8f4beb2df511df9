// The folder rule, as a test. Each top-level folder is one layer with one job, and a layer may only import the
// layers below it, so that:
//  - a learner reading lib/ (the `d2l/torch.py` equivalent) never has to follow an import into the kernel, the
//    runner or the Jupyter wire protocol, and lib/ stays usable without them (notebooks import only lib/);
//  - common/ (formatting shared by lib/ and the kernel) has no dependencies, so either side can use it freely;
//  - the kernel and the lessons runner are independent programs that share only jupyter/ and common/;
//  - compiled output (dist/) is never a source of code: a TypeScript file that imported from dist/ would run
//    stale code whenever the build is out of date.
// Inside lib/, engine/ (backend choice, fast paths, wasm threads) lives apart from what learners read: it may use
// only lib/random.ts and lib/args.ts of the learner-facing modules, and display/ does not reach into engine/.
//
// LAYERS below is the one place the rule is written. The checker parses every source file with the TypeScript
// compiler (static imports and exports, `import type`, `import x = require(…)`, `require(…)`, `import(…)` and
// `import('…')` types), resolves each relative specifier to its folder and reports file:line, the import and the
// rule it breaks. `require.resolve(…)` is a file lookup, not a module load, and is not counted (common/plotly.ts
// reads plotly.js from node_modules as data that way).
import * as fs from 'fs';
import { isBuiltin } from 'module';
import * as path from 'path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');

type Layer = 'lib' | 'common' | 'jupyter' | 'kernel' | 'runner';

/**
 * What each checked top-level folder may import: the folders (each may import itself), and whether npm packages are
 * allowed. Node builtins are allowed everywhere. bench/, scripts/ and tests/ are not checked (tests may import
 * anything), except that no TypeScript file anywhere imports from dist/.
 */
const LAYERS: Record<Layer, { may: Layer[]; npm: boolean; role: string }> = {
  lib: { may: ['lib', 'common'], npm: true, role: 'what learners read' },
  common: { may: ['common'], npm: false, role: 'shared formatting, no dependencies' },
  jupyter: { may: ['jupyter', 'common'], npm: true, role: 'wire protocol + KernelClient' },
  kernel: { may: ['kernel', 'jupyter', 'common'], npm: true, role: 'the kernel' },
  runner: { may: ['runner', 'jupyter', 'common'], npm: true, role: 'lessons runner' },
};

/** lib/'s subfolders; the files directly in lib/ are the learner-facing modules. */
const LIB_SUBFOLDERS = ['display', 'datasets', 'engine'] as const;
type LibPart = 'lib' | `lib/${(typeof LIB_SUBFOLDERS)[number]}`;
/** Learner-facing lib/ modules that lib/engine/ may import (besides lib/engine/ itself and common/). */
const ENGINE_MAY_USE = ['lib/random', 'lib/args'];
/** lib/ parts that another may not import, beyond the ENGINE_MAY_USE rule. */
const LIB_FORBIDDEN: [from: LibPart, to: LibPart][] = [['lib/display', 'lib/engine']];

const CHECKED_EXTENSIONS = /\.(ts|mts|cts|js|mjs|cjs)$/;
/** This package's own name: importing it resolves through package.json's `main` into dist/. */
const SELF = 'd2l-ts';

interface Import {
  /** Root-relative path of the importing file, with forward slashes. */
  file: string;
  line: number;
  specifier: string;
  kind: string;
}

interface Violation extends Import {
  rule: string;
}

/** Every module specifier in `text`, found by walking the syntax tree of `file` (root-relative). */
function importsOf(file: string, text: string): Import[] {
  const kind = /\.[cm]?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const out: Import[] = [];
  const add = (node: ts.Node, spec: ts.Node | undefined, what: string) => {
    if (spec && ts.isStringLiteralLike(spec)) {
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      out.push({ file, line, specifier: spec.text, kind: what });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ? 'import type' : 'import');
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, 'export from');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, 'import = require');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, "import('…') type");
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], 'import()');
      else if (ts.isIdentifier(callee) && callee.text === 'require') add(node, node.arguments[0], 'require');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** What a specifier points at: a node builtin, an npm package, or a root-relative path. */
type Target = { builtin: string } | { npm: string } | { path: string };

function targetOf(file: string, specifier: string): Target {
  if (specifier === SELF || specifier.startsWith(`${SELF}/`)) {
    // package.json: "main": "dist/lib/index.js"; 'd2l-ts/x' is <root>/x.
    return { path: specifier === SELF ? 'dist/lib/index' : specifier.slice(SELF.length + 1) };
  }
  if (specifier.startsWith('.') || path.isAbsolute(specifier)) {
    const abs = path.resolve(ROOT, path.dirname(file), specifier);
    return { path: path.relative(ROOT, abs).split(path.sep).join('/') };
  }
  if (isBuiltin(specifier)) return { builtin: specifier };
  const parts = specifier.split('/');
  return { npm: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] };
}

/** The checked layer a root-relative path is in, if any. */
function layerOf(rel: string): Layer | undefined {
  const top = rel.split('/')[0];
  return (top in LAYERS ? top : undefined) as Layer | undefined;
}

/** For a path in lib/: its part (lib/ itself or one of its subfolders). `lib/engine` alone is that folder's index. */
function libPartOf(rel: string): LibPart {
  const seg = rel.split('/');
  const sub = seg[1] as (typeof LIB_SUBFOLDERS)[number];
  if (LIB_SUBFOLDERS.includes(sub) && (seg.length > 2 || isDir(rel))) return `lib/${sub}`;
  return 'lib';
}

function isDir(rel: string): boolean {
  try {
    return fs.statSync(path.join(ROOT, rel)).isDirectory();
  } catch {
    return false;
  }
}

const withoutExt = (rel: string) => rel.replace(CHECKED_EXTENSIONS, '');

/** The rules `imp` breaks, if any (one message each). */
function check(imp: Import): Violation[] {
  const target = targetOf(imp.file, imp.specifier);
  const broken: string[] = [];
  const to = 'path' in target ? target.path : undefined;
  if (to !== undefined && (to === 'dist' || to.startsWith('dist/'))) {
    broken.push(`no source file imports from dist/ (it is build output; import the source)`);
  }
  const from = layerOf(imp.file);
  if (from) {
    const rule = LAYERS[from];
    if ('npm' in target && !rule.npm) {
      broken.push(`${from}/ (${rule.role}) imports no npm packages: only node builtins and ${rule.may.map((l) => `${l}/`).join(', ')}`);
    }
    if (to !== undefined && !to.startsWith('dist/')) {
      const toLayer = layerOf(to);
      if (!toLayer || !rule.may.includes(toLayer)) {
        broken.push(`${from}/ (${rule.role}) may import only ${rule.may.map((l) => `${l}/`).join(', ')}` +
          `${rule.npm ? ', npm packages' : ''} and node builtins, not ${to}${to.startsWith('../') ? ' (outside the repository)' : ''}`);
      } else if (from === 'lib' && toLayer === 'lib') {
        const a = libPartOf(imp.file), b = libPartOf(to);
        if (a === 'lib/engine' && b !== 'lib/engine' && !ENGINE_MAY_USE.includes(withoutExt(to))) {
          broken.push(`lib/engine/ may import only lib/engine/, ${ENGINE_MAY_USE.map((m) => `${m}.ts`).join(', ')} of lib/ ` +
            `(engine internals live apart from what learners read), not ${to}`);
        }
        for (const [x, y] of LIB_FORBIDDEN) {
          if (a === x && b === y) broken.push(`${x}/ must not import ${y}/`);
        }
      }
    }
  }
  return broken.map((rule) => ({ ...imp, rule }));
}

/** Each cycle in the graph `edges` (node → nodes it imports), as a list of nodes; self-loops are not cycles. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const key = (c: string[]) => [...c].sort().join(' ');
  const walk = (node: string, trail: string[]) => {
    const at = trail.indexOf(node);
    if (at >= 0) {
      const c = trail.slice(at);
      if (!seen.has(key(c))) {
        seen.add(key(c));
        found.push([...c, node]);
      }
      return;
    }
    for (const next of edges.get(node) ?? []) if (next !== node) walk(next, [...trail, node]);
  };
  for (const node of edges.keys()) walk(node, []);
  return found;
}

function addEdge(edges: Map<string, Set<string>>, a: string, b: string, why: string, whyMap: Map<string, string>) {
  if (a === b) return;
  if (!edges.has(a)) edges.set(a, new Set());
  edges.get(a)!.add(b);
  if (!whyMap.has(`${a}>${b}`)) whyMap.set(`${a}>${b}`, why);
}

/** Import cycles between top-level folders and between lib's subfolders, with one import per edge as evidence. */
function folderCycles(imports: Import[]): string[] {
  const top = new Map<string, Set<string>>(), sub = new Map<string, Set<string>>(), why = new Map<string, string>();
  for (const imp of imports) {
    const t = targetOf(imp.file, imp.specifier);
    if (!('path' in t)) continue;
    const at = `${imp.file}:${imp.line} ${imp.specifier}`;
    const a = imp.file.split('/')[0], b = t.path.split('/')[0];
    if (layerOf(imp.file)) addEdge(top, `${a}/`, `${b}/`, at, why);
    if (a === 'lib' && b === 'lib') {
      const pa = libPartOf(imp.file), pb = libPartOf(t.path);
      if (pa !== 'lib' && pb !== 'lib') addEdge(sub, `${pa}/`, `${pb}/`, at, why);
    }
  }
  return [...cycles(top), ...cycles(sub)].map((c) =>
    `import cycle ${c.join(' → ')}: ${c.slice(1).map((n, i) => why.get(`${c[i]}>${n}`)).join('; ')}`);
}

/** Root-relative paths of the files under `dir` whose names match `ext`, skipping node_modules, dist, .git, .venv, out. */
function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!['node_modules', 'dist', '.git', '.venv', 'out'].includes(e.name)) walk(r);
      } else if (ext.test(e.name)) out.push(r);
    }
  };
  if (fs.existsSync(path.join(ROOT, dir))) walk(dir);
  return out;
}

const fmt = (v: Violation) => `${v.file}:${v.line}: ${v.kind} '${v.specifier}' — ${v.rule}`;

describe('the folder rule (LAYERS)', () => {
  // Checked layers: every source file. Elsewhere (bench/, scripts/, tests/, bin/ …): TypeScript files, for dist/ only.
  const layered = (Object.keys(LAYERS) as Layer[]).flatMap((l) => filesUnder(l, CHECKED_EXTENSIONS));
  const otherTs = filesUnder('', /\.[cm]?ts$/).filter((f) => !layerOf(f));
  const read = (f: string) => importsOf(f, fs.readFileSync(path.join(ROOT, f), 'utf8'));
  const imports = layered.flatMap(read);
  const otherImports = otherTs.flatMap(read);

  it('finds the source files and their imports', () => {
    expect(layered).toEqual(expect.arrayContaining(['lib/index.ts', 'common/mime.ts', 'jupyter/protocol.ts', 'kernel/main.ts']));
    expect(layered.some((f) => f.startsWith('runner/'))).toBe(true);
    expect(imports.length).toBeGreaterThan(50);
    expect(otherTs.length).toBeGreaterThan(10);
  });

  it('every import in lib/, common/, jupyter/, kernel/, runner/ follows the table', () => {
    expect(imports.flatMap(check).map(fmt)).toEqual([]);
  });

  it('no TypeScript file anywhere imports from dist/', () => {
    expect(otherImports.flatMap(check).map(fmt)).toEqual([]);
  });

  it('no import cycle between top-level folders or between lib/ subfolders', () => {
    expect(folderCycles(imports)).toEqual([]);
  });
});

describe('the checker itself', () => {
  const violations = (file: string, text: string) => importsOf(file, text).flatMap(check);

  it('flags a kernel/ file importing lib/, with file:line, the import and the rule', () => {
    const v = violations('kernel/display.ts', "import * as fs from 'fs';\nimport x from '../lib/index';\n");
    expect(v.map(fmt)).toEqual([
      "kernel/display.ts:2: import '../lib/index' — kernel/ (the kernel) may import only kernel/, jupyter/, common/, npm packages and node builtins, not lib/index",
    ]);
  });

  it('sees every import form, in .ts and .js files', () => {
    const src = [
      "import type { T } from '../lib/a';",
      "export { b } from '../runner/b';",
      "import c = require('../kernel/c');",
      "const d = require('../kernel/d');",
      "const e = await import('../kernel/e');",
      "let f: typeof import('../kernel/f');",
      "function g() { if (x) return require('../kernel/g'); }",
    ].join('\n');
    expect(violations('jupyter/x.ts', src).map((v) => `${v.line} ${v.kind}`))
      .toEqual(['1 import type', '2 export from', '3 import = require', '4 require', '5 import()', '6 import(\'…\') type', '7 require']);
    expect(violations('runner/x.js', "const k = require('../kernel/server');").map((v) => v.line)).toEqual([1]);
  });

  it('allows what the table allows', () => {
    expect(violations('kernel/x.ts', "import 'fs'; import 'node:path'; import 'zeromq'; import '../jupyter/protocol'; import '../common/mime'; import './y';")).toEqual([]);
    expect(violations('lib/display/x.ts', "import '../args'; import '../../common/html'; import '@tensorflow/tfjs';")).toEqual([]);
    expect(violations('lib/engine/x.ts', "import '../random'; import '../args'; import './y'; import '../../common/mime';")).toEqual([]);
    expect(violations('common/x.ts', "import * as util from 'util'; import './html';")).toEqual([]);
  });

  it('flags npm packages in common/, engine reaching into learner lib/, display reaching into engine, dist/', () => {
    expect(violations('common/x.ts', "import type { Tensor } from '@tensorflow/tfjs';").map((v) => v.rule))
      .toEqual([expect.stringMatching(/^common\/ .* imports no npm packages/)]);
    expect(violations('lib/engine/x.ts', "import '../train'; import '../display/plot';").map((v) => v.rule))
      .toEqual([expect.stringMatching(/^lib\/engine\/ may import only .*not lib\/train$/), expect.stringMatching(/not lib\/display\/plot$/)]);
    expect(violations('lib/display/x.ts', "import { initBackend } from '../engine/backend';").map((v) => v.rule))
      .toEqual(['lib/display/ must not import lib/engine/']);
    expect(violations('tests/x.test.ts', "import '../dist/lib/index'; import 'd2l-ts'; import '../lib/index';").map((v) => v.specifier))
      .toEqual(['../dist/lib/index', 'd2l-ts']);
  });

  it('finds cycles between folders', () => {
    const imps = [
      ...importsOf('jupyter/a.ts', "import '../common/x';"),
      ...importsOf('common/x.ts', "import '../jupyter/a';"),
      ...importsOf('lib/display/p.ts', "import '../datasets/q';"),
      ...importsOf('lib/datasets/q.ts', "import '../display/p';"),
      ...importsOf('lib/engine/r.ts', "import '../random'; import './s';"),
    ];
    expect(folderCycles(imps)).toEqual([
      "import cycle jupyter/ → common/ → jupyter/: jupyter/a.ts:1 ../common/x; common/x.ts:1 ../jupyter/a",
      "import cycle lib/display/ → lib/datasets/ → lib/display/: lib/display/p.ts:1 ../datasets/q; lib/datasets/q.ts:1 ../display/p",
    ]);
  });
});
