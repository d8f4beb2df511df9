/**
 * Multi-threaded wasm in Node: tfjs-backend-wasm's threaded SIMD binary, started with Node's worker threads.
 *
 * tfjs-backend-wasm 4.22 ships a threaded build (XNNPACK with a pthreadpool), but in Node it always loads the
 * single-threaded one (`WASM_HAS_MULTITHREAD_SUPPORT` is false under `IS_NODE`, tfjs issue #3830): its
 * `init()` hands Emscripten the pthread worker as a `blob:` URL, which Node's `worker_threads` cannot start.
 * The Emscripten glue itself supports Node. {@link useThreadedWasm} builds the module the way Node needs:
 *
 * - the pthread worker is `wasm-pthread-worker.cjs` next to this file (a file path, not a Blob);
 * - the workers load the glue from its file in node_modules (`mainScriptUrlOrBlob` as a path);
 * - the C side caps its pool at `emscripten_num_logical_cores() / 2` ("2 threads per core"), which on a 2-core
 *   machine is 1, so the import answers `2 × threads`;
 * - the pool's worker threads are `unref`'d: they wait forever for work, and must not keep Node alive.
 *
 * Then the stock `BackendWasm` runs on that module under the name `'wasm'`, so every wasm kernel (tfjs' and
 * d2l-ts's) applies unchanged. XNNPACK splits GEMMs and convolutions over output tiles, never over the summed
 * dimension, so results are bit-identical to the single-threaded build (tests/wasm-threads.test.ts checks).
 * With 2 threads on 2 cores the MLP's GEMMs and LeNet's convolutions run 1.5-1.8x faster (npm run bench).
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** The threaded glue's file, relative to the tfjs-backend-wasm package. */
const GLUE = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
const BINARY = 'tfjs-backend-wasm-threaded-simd.wasm';
/** Emscripten pre-creates 8 pthread workers (`PThread.initMainThread`), and tfjs caps its pool at 8. */
export const MAX_WASM_THREADS = 8;
const WASM_PRIORITY = 2; // tfjs-backend-wasm's own priority for 'wasm'

/** The parts of the Emscripten module (and tfjs' additions to it) used here. */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: { runningWorkers: { unref(): void }[] };
  tfjs?: Record<string, (...a: number[]) => number>;
}
type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;
/** The global `WebAssembly` (its types live in TypeScript's DOM lib, which this Node project does not load). */
const WebAssemblyApi = (globalThis as unknown as {
  WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: unknown; module: unknown }> };
}).WebAssembly;

/**
 * Threads for the wasm backend: `D2L_WASM_THREADS` when set, else every core the process may use (`cores`: the
 * affinity capped by the cgroup CPU quota, ./cpu-quota), at most
 * {@link MAX_WASM_THREADS}. The JS thread is one of them (it runs its share of each GEMM).
 * @throws Error if `D2L_WASM_THREADS` is not a whole number from 1 to 8.
 */
export function wasmThreads(cores: number): number {
  const raw = process.env.D2L_WASM_THREADS?.trim();
  if (raw) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
      throw new Error(`D2L_WASM_THREADS='${raw}' must be a whole number from 1 to ${MAX_WASM_THREADS}`);
    }
    return n;
  }
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
}

/**
 * Creates the threaded wasm module with `threads` threads and registers it as backend `'wasm'` (replacing
 * tfjs-backend-wasm's factory, which would load the single-threaded binary in Node). Call before
 * `tf.setBackend('wasm')`. Rejects, leaving the stock factory in place, if the module cannot start (no
 * SharedArrayBuffer, worker threads unavailable, files missing).
 */
export async function useThreadedWasm(threads: number): Promise<void> {
  // Once initialised, a backend keeps its module: nothing to replace.
  if ((tf.engine() as unknown as { registry: Record<string, unknown> }).registry.wasm) return;
  if (typeof SharedArrayBuffer !== 'function') throw new Error('SharedArrayBuffer is not available');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const glue = require.resolve(GLUE);
  const binary = path.join(path.dirname(glue), BINARY);
  const worker = path.join(__dirname, 'wasm-pthread-worker.cjs');
  for (const f of [binary, worker]) if (!fs.existsSync(f)) throw new Error(`${f} is missing`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(glue) as Factory;
  const module = await factory({
    locateFile: (file: string, prefix: string) =>
      file.endsWith('.worker.js') ? worker : file.endsWith('.wasm') ? binary : prefix + file,
    mainScriptUrlOrBlob: glue,
    instantiateWasm(info: { env: Record<string, unknown> }, receive: (instance: unknown, module: unknown) => void) {
      const imports = { ...info, env: { ...info.env, emscripten_num_logical_cores: () => 2 * threads } };
      WebAssemblyApi.instantiate(fs.readFileSync(binary), imports).then(
        (r) => receive(r.instance, r.module),
        (err: unknown) => console.error(`d2l-ts: threaded wasm failed to instantiate: ${String(err)}`));
      return {};
    },
  });
  // The same entry points tfjs' init() wraps (backend_wasm.js); BackendWasm's constructor calls them.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasmPkg.setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => {
    const backend = new wasmPkg.BackendWasm(module as unknown as ConstructorParameters<typeof wasmPkg.BackendWasm>[0]);
    // The pool's threads now exist and block waiting for work: let Node exit anyway.
    for (const w of module.PThread?.runningWorkers ?? []) w.unref();
    return backend;
  }, WASM_PRIORITY);
}
