// lib/engine/webgpu.ts on Chromium's SwiftShader (a CPU implementation of Vulkan), the only WebGPU adapter a machine
// without a GPU has: backend selection (a software adapter only when forced), synchronous reads (dataSync, arraySync,
// printing), memory, every kernel the lectures run compared with the cpu backend op by op (lib/engine/op-cases.ts,
// tolerances stated there: 0 for exact results up to 1e-4 for long float32 sums), and short training runs of the
// course's models compared with the cpu backend.
//
// Needs Debian's `chromium` (SwiftShader) and `libvulkan1`. Without them the file skips with a message, except when
// D2L_REQUIRE_WEBGPU=1 (set by .ci/run, which installs both): then it fails. SwiftShader is slow; this file takes
// ~50 s here (2 cores; most of it the cpu backend's reference LeNet).
import { execFile } from 'child_process';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../../../lib/engine/backend';
import { describeAdapter, findSwiftShader, useSwiftShader } from '../../../lib/engine/webgpu';
import { compareWithCpu, LECTURE_OP_CASES } from '../../../lib/engine/op-cases';
import * as d2l from '../../../lib';
import { formatTensor } from '../../../common/tensor-format';
import { createRng } from '../../../lib/random';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildModel, tinyData } = require('../../../bench/models.js') as {
  tinyData(d2lLib: unknown, tfLib: unknown, rng: typeof createRng, seed: number, batch: number): d2l.DataIter;
  buildModel(name: string, d2lLib: unknown, tfLib: unknown): { epoch(train: d2l.DataIter, test?: d2l.DataIter): Promise<{ trainLoss: number; trainAcc: number; testAcc?: number }> };
};

const ROOT = path.resolve(__dirname, '../../..');
const swiftShader = findSwiftShader();
const available = 'icd' in swiftShader;
const required = process.env.D2L_REQUIRE_WEBGPU === '1';

if (!available) {
  const why = (swiftShader as { missing: string }).missing;
  if (required) {
    it('webgpu tests can run (D2L_REQUIRE_WEBGPU=1)', () => {
      throw new Error(`webgpu tests cannot run: ${why}`);
    });
  } else {
    console.warn(`webgpu tests skipped: ${why}`);
  }
}

/** Runs `script` (CommonJS, lib/ loadable from source) in a fresh Node with `env` added; resolves its RESULT line. */
function child(script: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) return reject(new Error(`child failed: ${err?.message}\n${stdout}\n${stderr}`));
        resolve(JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>);
      });
  });
}

describe('adapter description (no GPU needed)', () => {
  const adapter = (info: Record<string, unknown>, extra: object = {}) =>
    describeAdapter({ info, features: new Set(), limits: {}, requestDevice: async () => ({}), ...extra });
  it('SwiftShader and llvmpipe are software adapters; a hardware adapter is named from its device', () => {
    const ss = adapter({ vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true });
    expect(ss).toMatchObject({ software: true, name: 'SwiftShader driver 5.0.0' });
    expect(adapter({ vendor: 'mesa', architecture: '', device: 'llvmpipe-lLVM-15-0-6-256-bits-', description: 'llvmpipe' }).software).toBe(true);
    const amd = adapter({ vendor: 'amd', architecture: 'rdna-3', device: 'amd-radeon-rx-7900-xtx', description: 'AMD proprietary driver' });
    expect(amd).toMatchObject({ software: false, name: 'AMD radeon rx 7900 xtx' });
    expect(amd.api).toBe(process.platform === 'darwin' ? 'Metal' : process.platform === 'win32' ? 'D3D12' : 'Vulkan');
  });
});

describe.runIf(available)('webgpu on SwiftShader', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    useSwiftShader((swiftShader as { icd: string }).icd);
    process.env.D2L_BACKEND = 'webgpu'; // this file's worker process only
    const info = await initBackend();
    expect(info.name).toBe('webgpu');
  }, 60_000);

  describe('selection', () => {
    it('forced: the software adapter is used, named on the backend line, and counts as no GPU', () => {
      const line = describeBackend();
      expect(line).toMatch(/^d2l-ts: backend webgpu \(SwiftShader driver [\d.]+, Vulkan, software adapter\)/);
      expect(d2l.numGpus()).toBe(0);
      expect(d2l.tryGpu()).toBe('/CPU:0');
      expect(d2l.tryAllGpus()).toEqual(['/CPU:0']);
    });
    it('not forced: D2L_BACKEND=gpu refuses a software adapter with the reason; auto never picks webgpu', async () => {
      const lib = JSON.stringify(path.join(ROOT, 'lib/engine/backend.ts'));
      const script = `require(${lib}).initBackend().then((i) => console.log('RESULT ' + JSON.stringify({ name: i.name })),
        (e) => console.log('RESULT ' + JSON.stringify({ error: e.message })))`;
      const env = { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES!, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR! };
      const [gpu, auto] = await Promise.all([child(script, { ...env, D2L_BACKEND: 'gpu' }), child(script, { ...env, D2L_BACKEND: 'auto' })]);
      expect(gpu.error).toMatch(/D2L_BACKEND=gpu: cannot use backend webgpu or tensorflow-gpu: webgpu: only a software adapter \(SwiftShader/);
      expect(auto.name).not.toBe('webgpu');
    });
  });

  describe('synchronous reads (dataSync, arraySync, printing)', () => {
    it('float32, int32 and bool results of GPU kernels, read with no await', () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.tensor2d([[1, 2], [3, 4]]);
        const y = tf.matMul(x, tf.randomNormal([2, 300], 0, 1, 'float32', 1)).matMul(tf.ones([300, 2])); // on the GPU
        expect(y.arraySync()).toEqual(tf.tidy(() => y.arraySync())); // cached after the first read
        const ref = tf.matMul(x, x);
        expect(Array.from(ref.dataSync())).toEqual([7, 10, 15, 22]);
        expect(Array.from(tf.argMax(ref, 1).dataSync())).toEqual([1, 1]);
        expect(tf.argMax(ref, 1).dtype).toBe('int32');
        expect(Array.from(tf.greater(ref, 12).dataSync())).toEqual([0, 0, 1, 1]);
        expect(formatTensor(ref)).toMatch(/tensor\(\[\[ *7\., *10\.\],\s+\[15\., 22\.\]\]\)/);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
    it('a large result read synchronously matches the asynchronous read', async () => {
      const a = tf.randomUniform([256, 256], -1, 1, 'float32', 3);
      const p = tf.matMul(a, a);
      const q = tf.matMul(a, a);
      const viaSync = Float32Array.from(p.dataSync());
      const viaAsync = await q.data();
      expect(viaSync).toEqual(viaAsync);
      tf.dispose([a, p, q]);
    });
    it('keeps the event loop working: timers still fire after many reads', async () => {
      for (let i = 0; i < 20; i++) tf.tidy(() => tf.add(tf.scalar(i), tf.randomNormal([64])).sum().dataSync());
      await new Promise((r) => setTimeout(r, 5));
      expect(await new Promise((r) => setImmediate(() => r('ran')))).toBe('ran');
    });
  });

  it('every kernel the lectures run, forward and backward, matches the cpu backend (GPU programs, not the cpu fallback)', async () => {
    const before = tf.memory().numTensors;
    const results = await compareWithCpu('webgpu');
    expect(results.length).toBe(LECTURE_OP_CASES.length);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error ?? r.maxErr}`)).toEqual([]);
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(true); // restored
    expect(tf.memory().numTensors).toBe(before);
  });

  describe('training the course models: webgpu vs cpu', () => {
    /** 3 batches of Fashion-MNIST-shaped images from a seeded generator, labels 0-9 (the cpu backend's LeNet is slow). */
    async function trainOn(backend: string, model: string): Promise<{ trainLoss: number; trainAcc: number; testAcc?: number }> {
      await tf.setBackend(backend);
      d2l.seed(7);
      const data = tinyData(d2l, tf, createRng, 11, model === 'lenet' ? 16 : 128);
      const m = buildModel(model, d2l, tf);
      await m.epoch(data, data);                // two epochs: the second starts from trained weights
      return m.epoch(data, data);
    }
    for (const model of ['softmax', 'mlp', 'lenet']) {
      it(`${model}: two epochs of three steps give the cpu backend's loss and accuracy`, async () => {
        const before = tf.memory().numTensors;
        const ref = await trainOn('cpu', model);
        const got = await trainOn('webgpu', model);
        await tf.setBackend('webgpu');
        expect(got.trainLoss).toBeCloseTo(ref.trainLoss, 4);
        expect(got.trainAcc).toBe(ref.trainAcc);
        if (ref.testAcc !== undefined) expect(got.testAcc).toBe(ref.testAcc);
        // the models' weights stay alive with the models; nothing per step does
        expect(tf.memory().numTensors - before).toBeLessThan(40);
      });
    }
  });

  afterAll(async () => {
    await tf.setBackend('webgpu');
  });
});
