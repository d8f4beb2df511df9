// lib/devices.ts, lecture 17: onBackend runs a computation on another backend and comes back (the same product as
// the chosen backend, every tensor freed, the previous backend active again, clear errors), backendOf follows
// tfjs' implicit data moves, and the lectures' training helper (trainCh6, compiled steps on native TensorFlow)
// gives the same result after switching as before.
//
// Switching backends is process-wide state, so each scenario runs in a fresh `node` child that loads lib/ from
// source through tsx's CommonJS hook, as tests/lib/engine/backend.test.ts does.
import { execFile } from 'child_process';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const INDEX_TS = JSON.stringify(path.join(ROOT, 'lib/index.ts'));
const COMPILE_TS = JSON.stringify(path.join(ROOT, 'lib/engine/compile.ts'));

/** Runs `body` (async, may use `d2l`, `tf`, `out`) in a fresh Node process; resolves with what it put in `out`. */
function inChild(body: string, env: Record<string, string> = {}): Promise<Record<string, any>> {
  const script = `
const d2l = require(${INDEX_TS});
const tf = require('@tensorflow/tfjs');
const out = {};
console.log = () => {};  // the backend line and trainCh6's lines
(async () => { ${body} })().catch((e) => { out.fatal = e.stack; })
  .then(() => process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n'));
`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...env };
  if (!('D2L_BACKEND' in env)) delete childEnv.D2L_BACKEND;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, env: childEnv, timeout: 90_000 },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) return reject(new Error(`child failed: ${err?.message}\n${stdout}\n${stderr}`));
        const r = JSON.parse(line.slice('RESULT '.length));
        if (r.fatal) return reject(new Error(`child threw: ${r.fatal}`));
        resolve(r);
      });
  });
}

describe('onBackend and backendOf', { timeout: 120_000 }, () => {
  it('computes the same product on wasm and cpu, moves inputs there and back, frees everything, restores the backend', async () => {
    const r = await inChild(`
const info = await d2l.initBackend();
out.chosen = info.name;
const A = tf.randomNormal([96, 80], 0, 1, 'float32', 1), B = tf.randomNormal([80, 64], 0, 1, 'float32', 2);
const ref = A.matMul(B);
const start = tf.memory().numTensors;
out.runs = {};
for (const name of ['wasm', 'cpu', info.name]) {
  const got = await d2l.onBackend(name, () => ({ C: A.matMul(B).add(1).sub(1), where: tf.getBackend(), gpus: d2l.numGpus() }));
  const diff = tf.tidy(() => tf.tensor(got.C.values, got.C.shape).sub(ref).abs().max().dataSync()[0]);
  out.runs[name] = { where: got.where, gpus: got.gpus, shape: got.C.shape, dtype: got.C.dtype, diff,
    aLives: d2l.backendOf(A), active: tf.getBackend(), leaked: tf.memory().numTensors - start };
}
await d2l.onBackend('cpu', () => A.sum());
out.aOnCpu = d2l.backendOf(A);
tf.tidy(() => { A.mul(2); });                    // used on the chosen backend again: moved back
out.aBack = d2l.backendOf(A);
out.single = await d2l.onBackend('cpu', () => tf.tensor1d([1, 2, 3], 'int32'));
out.single.values = Array.from(out.single.values);
tf.dispose([A, B, ref]);
out.leaked = tf.memory().numTensors - start + 3;
`);
    expect(r.runs[r.chosen].where).toBe(r.chosen);
    for (const name of ['wasm', 'cpu']) {
      const run = r.runs[name];
      expect(run).toMatchObject({ where: name, gpus: 0, shape: [96, 64], dtype: 'float32', aLives: name, active: r.chosen, leaked: 0 });
      expect(run.diff).toBeLessThan(1e-4);            // entries ~ N(0, 80): float32 sums in another order
    }
    expect(r.aOnCpu).toBe('cpu');
    expect(r.aBack).toBe(r.chosen);
    expect(r.single).toEqual({ shape: [3], dtype: 'int32', values: [1, 2, 3] });
    expect(r.leaked).toBe(0);
  });

  it('rejects unknown names, unusable backends and bad arguments clearly; a throwing fn still frees and restores', async () => {
    const r = await inChild(`
const info = await d2l.initBackend();
out.chosen = info.name;
const start = tf.memory().numTensors;
const msg = async (p) => { try { await p; return 'no error'; } catch (e) { return e.message; } };
out.unknown = await msg(d2l.onBackend('cuda', () => tf.scalar(1)));
out.webgpu = await msg(d2l.onBackend('webgpu', () => tf.scalar(1)));
out.noFn = await msg(d2l.onBackend('cpu', 42));
out.badResult = await msg(d2l.onBackend('cpu', () => 42));
out.throws = await msg(d2l.onBackend('cpu', () => { tf.ones([100]); throw new Error('boom'); }));
out.active = tf.getBackend();
out.leaked = tf.memory().numTensors - start;
out.notTensor = await msg(Promise.resolve().then(() => d2l.backendOf([1, 2])));
const t = tf.scalar(1); t.dispose();
out.disposed = await msg(Promise.resolve().then(() => d2l.backendOf(t)));
`, { VK_ICD_FILENAMES: '/nonexistent/icd.json' });   // no Vulkan driver: webgpu cannot start
    expect(r.unknown).toBe(`onBackend: expected a backend name ('webgpu', 'tensorflow', 'wasm', 'cpu'), got "cuda"`);
    expect(r.webgpu).toMatch(/^onBackend: webgpu: \S.+/);
    expect(r.noFn).toBe('onBackend: expected a function to run, got number 42');
    expect(r.badResult).toBe('onBackend: expected fn to return a tensor or an object of tensors and values, got number 42');
    expect(r.throws).toBe('boom');
    expect(r.active).toBe(r.chosen);
    expect(r.leaked).toBe(0);
    expect(r.notTensor).toMatch(/^backendOf: expected a tf\.Tensor, got /);
    expect(r.disposed).toMatch(/^backendOf: expected a live tensor/);
  });

  it('trainCh6 (compiled steps on native TensorFlow) trains the same after switching to wasm and cpu and back', async () => {
    const r = await inChild(`
const { createRng } = require(${JSON.stringify(path.join(ROOT, 'lib/random.ts'))});
const compile = require(${COMPILE_TS});
await d2l.initBackend();
function halves(n, s) {   // 8x8 images: a bright left half (class 0) or right half (class 1), plus noise
  const rng = createRng(s), x = new Float32Array(n * 64), y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    y[k] = k % 2;
    for (let i = 0; i < 64; i++) x[k * 64 + i] = ((i % 8 < 4) === (y[k] === 0) ? 0.8 : 0.1) + 0.1 * rng();
  }
  return [tf.tensor4d(x, [n, 8, 8, 1]), tf.tensor1d(y, 'int32')];
}
const [Xtr, ytr] = halves(64, 2), [Xte, yte] = halves(16, 3);
const net = () => tf.sequential({ layers: [
  tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid', inputShape: [8, 8, 1] }),
  tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), tf.layers.flatten(),
  tf.layers.dense({ units: 4, activation: 'sigmoid' }), tf.layers.dense({ units: 2 })] });
async function train(model) {
  d2l.seed(0);
  return d2l.trainCh6(model, d2l.loadArray([Xtr, ytr], 16, false), d2l.loadArray([Xte, yte], 16, false), 3, 0.9,
    undefined, { animator: false });
}
out.compileBefore = compile.compileUnavailable();
const m1 = net();
out.before = await train(m1);
for (const name of ['wasm', 'cpu']) await d2l.onBackend(name, () => m1.predict(Xte));   // the weights move there
out.weightsOn = d2l.backendOf(m1.layers[0].getWeights()[0]);
m1.dispose();
const m2 = net();
out.after = await train(m2);
m2.dispose();
out.compileAfter = compile.compileUnavailable();
`);
    expect(r.weightsOn).toBe('cpu');
    expect(r.compileAfter).toBe(r.compileBefore);
    for (const k of ['trainLoss', 'trainAcc', 'testAcc']) expect(r.after[k]).toBeCloseTo(r.before[k], 6);
    expect(r.before.trainAcc).toBeGreaterThan(0.5);
  });
});
