#!/usr/bin/env node
// Entry point of the d2l-ts command, compiled by `npm run build`: `lessons` runs the lecture notebooks
// (dist/runner/cli.js), `check-golden` checks executed notebooks against their golden files
// (dist/runner/golden.js), `course-map` prints README's course-map table (dist/runner/course.js), everything else is the kernel's command (dist/kernel/main.js: kernel, install, ...).
const path = require('path');
const [command, ...rest] = process.argv.slice(2);
const MODULES = { lessons: 'runner/cli.js', 'check-golden': 'runner/golden.js', 'course-map': 'runner/course.js' };
const own = Object.prototype.hasOwnProperty.call(MODULES, command);
let main;
try {
  ({ main } = require(path.join(__dirname, '..', 'dist', own ? MODULES[command] : 'kernel/main.js')));
} catch (e) {
  console.error('d2l-ts: not built (' + e.message.split('\n')[0] + '); run `npm run build` in ' + path.resolve(__dirname, '..'));
  process.exit(1);
}
Promise.resolve()
  .then(() => main(own ? rest : process.argv.slice(2)))
  .then(
    (code) => { if (code >= 0) process.exitCode = code; },
    (e) => { console.error('d2l-ts: ' + (e && e.message ? e.message : e)); process.exit(1); }
  );
