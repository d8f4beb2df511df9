// The pthread worker of tfjs-backend-wasm's threaded build, as a file Node's worker_threads can start
// (tfjs only offers it as a string, which it turns into a browser Blob URL). See lib/wasm-threads.ts.
// The string is Emscripten's worker.js inside a template literal, whose "\n" escapes became real newlines:
// put them back before evaluating. A direct eval, so the worker code sees this module's `require`.
'use strict';
eval(require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')
  .wasmWorkerContents.replace(/\n/g, '\\n'));
