#!/usr/bin/env node
// Files tsc does not emit but dist/ needs next to the compiled modules that find them by path at run time.
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
const ASSETS = [
  'lib/engine/wasm-pthread-worker.cjs', // wasm-threads.ts: the pthread worker of tfjs' threaded wasm build
  'runner/nbformat.v4.5.schema.json', // runner/notebook.ts: validates every notebook it writes
];
for (const file of ASSETS) {
  fs.mkdirSync(path.dirname(path.join(root, 'dist', file)), { recursive: true });
  fs.copyFileSync(path.join(root, file), path.join(root, 'dist', file));
}
