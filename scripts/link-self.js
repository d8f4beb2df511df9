#!/usr/bin/env node
// Notebooks `import * as d2l from 'd2l-ts'`. tslab resolves imports with TypeScript's node10 rules, which
// cannot see a package from inside itself, so we link node_modules/d2l-ts -> the package root once built.
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
const link = path.join(root, 'node_modules', 'd2l-ts');
fs.mkdirSync(path.dirname(link), { recursive: true });
try {
  if (fs.realpathSync(link) === root) process.exit(0);
  fs.rmSync(link, { recursive: true, force: true });
} catch { /* no link yet */ }
fs.symlinkSync('..', link, 'dir');
