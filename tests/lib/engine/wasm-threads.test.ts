// lib/engine/wasm-threads.ts: tfjs-backend-wasm's threaded build started in Node. Each scenario runs in a fresh `node`
// child (one wasm module per process), loading lib/engine/*.ts from source through tsx's CommonJS hook
// (`node --require tsx/cjs -e …`, see TSX_CHILD), as backend.test.ts does.
// What must hold: the threaded backend really computes with the threads asked for, its results are bit-identical
// to the single-threaded build (XNNPACK splits output tiles, never a sum), the process exits by itself (the pool's
// worker threads block forever), a bad D2L_WASM_THREADS is a clear error, and the wasm glue's process handlers are gone.
import { execFile } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, wasmThreads } from '../../../lib/engine/wasm-threads';

const ROOT = path.resolve(__dirname, '../../..');
/** Node arguments for a child that runs `script` with lib/'s TypeScript loadable by `require` (tsx's CommonJS hook). */
const TSX_CHILD = (script: string): string[] => ['--require', 'tsx/cjs', '-e', script];
const BACKEND_TS = JSON.stringify(path.join(ROOT, 'lib/engine/backend.ts'));
const WASM_THREADS_TS = JSON.stringify(path.join(ROOT, 'lib/engine/wasm-threads.ts'));

// Every op family the threaded pool runs (GEMM in all transpose variants, conv2d and both of its gradients,
// d2l-ts's wasm kernels) plus one MLP training step, each reduced to a hash of its float32 bytes.
const WORKLOAD = `
const crypto = require('crypto');
const b = require(${BACKEND_TS});
const tf = require('@tensorflow/tfjs');
const hash = (t) => { const h = crypto.createHash('sha1').update(Buffer.from(t.dataSync().buffer)).digest('hex'); t.dispose(); return h; };
b.initBackend().then((info) => {
  const out = { threads: info.threads, backend: tf.getBackend(), hashes: {} };
  const r = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const A = r([256, 784], 1), B = r([784, 256], 2), C = r([256, 256], 3);
  out.hashes.matMul = hash(tf.matMul(A, B));
  out.hashes.matMulTA = hash(tf.matMul(A, C, true, false));
  out.hashes.matMulTB = hash(tf.matMul(C, B, false, true));
  const x = r([64, 14, 14, 6], 4), f = r([5, 5, 6, 16], 5);
  const [dx, df] = tf.grads((x, f) => tf.conv2d(x, f, 1, 'valid').square().sum())([x, f]);
  out.hashes.conv2d = hash(tf.conv2d(x, f, 1, 'valid'));
  out.hashes.conv2dDx = hash(dx);
  out.hashes.conv2dDf = hash(df);
  const W1 = tf.variable(r([784, 256], 6).mul(0.01)), W2 = tf.variable(r([256, 10], 7).mul(0.01));
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 256 }, (_, i) => i % 10), 'int32'), 10);
  tf.train.sgd(0.1).minimize(() => tf.losses.softmaxCrossEntropy(y, tf.relu(A.matMul(W1)).matMul(W2)));
  out.hashes.mlpStepW1 = hash(W1.clone());
  out.hashes.mlpStepW2 = hash(W2.clone());
  out.tensorsLeft = tf.memory().numTensors;
  console.log('RESULT ' + JSON.stringify(out));
}, (e) => console.log('RESULT ' + JSON.stringify({ error: e.message })));
`;

interface Result { threads?: number; backend?: string; hashes?: Record<string, string>; error?: string; ms: number }

/** Runs the workload on wasm with D2L_WASM_THREADS=`threads` (unset when undefined); resolves when the child has exited. */
function runChild(threads: string | undefined): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, D2L_BACKEND: 'wasm' };
  delete env.D2L_WASM_THREADS;
  if (threads !== undefined) env.D2L_WASM_THREADS = threads;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    // The child is not killed unless it hangs for 60 s: a threaded module that kept Node alive fails here.
    execFile(process.execPath, TSX_CHILD(WORKLOAD), { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (err || !line) return reject(new Error(`child failed or did not exit: ${err?.message}\n${stdout}\n${stderr}`));
      resolve({ ...(JSON.parse(line.slice('RESULT '.length)) as Result), ms: Date.now() - t0 });
    });
  });
}

const CORES = os.availableParallelism?.() ?? os.cpus().length;

// useThreadedWasm starts the pool's workers from wasm-pthread-worker.cjs next to wasm-threads itself (__dirname):
// lib/engine/ when run from source, dist/lib/engine/ when compiled (scripts/copy-assets.js puts it there). This runs
// it from source and without initBackend's fallback, so a missing worker file is this test's error, not a warning.
const THREADED_FROM_SOURCE = `
const tf = require('@tensorflow/tfjs');
require(${WASM_THREADS_TS}).useThreadedWasm(2)
  .then(() => tf.setBackend('wasm'))
  .then((ok) => console.log('RESULT ' + JSON.stringify({ ok, threads: require('@tensorflow/tfjs-backend-wasm').getThreadsCount() })),
        (e) => console.log('RESULT ' + JSON.stringify({ error: e.message })));
`;

describe('threaded wasm in a fresh process', { timeout: 90_000 }, () => {
  it('finds wasm-pthread-worker.cjs next to lib/engine/wasm-threads.ts when run from source', async () => {
    const r = await new Promise<{ ok?: boolean; threads?: number; error?: string }>((resolve, reject) => {
      execFile(process.execPath, TSX_CHILD(THREADED_FROM_SOURCE), { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (err || !line) return reject(new Error(`child failed or did not exit: ${err?.message}\n${stdout}\n${stderr}`));
        resolve(JSON.parse(line.slice('RESULT '.length)));
      });
    });
    expect(r).toEqual({ ok: true, threads: 2 });
  });

  it('computes with 2 threads, bit-identical to the single-threaded build, and exits by itself', async () => {
    const one = await runChild('1');
    const two = await runChild('2');
    expect(one.error).toBeUndefined();
    expect(two.error).toBeUndefined();
    expect(one).toMatchObject({ backend: 'wasm', threads: 1 });
    expect(two).toMatchObject({ backend: 'wasm', threads: 2 });
    expect(Object.keys(two.hashes!)).toHaveLength(8);
    expect(two.hashes).toEqual(one.hashes);
  });

  it('uses every core by default (at most 8)', async () => {
    const r = await runChild(undefined);
    expect(r.error).toBeUndefined();
    expect(r.threads).toBe(Math.min(MAX_WASM_THREADS, CORES));
  });

  it('a bad D2L_WASM_THREADS is an error naming the variable and the valid range', async () => {
    const r = await runChild('0');
    expect(r.error).toMatch(/D2L_WASM_THREADS='0' must be a whole number from 1 to 8/);
  });
});

// The kernel reports an unhandled rejection or uncaught exception from a cell and carries on. Emscripten's glue (both
// wasm builds) adds handlers that rethrow them, which ends Node at once; initBackend removes those.
const HANDLERS = `
process.on('unhandledRejection', (e) => console.log('reported rejection: ' + e.message));
process.on('uncaughtException', (e) => console.log('reported exception: ' + e.message));
require(${BACKEND_TS}).initBackend().then(() => {
  Promise.reject(new Error('boom'));
  setTimeout(() => { throw new Error('bang'); }, 50);
  setTimeout(() => console.log('still alive'), 200);
});
`;

describe('process handlers after the wasm backend starts', { timeout: 60_000 }, () => {
  for (const threads of ['1', '2']) {
    it(`with ${threads} thread(s), the process's own handlers see rejections and exceptions, and it lives on`, async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, D2L_BACKEND: 'wasm', D2L_WASM_THREADS: threads };
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, TSX_CHILD(HANDLERS), { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) =>
          (err ? reject(new Error(`child died: ${err.message}\n${stdout}\n${stderr.slice(0, 500)}`)) : resolve(stdout)));
      });
      expect(out).toContain('reported rejection: boom');
      expect(out).toContain('reported exception: bang');
      expect(out).toContain('still alive');
    });
  }
});

describe('wasmThreads', () => {
  const saved = process.env.D2L_WASM_THREADS;
  afterEach(() => {
    if (saved === undefined) delete process.env.D2L_WASM_THREADS;
    else process.env.D2L_WASM_THREADS = saved;
  });

  it('defaults to the cores, capped at 8, at least 1', () => {
    delete process.env.D2L_WASM_THREADS;
    expect(wasmThreads(2)).toBe(2);
    expect(wasmThreads(64)).toBe(8);
    expect(wasmThreads(0)).toBe(1);
  });

  it('takes D2L_WASM_THREADS when it is 1..8, else throws', () => {
    process.env.D2L_WASM_THREADS = ' 3 ';
    expect(wasmThreads(2)).toBe(3);
    for (const bad of ['0', '9', '1.5', 'two']) {
      process.env.D2L_WASM_THREADS = bad;
      expect(() => wasmThreads(2)).toThrow(`D2L_WASM_THREADS='${bad}'`);
    }
  });
});
