// lib/engine/compile.ts: a training step compiled into one TF function gives the same parameters as the eager
// step (scratch softmax, an MLP with Adam, a LeNet-style conv net), keeps to its guards (a new signature gets a
// new function; random uploads, reads and JS branches stay eager), leaks no tensors and frees its functions.
// Needs the native backend with the patched binding (npm run setup:native); skipped with a message without it.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';

const ROOT = path.resolve(__dirname, '../../..');
const PATCHED = spawnSync(process.execPath,
  ['-e', "const tf = require('@tensorflow/tfjs-node'); if (!(tf.backend().binding.d2lPatchVersion >= 1)) process.exit(3)"],
  { cwd: ROOT, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, encoding: 'utf8', timeout: 30_000 }).status === 0;
if (!PATCHED) console.warn('compile.test.ts: skipped — the native backend with graph functions is not built (npm run setup:native)');

// Loaded after the backend is chosen so the lib computes on native TensorFlow.
let lib: typeof import('../../../lib/engine/compile');
let train: typeof import('../../../lib/train');
let classify: typeof import('../../../lib/classify');
let linear: typeof import('../../../lib/linear');

beforeAll(async () => {
  if (!PATCHED) return;
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  process.env.D2L_BACKEND = 'tensorflow';
  const backend = await import('../../../lib/engine/backend');
  await backend.initBackend();
  lib = await import('../../../lib/engine/compile');
  train = await import('../../../lib/train');
  classify = await import('../../../lib/classify');
  linear = await import('../../../lib/linear');
}, 60_000);

const run = PATCHED ? it : it.skip;

/** Runs `f` with XLA left out (one function per signature at once, not two on trial). */
function plainTf<T>(f: () => T): T {
  process.env.D2L_COMPILE_XLA = '0';
  try {
    return f();
  } finally {
    delete process.env.D2L_COMPILE_XLA;
  }
}

/** Deterministic batches: n of [batch, ...xShape] floats and int labels in [0, classes). */
function batches(n: number, batch: number, xShape: number[], classes: number, last?: number): [tf.Tensor, tf.Tensor][] {
  return Array.from({ length: n }, (_, i) => {
    const b = i === n - 1 && last ? last : batch;
    const size = b * xShape.reduce((a, c) => a * c, 1);
    const x = Float32Array.from({ length: size }, (_, k) => Math.sin(k * 0.37 + i) * 0.5 + 0.5);
    const y = Int32Array.from({ length: b }, (_, k) => (k * 7 + i) % classes);
    return [tf.tensor(x, [b, ...xShape]), tf.tensor(y, [b], 'int32')];
  });
}

/** Runs `step` over the batches with the trainers' running sums; returns [lossSum, correct]. */
function epoch(step: (...t: tf.Tensor[]) => tf.Tensor[], data: [tf.Tensor, tf.Tensor][]): number[] {
  let sums = [tf.scalar(0), tf.scalar(0)];
  for (const [X, y] of data) {
    const next = step(X, y, sums[0], sums[1]);
    tf.dispose(sums);
    sums = next;
  }
  const out = sums.map((t) => t.dataSync()[0]);
  tf.dispose(sums);
  return out;
}

function maxDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  let worst = 0;
  a.forEach((t, i) => {
    const x = t.dataSync(), y = b[i].dataSync();
    for (let k = 0; k < x.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]));
  });
  return worst;
}

/** Two copies of a model's weights trained on the same data, eagerly and compiled; the compiled handle. */
function compare(build: () => { net: any; loss: any; updater: any; params: () => tf.Tensor[] }, data: [tf.Tensor, tf.Tensor][]) {
  const eager = build(), compiled = build();
  compiled.params().forEach((p, i) => (p as tf.Variable).assign(eager.params()[i]));
  const e = epoch(train.makeStep('test', eager.net, eager.loss, eager.updater), data);
  const step = lib.compileStep(train.makeStep('test', compiled.net, compiled.loss, compiled.updater), 'test');
  const c = epoch(step, data);
  return { e, c, diff: maxDiff(eager.params(), compiled.params()), step };
}

describe('compileStep', () => {
  run('scratch softmax (lecture 09): same parameters as the eager step, one TF call per step from call 4', () => {
    const data = batches(8, 64, [20], 5);
    const { e, c, diff, step } = compare(() => {
      const W = tf.variable(tf.randomNormal([20, 5], 0, 0.01, 'float32', 1)), b = tf.variable(tf.zeros([5]));
      const net = (X: tf.Tensor) => classify.softmax(tf.add(tf.matMul(tf.reshape(X, [-1, 20]), W), b));
      const updater = Object.assign((n: number, g: tf.NamedTensorMap) => linear.sgd([W, b], g, 0.1, n), { params: [W, b] });
      return { net, loss: classify.crossEntropy, updater, params: () => [W, b] };
    }, data);
    // bound: float32 round-off of a reordered sum over 8 steps
    expect(diff).toBeLessThan(1e-6);
    expect(c[0]).toBeCloseTo(e[0], 3);
    expect(c[1]).toBe(e[1]);
    expect(step.stats).toMatchObject({ compiled: 5, eager: 3 });
    expect(step.stats.functions).toBe(2); // XLA and plain, alternating on trial (both gave these parameters)
    step.dispose();
    expect(step.stats.functions).toBe(0);
  });

  run('an MLP trained with Adam (optimizer slots are variables too): same parameters after 6 steps', () => {
    const data = batches(9, 32, [12], 4);
    const { diff, step } = compare(() => {
      const net = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [12], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
        tf.layers.dropout({ rate: 0 }),
        tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
      ] });
      return { net, loss: classify.softmaxCrossEntropy, updater: tf.train.adam(0.01), params: () => net.getWeights() };
    }, data);
    expect(diff).toBeLessThan(1e-5);
    expect(step.stats.compiled).toBe(6);
    step.dispose();
  });

  run('the concise MLP of lecture 10 (dense 256-style, ReLU, dropout 0) with SGD: same parameters after 5 steps', () => {
    const data = batches(8, 32, [5, 6], 10);
    const { diff, step } = compare(() => {
      const net = tf.sequential({ layers: [
        tf.layers.flatten({ inputShape: [5, 6] }),
        tf.layers.dense({ units: 24, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 8 }) }),
        tf.layers.reLU(),
        tf.layers.dropout({ rate: 0 }),
        tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 9 }) }),
      ] });
      return { net, loss: classify.softmaxCrossEntropy, updater: tf.train.sgd(0.1), params: () => net.getWeights() };
    }, data);
    expect(diff).toBeLessThan(1e-5);
    expect(step.stats.compiled).toBe(5);
    step.dispose();
  });

  run('a LeNet-style conv net (conv, sigmoid, avg pool, dense) with SGD: same parameters', () => {
    const data = batches(6, 8, [12, 12, 1], 3);
    const { diff, step } = compare(() => {
      const net = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 5, padding: 'same', activation: 'sigmoid',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
      ] });
      return { net, loss: classify.softmaxCrossEntropy, updater: tf.train.sgd(0.5), params: () => net.getWeights() };
    }, data);
    expect(diff).toBeLessThan(1e-5);
    expect(step.stats.compiled).toBe(3);
    step.dispose();
  });

  run('a new input signature (the last, smaller batch) gets its own function', () => plainTf(() => {
    const W = tf.variable(tf.zeros([6, 3]));
    const step = lib.compileStep((X: tf.Tensor) => {
      const g = tf.matMul(tf.transpose(X), tf.ones([X.shape[0], 3]));
      W.assign(tf.sub(W, tf.mul(g, 0.01)));
      return [tf.sum(W)];
    });
    for (const n of [5, 5, 5, 5, 5, 2, 2, 2, 2]) tf.dispose(step(tf.ones([n, 6])));
    expect(step.stats).toMatchObject({ compiled: 3, functions: 2 }); // 2 of the 5 full batches, 1 of the 4 small ones
    step.dispose();
    W.dispose();
  }));

  run('falls back to eager, with one line saying why, for random uploads (dropout), reads and JS branches', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const cases: [string, (X: tf.Tensor) => tf.Tensor[], RegExp][] = [
      ['dropout', (X) => [tf.tidy(() => tf.mul(X, tf.randomUniform(X.shape)))], /new 4×3 tensor in JS each call/],
      ['read', (X) => [tf.scalar(tf.sum(X).dataSync()[0])], /reads a value back/],
    ];
    let flip = 0;
    cases.push(['branch', (X) => [(flip++ % 2 ? tf.add(X, 1) : tf.mul(X, 2))], /differs between calls/]);
    for (const [name, fn, why] of cases) {
      log.mockClear();
      const step = lib.compileStep(fn, name);
      for (let i = 0; i < 6; i++) tf.dispose(step(tf.ones([4, 3])));
      expect(step.stats.compiled, name).toBe(0);
      expect(log.mock.calls.length, name).toBe(1);
      expect(String(log.mock.calls[0][0]), name).toMatch(new RegExp(`^d2l: ${name} not compiled: .*${why.source}`));
      step.dispose();
    }
    log.mockRestore();
  });

  run('leaks no tensors over 100 compiled steps, and RSS stays flat over 20 traced-and-removed functions', () => {
    const data = batches(1, 16, [10], 2);
    const W = tf.variable(tf.zeros([10, 2])), b = tf.variable(tf.zeros([2]));
    const make = () => lib.compileStep(train.makeStep('leak', (X: tf.Tensor) => tf.add(tf.matMul(X, W), b),
      classify.softmaxCrossEntropy, Object.assign((n: number, g: tf.NamedTensorMap) => linear.sgd([W, b], g, 0.1, n), { params: [W, b] })));
    const step = make();
    let sums = [tf.scalar(0), tf.scalar(0)];
    const one = () => { const next = step(data[0][0], data[0][1], sums[0], sums[1]); tf.dispose(sums); sums = next; };
    for (let i = 0; i < 5; i++) one();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) one();
    expect(tf.memory().numTensors).toBe(before);
    expect(step.stats.compiled).toBe(102);
    step.dispose();
    const rss: number[] = [];
    for (let k = 0; k < 20; k++) {
      const s = make();
      for (let i = 0; i < 4; i++) tf.dispose(s(data[0][0], data[0][1], sums[0], sums[1]));
      s.dispose();
      rss.push(process.memoryUsage().rss);
    }
    expect(rss[19] - rss[4]).toBeLessThan(20 << 20);
    tf.dispose([...sums, W, b]);
  }, 60_000);

  run('dropout masks (uniform numbers tfjs draws in JS) come from TF\'s stateless generator: new every step, repeated by seed', async () => {
    const { seed } = await import('../../../lib/random');
    const X = tf.ones([64, 32]); // 2048 draws per call: enough to tell U[0, 1) apart from other changing values
    const masks = () => plainTf(() => {
      seed(7);
      const step = lib.compileStep((x: tf.Tensor) => [tf.tidy(() => tf.mul(x, tf.floor(tf.add(tf.randomUniform(x.shape), 0.5))))]);
      const out: Float32Array[] = [];
      for (let i = 0; i < 6; i++) {
        const [m] = step(X);
        out.push(m.dataSync() as Float32Array);
        m.dispose();
      }
      expect(step.stats).toMatchObject({ compiled: 3, functions: 1 });
      step.dispose();
      return out.slice(3); // the compiled calls
    });
    const a = masks(), b = masks();
    for (const m of a) {
      const kept = m.reduce((n, v) => n + v, 0);
      expect(kept).toBeGreaterThan(2048 * 0.4); // about half kept, as p = 0.5
      expect(kept).toBeLessThan(2048 * 0.6);
    }
    expect(a[0]).not.toEqual(a[1]); // a new mask every step
    expect(a[1]).not.toEqual(a[2]);
    expect(b).toEqual(a); // the same masks under the same seed
    X.dispose();
  });

  run('an MLP with dropout 0.5 (lecture 13) compiles and trains', () => {
    const data = batches(8, 64, [40], 4);
    const net = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [40], units: 32, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 4 }),
    ] });
    const step = lib.compileStep(train.makeStep('test', net, classify.softmaxCrossEntropy, tf.train.sgd(0.1)));
    const [loss] = epoch(step, data);
    expect(step.stats.compiled).toBe(5);
    expect(Number.isFinite(loss)).toBe(true);
    step.dispose();
  });

  run('a JS value the step reads (lr edited in a later cell) is never frozen: revalidate() retraces on a change', () => plainTf(() => {
    let lr = 0.1;
    const W = tf.variable(tf.ones([3]));
    const step = lib.compileStep(() => {
      W.assign(tf.sub(W, tf.mul(W, tf.scalar(lr)))); // tf.scalar(lr): an upload, a Const in the function
      return [tf.sum(W)];
    });
    const sum = () => { const [t] = step(); const v = t.dataSync()[0]; t.dispose(); return v; };
    for (let i = 0; i < 5; i++) sum();
    expect(step.stats.compiled).toBe(2);
    const before = W.dataSync()[0];
    lr = 0.5; // "a later cell"; the trainers call revalidate() at the start of every call
    step.revalidate();
    expect(sum()).toBeCloseTo(3 * before * 0.5, 5); // the verifying call runs eagerly with the new lr
    expect(step.stats.functions).toBe(0); // ... saw the change and dropped the stale function
    for (let i = 0; i < 4; i++) sum();
    expect(W.dataSync()[0]).toBeCloseTo(before * 0.5 ** 5, 5);
    expect(step.stats).toMatchObject({ compiled: 4, functions: 1 });
    step.dispose();
    W.dispose();
  }));

  run('XLA on trial: the first compiled calls alternate XLA and plain TF, then the faster one is kept', () => {
    const x = tf.tensor1d([0.5, 1.5, 1.7, 3.2]);
    const expected = tf.sum(tf.exp(tf.mul(x, 2))).dataSync()[0];
    const step = lib.compileStep((v: tf.Tensor) => [tf.tidy(() => tf.sum(tf.exp(tf.mul(v, 2))))]);
    const values: number[] = [];
    for (let i = 0; i < 10; i++) {
      const [y] = step(x);
      values.push(y.dataSync()[0]);
      y.dispose();
      if (i === 4) expect(step.stats.functions).toBe(2); // 2 compiled calls: on trial
    }
    for (const v of values) expect(v).toBeCloseTo(expected, 3);
    expect(step.stats.compiled).toBe(7);
    expect(step.stats.functions).toBe(1); // settled after 3 calls each
    expect([0, 1]).toContain(step.stats.xla);
    step.dispose();
    const plain = plainTf(() => {
      const p = lib.compileStep((v: tf.Tensor) => [tf.tidy(() => tf.sum(tf.exp(tf.mul(v, 2))))]);
      for (let i = 0; i < 5; i++) tf.dispose(p(x));
      return p;
    });
    expect(plain.stats).toMatchObject({ compiled: 2, functions: 1, xla: 0 });
    plain.dispose();
    x.dispose();
  });

  run('bad input: a clear ArgumentError, nothing left registered, no tensors leaked', () => {
    expect(() => lib.compileStep(42 as any)).toThrow(/^compileStep: expected fn to be a function .*, got number 42$/);
    const before = tf.memory().numTensors;
    const step = lib.compileStep((x: tf.Tensor) => tf.add(x, 1) as any, 'bad');
    const x = tf.ones([2]);
    expect(() => step(x)).toThrow(/^compileStep \(bad\): expected the step to return an array of tensors, got a float32 tensor/);
    expect(() => step([1, 2] as any)).toThrow(/^compileStep \(bad\): expected input 0 to be a live tensor, got an array of length 2$/);
    expect(step.stats.functions).toBe(0);
    step.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(before); // the rejected result was freed
  });

  run('D2L_COMPILE=0 turns it off', () => {
    process.env.D2L_COMPILE = '0';
    try {
      expect(lib.compileUnavailable()).toBe('D2L_COMPILE=0');
    } finally {
      delete process.env.D2L_COMPILE;
    }
    expect(lib.compileUnavailable()).toBeNull();
  });
});
