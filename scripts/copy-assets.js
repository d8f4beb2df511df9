#!/usr/bin/env node
// Files tsc does not emit but dist/ needs next to the compiled modules.
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
for (const file of ['lib/wasm-pthread-worker.cjs']) {
  fs.mkdirSync(path.dirname(path.join(root, 'dist', file)), { recursive: true });
  fs.copyFileSync(path.join(root, file), path.join(root, 'dist', file));
}
