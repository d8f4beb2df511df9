/**
 * Where the d2l-ts checkout (or install) is, for code that needs its files at run time: the runner (notebooks/,
 * tests/golden, bin/d2l-ts.js) and the kernel (its kernelspec, and the packages a notebook outside the checkout
 * imports). The same modules run from their source folders (tests, through tsx) and from dist/ (the `d2l-ts`
 * command), so the root is found, not assumed to be a fixed number of folders up.
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';

/** The nearest folder at or above `dir` with a package.json; the parent of `dir` when there is none. */
export function packageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return path.resolve(dir, '..');
  }
}
