/**
 * Where the checkout is, for the runner's defaults (notebooks/, tests/golden/, out/, .venv/) and the kernel
 * command (bin/d2l-ts.js). The same modules run from runner/ (tests import the TypeScript) and from
 * dist/runner/ (the `d2l-ts lessons` command), so the root is found, not assumed to be a fixed number of
 * folders up.
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';

function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return path.resolve(dir, '..');
  }
}

/** The package root: the nearest folder above this module with a package.json. */
export const ROOT = findRoot(__dirname);

/** The `d2l-ts` command; `node D2L_BIN kernel {connection_file}` is the kernelspec's argv. */
export const D2L_BIN = path.join(ROOT, 'bin', 'd2l-ts.js');
