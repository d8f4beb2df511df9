// lib/engine/backend.ts: backend selection (D2L_BACKEND, fallbacks, errors), the info it reports, and —
// when the native binding is built — every op the lectures use on 'tensorflow' vs 'cpu'.
//
// Selection is process-wide state (one tfjs engine, a native library that cannot be unloaded), so
// each selection scenario runs in a fresh `node` child. The child loads lib/engine/backend.ts from source
// through tsx's CommonJS hook (`node --require tsx/cjs -e …`, see TSX_CHILD): no build step, and the code runs
// under Node's CommonJS loader as the compiled library does in tslab.
import { execFile, spawnSync } from 'child_process';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_CHOICES, describeBackend, type BackendInfo } from '../../../lib/engine/backend';
import { cpuLimit } from '../../../lib/engine/cpu-quota';
import { createRng } from '../../../lib/random';

const ROOT = path.resolve(__dirname, '../../..');
/** Node arguments for a child that runs `script` with lib/'s TypeScript loadable by `require` (tsx's CommonJS hook). */
const TSX_CHILD = (script: string): string[] => ['--require', 'tsx/cjs', '-e', script];
const BACKEND_TS = JSON.stringify(path.join(ROOT, 'lib/engine/backend.ts'));
const DEVICES_TS = JSON.stringify(path.join(ROOT, 'lib/devices.ts'));

interface ChildResult {
  info?: BackendInfo;
  error?: string;
  /** `require('@tensorflow/tfjs').getBackend()` in the child after initBackend. */
  tfjsBackend?: string;
  summary?: string;
  beforeInit?: string;
  sameObjectTwice?: boolean;
  kernels?: string[];
  devices?: { tryGpu: string; numGpus: number; tryAllGpus: string[] };
}

/** Runs initBackend() in a fresh Node process with D2L_BACKEND=`backend` (unset when undefined). */
function initInChild(backend: string | undefined, extraEnv: Record<string, string> = {}): Promise<ChildResult> {
  const script = `
const b = require(${BACKEND_TS});
const out = {};
try { b.backendInfo(); } catch (e) { out.beforeInit = e.message; }
const p1 = b.initBackend();
p1.then(async (info) => {
  out.info = info;
  out.sameObjectTwice = (await b.initBackend()) === info && b.backendInfo() === info;
  out.tfjsBackend = require('@tensorflow/tfjs').getBackend();
  out.summary = b.describeBackend(info);
  const d = require(${DEVICES_TS});   // the learner-facing device helpers read what initBackend chose
  out.devices = { tryGpu: d.tryGpu(), numGpus: d.numGpus(), tryAllGpus: d.tryAllGpus() };
  const tf = require('@tensorflow/tfjs');
  out.kernels = ['Conv2DBackpropFilter', 'UnsortedSegmentSum'].filter((k) => tf.getKernel(k, 'wasm'));
}, (e) => { out.error = e.message; }).then(() => console.log('RESULT ' + JSON.stringify(out)));
`;
  const env: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...extraEnv };
  delete env.D2L_BACKEND;
  if (backend !== undefined) env.D2L_BACKEND = backend;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, TSX_CHILD(script), { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`child failed: ${err?.message}\n${stdout}\n${stderr}`));
      resolve(JSON.parse(line.slice('RESULT '.length)) as ChildResult);
    });
  });
}

/** Whether the native binding loads — checked in a child so a broken one cannot crash this worker. */
const nativeCheck = spawnSync(process.execPath,
  ['-e', "const tf = require('@tensorflow/tfjs-node'); if (tf.getBackend() !== 'tensorflow') process.exit(3)"],
  { cwd: ROOT, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, encoding: 'utf8', timeout: 30_000 });
const NATIVE = nativeCheck.status === 0;
const NATIVE_WHY = NATIVE ? '' : (nativeCheck.stderr.split('\n').find((l) => /^\w*Error: /.test(l)) ?? `exit ${nativeCheck.status}`).trim();
if (!NATIVE) console.log(`[backend.test] native binding not loadable (${NATIVE_WHY.slice(0, 160)}); tensorflow tests skipped — run npm run setup:native`);

// Each test starts a Node process (~0.5 s idle, several seconds on a loaded 2-core machine).
describe('initBackend in a fresh process', { timeout: 60_000 }, () => {
  it('D2L_BACKEND=cpu forces the cpu backend', async () => {
    const r = await initInChild('cpu');
    expect(r.error).toBeUndefined();
    expect(r.info).toMatchObject({ name: 'cpu', threads: 1, skipped: [] });
    expect(r.info!.device).toMatch(/^CPU \(1 thread/);
    expect(r.tfjsBackend).toBe('cpu');
    expect(r.summary).toMatch(/^d2l-ts: backend cpu \(CPU, 1 thread\)$/);
    expect(r.devices).toEqual({ tryGpu: '/CPU:0', numGpus: 0, tryAllGpus: ['/CPU:0'] });
  });

  it('D2L_BACKEND=wasm forces wasm, threaded on every core (lib/engine/wasm-threads.ts), with d2l-ts kernels registered', async () => {
    const r = await initInChild('wasm');
    expect(r.error).toBeUndefined();
    const cores = cpuLimit().cores; // the affinity capped by a container's CPU quota (lib/engine/cpu-quota.ts)
    expect(r.info).toMatchObject({ name: 'wasm', threads: Math.min(8, cores), skipped: [] });
    expect(r.tfjsBackend).toBe('wasm');
    expect(r.kernels).toEqual(['Conv2DBackpropFilter', 'UnsortedSegmentSum']);
  });

  it('an unknown D2L_BACKEND is an error that lists the valid choices', async () => {
    const r = await initInChild('cuda');
    expect(r.info).toBeUndefined();
    expect(r.error).toMatch(/D2L_BACKEND='cuda'/);
    for (const c of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']) expect(r.error).toContain(c);
  });

  it('backendInfo() before initialisation throws; initBackend() is memoised', async () => {
    const r = await initInChild('cpu');
    expect(r.beforeInit).toMatch(/not initialised.*initBackend/);
    expect(r.sameObjectTwice).toBe(true);
  });

  it(`auto: picks ${NATIVE ? 'tensorflow' : 'wasm'} and records why faster backends were skipped`, async () => {
    const r = await initInChild(undefined);
    expect(r.error).toBeUndefined();
    const info = r.info!;
    expect(info.skipped.map((s) => s.backend)).toContain('tensorflow-gpu');   // not installed here
    for (const s of info.skipped) expect(s.reason.length).toBeGreaterThan(0);
    if (NATIVE) {
      expect(info.name).toBe('tensorflow');
      expect(r.tfjsBackend).toBe('tensorflow');   // the shared @tensorflow/tfjs runs on native TF
      expect(info.threads).toBeGreaterThanOrEqual(1);
      expect(info.device).toMatch(/^CPU \(/);
    } else {
      expect(info.name).toBe('wasm');
      expect(info.skipped.find((s) => s.backend === 'tensorflow')?.reason).toMatch(/setup:native/);
      expect(r.summary).toMatch(/skipped tensorflow: .*setup:native/);
    }
  });

  it(`D2L_BACKEND=tensorflow ${NATIVE ? 'loads native TensorFlow' : 'fails with the reason and the fix'}`, async () => {
    const r = await initInChild('tensorflow');
    if (NATIVE) {
      expect(r.error).toBeUndefined();
      expect(r.info?.name).toBe('tensorflow');
      expect(r.tfjsBackend).toBe('tensorflow');
    } else {
      expect(r.error).toMatch(/D2L_BACKEND=tensorflow: cannot use backend tensorflow: .*setup:native/);
    }
  });

  it('D2L_BACKEND=gpu without a GPU says why each GPU backend cannot be used, and never falls back to a CPU', async () => {
    const r = await initInChild('gpu');
    expect(r.error).toMatch(/^D2L_BACKEND=gpu: cannot use backend webgpu or tensorflow-gpu: webgpu: .+; tensorflow-gpu: not installed/);
  });
  it('D2L_BACKEND=webgpu without any Vulkan driver is a clear error', async () => {
    const r = await initInChild('webgpu', { VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    expect(r.error).toMatch(/^D2L_BACKEND=webgpu: cannot use backend webgpu: (no WebGPU adapter|not installed|Dawn failed to load)/);
  });
});

describe('describeBackend', () => {
  it('is one line: backend, device kind, threads, skipped backends (not the absent GPU package)', () => {
    expect(BACKEND_CHOICES).toEqual(['webgpu', 'gpu', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    const info: BackendInfo = {
      name: 'wasm', device: 'CPU (1 thread, Some CPU)', threads: 1,
      skipped: [
        { backend: 'tensorflow-gpu', reason: 'not installed' },
        { backend: 'tensorflow', reason: 'native binding not built — run npm run setup:native' },
      ],
    };
    expect(describeBackend(info)).toBe(
      'd2l-ts: backend wasm (CPU, 1 thread; skipped tensorflow: native binding not built — run npm run setup:native)');
    expect(describeBackend({ name: 'tensorflow', device: 'CPU (2 threads, X)', threads: 2, skipped: [] }))
      .toBe('d2l-ts: backend tensorflow (CPU, 2 threads)');
    expect(describeBackend({ name: 'tensorflow', device: 'CPU (1 thread, X)', threads: 1, quota: 'quota 1.5 CPUs of 64 cores', skipped: [] }))
      .toBe('d2l-ts: backend tensorflow (CPU, 1 thread, quota 1.5 CPUs of 64 cores)');
  });
  it('names the WebGPU adapter and its API, and says when it is a software one', () => {
    const adapter = { name: 'NVIDIA H200', api: 'Vulkan', software: false, vendor: 'nvidia', architecture: 'hopper', device: '', description: '' };
    expect(describeBackend({ name: 'webgpu', device: 'NVIDIA H200 (Vulkan)', threads: 1, skipped: [], adapter }))
      .toBe('d2l-ts: backend webgpu (NVIDIA H200, Vulkan)');
    expect(describeBackend({ name: 'webgpu', device: 'x', threads: 1, skipped: [], adapter: { ...adapter, name: 'SwiftShader driver 5.0.0', software: true } }))
      .toBe('d2l-ts: backend webgpu (SwiftShader driver 5.0.0, Vulkan, software adapter)');
  });
});

// ---------------------------------------------------------------------------------------------------
// Every op the lectures train with, forward and gradient, native TensorFlow vs the cpu backend.

const rng = createRng;
function rand(shape: number[], seed: number, lo = -1, hi = 1): () => tf.Tensor {
  const r = rng(seed);
  const v = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * r());
  return () => tf.tensor(v, shape);
}

async function outputs(backend: string, f: () => tf.Tensor[]): Promise<{ shape: number[]; v: Float32Array }[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => f().map((t) => ({ shape: t.shape, v: Float32Array.from(t.dataSync()) })));
}

/** f's value and its gradient w.r.t. each input, of sum(f(xs)·w) for a fixed random w. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: (() => tf.Tensor)[]): () => tf.Tensor[] {
  return () => {
    const xs = inputs.map((mk) => mk());
    const y = f(...xs);
    const w = rand(y.shape, 7)();
    return [y, ...tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w)))(xs)];
  };
}

const OPS: [string, (...xs: tf.Tensor[]) => tf.Tensor, (() => tf.Tensor)[]][] = [
  ['matMul', (a, b) => tf.matMul(a, b), [rand([6, 5], 1), rand([5, 4], 2)]],
  ['matMul transposed', (a, b) => tf.matMul(a, b, true, true), [rand([5, 6], 3), rand([4, 5], 4)]],
  ['conv2d same s1', (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), [rand([2, 8, 8, 1], 5), rand([5, 5, 1, 3], 6)]],
  ['conv2d valid s1', (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid'), [rand([2, 8, 8, 3], 8), rand([3, 3, 3, 4], 9)]],
  ['conv2d same s2', (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'), [rand([2, 9, 9, 2], 10), rand([3, 3, 2, 2], 11)]],
  // 'valid' only: tfjs's cpu AvgPoolGrad ignores that 'same' windows at the border average fewer
  // elements, native TF does not, so they legitimately differ there.
  ['avgPool 2x2 s2 valid', (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'), [rand([2, 8, 8, 3], 12)]],
  ['maxPool 2x2 s2 valid', (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), [rand([2, 8, 8, 3], 13)]],
  ['maxPool 3x3 s2 same', (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'), [rand([2, 9, 9, 2], 14)]],
  ['relu', (x) => tf.relu(x), [rand([4, 6], 15)]],
  ['sigmoid', (x) => tf.sigmoid(x), [rand([4, 6], 16)]],
  ['tanh', (x) => tf.tanh(x), [rand([4, 6], 17)]],
  ['softmax', (x) => tf.softmax(x), [rand([4, 6], 18)]],
  ['logSoftmax', (x) => tf.logSoftmax(x), [rand([4, 6], 19)]],
  ['softmaxCrossEntropy', (x) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 3, 5, 1], 'int32'), 6), x), [rand([4, 6], 20)]],
  ['gather', (x) => tf.gather(x, tf.tensor1d([2, 0, 2, 3], 'int32')), [rand([4, 6], 21)]],
  ['oneHot · x', (x) => tf.mul(tf.oneHot(tf.tensor1d([1, 0, 5, 2], 'int32'), 6), x), [rand([4, 6], 22)]],
  ['sum / mean', (x) => tf.stack([tf.sum(x), tf.mean(x), tf.sum(tf.mean(x, 0))]), [rand([4, 6], 23)]],
  ['exp / log', (x) => tf.add(tf.exp(x), tf.log(tf.add(tf.square(x), 1))), [rand([4, 6], 24)]],
  ['max / sub / div / pow', (x) => tf.div(tf.pow(tf.sub(x, tf.max(x, 1, true)), 2), 3), [rand([4, 6], 25)]],
  ['add / mul broadcast', (x, b) => tf.mul(tf.add(x, b), b), [rand([4, 6], 26), rand([6], 27)]],
  ['reshape / transpose', (x) => tf.transpose(tf.reshape(x, [3, 8])), [rand([4, 6], 28)]],
  ['where (dropout mask)', (x) => tf.where(tf.greater(rand([4, 6], 29, 0, 1)(), 0.5), tf.div(x, 0.5), tf.zerosLike(x)), [rand([4, 6], 30)]],
];

describe.skipIf(!NATIVE)(`tensorflow (native) vs cpu: forward and gradient${NATIVE ? '' : ` — skipped: ${NATIVE_WHY.slice(0, 80)}`}`, { timeout: 30_000 }, () => {
  it('loads the native backend into the shared @tensorflow/tfjs', async () => {
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('@tensorflow/tfjs-node') as typeof tf;
    expect(native.engine()).toBe(tf.engine());
    await tf.setBackend('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
  });
  for (const [name, f, inputs] of OPS) {
    it(name, async () => {
      const ref = await outputs('cpu', valueAndGrads(f, inputs));
      const got = await outputs('tensorflow', valueAndGrads(f, inputs));
      expect(got.length).toBe(ref.length);
      got.forEach((g, i) => {
        expect(g.shape).toEqual(ref[i].shape);
        let worst = 0;
        for (let j = 0; j < g.v.length; j++) worst = Math.max(worst, Math.abs(g.v[j] - ref[i].v[j]));
        expect(worst, `output ${i}`).toBeLessThanOrEqual(1e-4);
      });
    });
  }
});
