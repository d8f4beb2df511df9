#!/usr/bin/env node
// Entry point of the d2l-ts command (compiled from kernel/main.ts by `npm run build`).
let main;
try {
  ({ main } = require('../dist/kernel/main.js'));
} catch (e) {
  console.error('d2l-ts: not built (' + e.message.split('\n')[0] + '); run `npm run build` in ' + require('path').resolve(__dirname, '..'));
  process.exit(1);
}
main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (e) => { console.error('d2l-ts: ' + (e && e.message ? e.message : e)); process.exit(1); }
);
