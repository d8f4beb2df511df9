/**
 * Where the checkout is, for the runner's defaults (notebooks/, tests/golden/, out/, .venv/) and the kernel
 * command (bin/d2l-ts.js). The same modules run from runner/ (tests import the TypeScript) and from
 * dist/runner/ (the `d2l-ts lessons` command), so the root is found, not assumed to be a fixed number of
 * folders up.
 * @module
 */
import * as path from 'path';
import { packageRoot } from '../common/package-root';

/** The package root: the nearest folder above this module with a package.json (common/package-root). */
export const ROOT = packageRoot(__dirname);

/** The `d2l-ts` command; `node D2L_BIN kernel {connection_file}` is the kernelspec's argv. */
export const D2L_BIN = path.join(ROOT, 'bin', 'd2l-ts.js');
