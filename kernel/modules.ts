/**
 * Imports from a notebook that lives outside the checkout: a learner's home on JupyterHub, a copy of a lecture in
 * ~/Downloads. tslab resolves `import * as d2l from 'd2l-ts'` (and `@tensorflow/tfjs`) the way Node does, from the
 * notebook's folder up, so such a notebook failed with "Cannot find module 'd2l-ts'" unless a node_modules sat
 * above it. The kernel knows where it is installed; when a bare import is not found from the notebook's folder, it
 * is resolved from the kernel's own package, as if that package's node_modules were on NODE_PATH. A node_modules
 * beside the notebook still wins (the learner's own install of a package, or the checkout itself).
 *
 * Two resolvers need it, and both get it here:
 * - run time: Node's `Module._resolveFilename` retries a bare request from the kernel's package root;
 * - type checking: TypeScript asks tslab's `sys` (an object whose prototype is `ts.sys` of the compiler tslab
 *   loaded) about `<cwd>/node_modules/…` files; a path there that does not exist is answered from
 *   `<root>/node_modules/…`, and `realpath` returns the real location, so every package is type-checked once (two
 *   virtual copies of @tensorflow/tfjs would make its classes incompatible with themselves).
 * tslab forwards `<cwd>/node_modules/tslab` to its own package the same way (its converter's forwardTslabPath).
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from '@tslab/typescript-for-tslab'; // the compiler tslab already loaded: no second copy

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Module = require('module') as { _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: { paths?: string[] }): string };

let installed: { cwd: string; root: string } | undefined;

/** `<cwd>/node_modules/rest` → `<root>/node_modules/rest` when the first does not exist; else the path itself. */
export function forwardedPath(p: string, cwd: string, root: string): string {
  const own = path.join(cwd, 'node_modules') + path.sep;
  if (!p.startsWith(own) || path.resolve(cwd) === path.resolve(root)) return p;
  if (fs.existsSync(p)) return p;
  return path.join(root, 'node_modules', p.slice(own.length));
}

/**
 * Makes bare imports of a notebook in `cwd` fall back to the packages of the kernel installed at `root`. Idempotent
 * per process (a kernel serves one notebook folder).
 */
export function resolveFromKernel(cwd: string, root: string): void {
  if (installed) return;
  installed = { cwd, root };
  if (path.resolve(cwd).startsWith(path.resolve(root) + path.sep) || path.resolve(cwd) === path.resolve(root)) return;

  const original = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (err) {
      const bare = !request.startsWith('.') && !path.isAbsolute(request) && !request.startsWith('node:');
      if (!bare || (err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      return original.call(this, request, parent, isMain, { paths: [root] });
    }
  };

  const sys = ts.sys as ts.System & Record<string, unknown>;
  const fwd = (p: string) => forwardedPath(p, cwd, root);
  const wrap = <K extends 'readFile' | 'fileExists' | 'directoryExists' | 'getDirectories' | 'readDirectory'>(name: K) => {
    const f = sys[name] as (...a: unknown[]) => unknown;
    (sys as Record<string, unknown>)[name] = (p: string, ...rest: unknown[]) => f.call(sys, fwd(p), ...rest);
  };
  for (const name of ['readFile', 'fileExists', 'directoryExists', 'getDirectories', 'readDirectory'] as const) wrap(name);
  const realpath = sys.realpath;
  sys.realpath = (p: string) => {
    const f = fwd(p);
    if (f === p) return realpath ? realpath.call(sys, p) : p;
    try {
      return fs.realpathSync(f);
    } catch {
      return f;
    }
  };
}
