// lib/engine/fast-ops.ts and lib/engine/upload.ts: the speed fixes give the same numbers as stock tfjs, on every backend
// available here, and do less work (fewer kernels) where they claim to.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { wasmBinaryDir } from '../../../lib/engine/backend';
import { installFastOps } from '../../../lib/engine/fast-ops';
import { softmaxCrossEntropy } from '../../../lib/classify';
import { createRng } from '../../../lib/random';
import { scaledImageBatch } from '../../../lib/engine/upload';
import { registerWasmKernels } from '../../../lib/engine/wasm-kernels';

const ROOT = path.resolve(__dirname, '../../..');
const NATIVE = spawnSync(process.execPath,
  ['-e', "const tf = require('@tensorflow/tfjs-node'); if (tf.getBackend() !== 'tensorflow') process.exit(3)"],
  { cwd: ROOT, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, encoding: 'utf8', timeout: 30_000 }).status === 0;
const BACKENDS = NATIVE ? ['cpu', 'wasm', 'tensorflow'] : ['cpu', 'wasm'];

type FusedArgs = Parameters<typeof tf.fused.matMul>[0];
/** tfjs' own fused matMul, captured before installFastOps replaces it. */
const stockFused = tf.fused.matMul;
const stockFusedConv = tf.fused.conv2d;

beforeAll(async () => {
  if (NATIVE) {
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    require('@tensorflow/tfjs-node'); // eslint-disable-line @typescript-eslint/no-require-imports
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  registerWasmKernels();
  wasm.setWasmPaths(wasmBinaryDir() + path.sep);
  installFastOps();
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false; // no "install tfjs-node" banner
  expect(tf.fused.matMul).not.toBe(stockFused);
}, 60_000);

function rand(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const r = createRng(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * r()), shape);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync(), y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

/** Value and gradients (w.r.t. b and bias only, as when `a` is a data batch) of sum(fused(a, b, bias) · w). */
function fusedValueAndGrads(fused: (args: FusedArgs) => tf.Tensor, args: Omit<FusedArgs, 'b' | 'bias'>,
  b: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor[] {
  const f = (bb: tf.Tensor, bi?: tf.Tensor) => fused({ ...args, b: bb, bias: bi } as FusedArgs);
  const y = f(b, bias);
  const w = rand(y.shape, 99);
  const xs = bias ? [b, bias] : [b];
  return [y, ...tf.grads((...v: tf.Tensor[]) => tf.sum(tf.mul(f(v[0], v[1]), w)))(xs)];
}

describe('fused matMul while recording gradients (tf.layers.dense)', () => {
  const cases: [string, boolean, boolean, boolean, FusedArgs['activation']][] = [
    ['bias + linear', false, false, true, 'linear'],
    ['bias + relu', false, false, true, 'relu'],
    ['no bias + sigmoid', false, false, false, 'sigmoid'],
    ['transposeA + transposeB + bias + relu', true, true, true, 'relu'],
    ['transposeB, no bias, linear', false, true, false, 'linear'],
  ];
  for (const backend of BACKENDS) {
    for (const [name, tA, tB, withBias, activation] of cases) {
      it(`${backend}: ${name} — same value and gradients as tfjs' fused op`, async () => {
        await tf.setBackend(backend);
        tf.tidy(() => {
          const a = rand(tA ? [7, 5] : [5, 7], 1), b = rand(tB ? [4, 7] : [7, 4], 2), bias = withBias ? rand([4], 3) : undefined;
          const args = { a, transposeA: tA, transposeB: tB, activation };
          const ref = fusedValueAndGrads(stockFused, args, b, bias);
          const got = fusedValueAndGrads(tf.fused.matMul, args, b, bias);
          expect(got.length).toBe(ref.length);
          got.forEach((g, i) => expect(maxDiff(g, ref[i]), `output ${i}`).toBeLessThanOrEqual(1e-5));
        });
      });
    }
  }

  it('skips the gradient of the data batch: one product less per dense layer than stock tfjs', async () => {
    await tf.setBackend('cpu');
    const count = async (fused: typeof tf.fused.matMul) => {
      const X = rand([8, 6], 4);
      const W = tf.variable(rand([6, 3], 5));
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(fused({ a: X, b: W, activation: 'linear' })) as tf.Scalar, [W]);
        tf.dispose([value, grads]);
      });
      tf.dispose([X, W]);
      return info.kernels.filter((k) => k.name === 'BatchMatMul' || k.name === '_FusedMatMul').map((k) => k.name);
    };
    const stock = await count(stockFused);
    const ours = await count(tf.fused.matMul);
    expect(ours).toEqual(['BatchMatMul', 'BatchMatMul']); // forward, dW
    expect(stock).toEqual(['_FusedMatMul', 'BatchMatMul', 'BatchMatMul']); // forward, dX (wasted), dW
  });

  it('inference (no gradient recorded) still uses the fused kernel', async () => {
    await tf.setBackend('cpu');
    const info = await tf.profile(() => tf.tidy(() => tf.fused.matMul({ a: rand([2, 3], 6), b: rand([3, 2], 7), bias: rand([2], 8), activation: 'relu' })));
    expect(info.kernels.map((k) => k.name)).toContain('_FusedMatMul');
  });
});

describe('fused conv2d while recording gradients (tf.layers.conv2d)', () => {
  const stockConv = stockFusedConv;
  const run = (fused: typeof tf.fused.conv2d, pad: 'same' | 'valid', activation: 'linear' | 'sigmoid' | 'relu') => {
    const x = rand([2, 6, 6, 2], 12), k = rand([3, 3, 2, 3], 13), bias = rand([3], 14);
    const f = (kk: tf.Tensor, bb: tf.Tensor) => fused({ x: x as tf.Tensor4D, filter: kk as tf.Tensor4D, strides: 1, pad, bias: bb, activation });
    const y = f(k, bias);
    const w = rand(y.shape, 15);
    return [y, ...tf.grads((kk: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(kk, bb), w)))([k, bias])];
  };
  for (const backend of BACKENDS) {
    for (const [pad, act] of [['same', 'linear'], ['valid', 'sigmoid'], ['same', 'relu']] as const) {
      it(`${backend}: ${pad} ${act} — same value and gradients as tfjs' fused op`, async () => {
        await tf.setBackend(backend);
        tf.tidy(() => {
          const ref = run(stockConv, pad, act), got = run(tf.fused.conv2d, pad, act);
          got.forEach((g, i) => expect(maxDiff(g, ref[i]), `output ${i}`).toBeLessThanOrEqual(1e-5));
        });
      });
    }
  }

  it('does not compute the gradient of the input images', async () => {
    await tf.setBackend('cpu');
    const names = async (fused: typeof tf.fused.conv2d) => (await tf.profile(() => tf.tidy(() => { run(fused, 'same', 'linear'); })))
      .kernels.map((k) => k.name).filter((n) => n.startsWith('Conv2DBackprop'));
    expect(await names(tf.fused.conv2d)).toEqual(['Conv2DBackpropFilter']);
    expect(await names(stockConv)).toEqual(['Conv2DBackpropInput', 'Conv2DBackpropFilter']);
  });
});

describe.skipIf(!NATIVE)('native TensorFlow kernels', () => {
  beforeAll(async () => { await tf.setBackend('tensorflow'); });

  it('ReLU gradient: one ReluGrad kernel, equal to cpu; a NaN input gets gradient 0 (as PyTorch)', async () => {
    const f = () => tf.tidy(() => {
      const x = tf.concat([rand([50], 9), tf.tensor1d([0, NaN, -0.5, 2])]);
      const dy = rand([54], 10);
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(x);
    });
    const info = await tf.profile(() => { f().dispose(); });
    expect(info.kernels.map((k) => k.name)).toContain('ReluGrad');
    expect(info.kernels.map((k) => k.name)).not.toContain('Step');
    const got = f();
    await tf.setBackend('cpu');
    const ref = f();
    await tf.setBackend('tensorflow');
    const g = got.dataSync(), r = ref.dataSync();
    for (let i = 0; i < 50; i++) expect(g[i]).toBe(r[i]);
    expect(Array.from(g.slice(50)).map((v) => v + 0)).toEqual([0, 0, 0, r[53]]); // + 0: -0 → 0
    expect(Number.isNaN(r[51])).toBe(true); // stock tfjs: NaN
    tf.dispose([got, ref]);
  });

  it('sigmoid gradient: one SigmoidGrad kernel, equal to cpu', async () => {
    const f = () => tf.tidy(() => {
      const x = rand([40], 18, -6, 6), dy = rand([40], 19);
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(v), dy)))(x);
    });
    const info = await tf.profile(() => { f().dispose(); });
    expect(info.kernels.map((k) => k.name)).toContain('SigmoidGrad');
    const got = f();
    await tf.setBackend('cpu');
    const ref = f();
    await tf.setBackend('tensorflow');
    expect(maxDiff(got, ref)).toBeLessThanOrEqual(1e-6);
    tf.dispose([got, ref]);
  });

  it('Reshape: right values for many shapes, no tensors left behind; same shape shares the buffer', () => {
    const before = tf.memory().numTensors;
    const x = rand([4, 6], 11);
    const v = Array.from(x.dataSync());
    for (const shape of [[24], [2, 12], [3, 8], [2, 3, 4], [24, 1], [1, 24], [-1, 6], [4, 6]]) {
      const y = tf.reshape(x, shape);
      expect(Array.from(y.dataSync())).toEqual(v);
      expect(y.size).toBe(24);
      y.dispose();
    }
    expect(Array.from(x.dataSync())).toEqual(v); // disposing a same-shape reshape left x intact
    const i = tf.tidy(() => tf.reshape(tf.tensor1d([1, 2, 3, 4], 'int32'), [2, 2]));
    expect(i.dtype).toBe('int32');
    expect(i.arraySync()).toEqual([[1, 2], [3, 4]]);
    tf.dispose([x, i]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Cast to the same dtype shares the buffer; other casts still convert', () => {
    const x = tf.tensor1d([1.5, -2.5, 3]);
    const same = tf.cast(x, 'float32');
    same.dispose();
    expect(Array.from(x.dataSync())).toEqual([1.5, -2.5, 3]);
    const i = tf.cast(x, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([x, i]);
  });
});

describe.skipIf(!NATIVE)('native TensorFlow: avgPool gradient and bias-gradient sums', () => {
  beforeAll(async () => { await tf.setBackend('tensorflow'); });

  /** `f` on tensorflow and on cpu; returns the largest difference and the TF ops tensorflow ran. */
  async function againstCpu(f: () => tf.Tensor): Promise<{ diff: number; kernels: string[] }> {
    // the binding's exports are read-only: the backend gets a stand-in that records op names and forwards all else
    type Binding = { executeOp: (name: string, ...rest: unknown[]) => unknown };
    const backend = tf.backend() as unknown as { binding: Binding };
    const stock = backend.binding, ops: string[] = [];
    backend.binding = Object.create(stock, { executeOp: { value: (name: string, ...rest: unknown[]) => {
      ops.push(name);
      return stock.executeOp(name, ...rest);
    } } }) as Binding;
    let got: tf.Tensor;
    try {
      got = f();
    } finally {
      backend.binding = stock;
    }
    await tf.setBackend('cpu');
    const ref = f();
    await tf.setBackend('tensorflow');
    const diff = maxDiff(got, ref);
    tf.dispose([got, ref]);
    return { diff, kernels: ops };
  }
  const poolGrad = (shape: number[], k: [number, number], s: [number, number], pad: 'valid' | 'same') => () => tf.tidy(() => {
    const x = rand(shape, 20);
    const y = tf.avgPool(x as tf.Tensor4D, k, s, pad);
    const w = rand(y.shape, 21);
    return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(v as tf.Tensor4D, k, s, pad), w)))(x);
  });

  const tiled: [string, number[], [number, number], [number, number], 'valid' | 'same'][] = [
    ['2x2/2 valid (LeNet)', [3, 8, 8, 4], [2, 2], [2, 2], 'valid'],
    ['3x2/(3,2) same on 9x6', [2, 9, 6, 3], [3, 2], [3, 2], 'same'],
  ];
  for (const [label, shape, k, s, pad] of tiled) {
    it(`avgPool gradient, windows tiling the input, ${label}: BroadcastTo instead of AvgPoolGrad, exact`, async () => {
      const before = tf.memory().numTensors;
      const { diff, kernels } = await againstCpu(poolGrad(shape, k, s, pad));
      expect(kernels).not.toContain('AvgPoolGrad');
      expect(diff).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
  it('avgPool gradient, overlapping or uneven windows: TF\'s AvgPoolGrad, equal to cpu', async () => {
    for (const f of [poolGrad([2, 7, 7, 2], [3, 3], [2, 2], 'valid'), poolGrad([2, 9, 9, 2], [2, 2], [2, 2], 'valid')]) {
      const { diff, kernels } = await againstCpu(f);
      expect(kernels).toContain('AvgPoolGrad');
      expect(diff).toBeLessThanOrEqual(1e-6);
    }
  });

  it('sum over every axis but the last (bias gradients): TF\'s BiasAddGrad, equal to cpu', async () => {
    const x = rand([4, 5, 6, 3], 22), m = rand([300, 7], 23);
    for (const f of [() => tf.sum(x, [0, 1, 2]), () => tf.sum(x, [-2, 0, 1]), () => tf.sum(m, 0),
      () => tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.add(x, b), x)))(rand([3], 24))]) {
      const { diff, kernels } = await againstCpu(() => tf.tidy(f));
      expect(kernels).toContain('BiasAddGrad');
      expect(diff).toBeLessThanOrEqual(1e-5);
    }
    for (const f of [() => tf.sum(x, [0, 1, 2], true), () => tf.sum(x, [1, 2]), () => tf.sum(x)]) {
      const { diff, kernels } = await againstCpu(() => tf.tidy(f));
      expect(kernels).not.toContain('BiasAddGrad');
      expect(diff).toBeLessThanOrEqual(1e-5);
    }
    tf.dispose([x, m]);
  });
});

describe('no-op kernels share the buffer on wasm', () => {
  it('wasm: clone and cast(x, x.dtype) use no new memory, and outlive the original', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([[1.5, -2], [3, 4]]);
    const buffers = () => tf.engine().backend.numDataIds(); // distinct buffers on the wasm heap
    const before = buffers();
    const c = tf.clone(x);
    const same = tf.cast(x, 'float32');
    expect(buffers()).toBe(before);
    const asInt = tf.cast(x, 'int32');        // a real conversion still converts (and allocates)
    expect(buffers()).toBe(before + 1);
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual([1.5, -2, 3, 4]);
    expect(Array.from(same.dataSync())).toEqual([1.5, -2, 3, 4]);
    expect(Array.from(asInt.dataSync())).toEqual([1, -2, 3, 4]);
    expect(asInt.dtype).toBe('int32');
    tf.dispose([c, same, asInt]);
    expect(buffers()).toBe(before - 1);
  });
});

describe('softmaxCrossEntropy (custom gradient) on every backend', () => {
  for (const backend of BACKENDS) {
    it(`${backend}: value and gradient equal tf.losses.softmaxCrossEntropy's`, async () => {
      await tf.setBackend(backend);
      tf.tidy(() => {
        const logits = rand([6, 5], 16, -4, 4), y = tf.tensor1d([0, 4, 1, 1, 3, 2], 'int32'), w = rand([6], 17);
        const ours = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(softmaxCrossEntropy(x, y), w)) as tf.Scalar)(logits);
        const ref = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(tf.losses.softmaxCrossEntropy(
          tf.oneHot(y as tf.Tensor1D, 5), x, undefined, undefined, tf.Reduction.NONE), w)) as tf.Scalar)(logits);
        expect(maxDiff(ours.value, ref.value)).toBeLessThanOrEqual(1e-5);
        expect(maxDiff(ours.grad, ref.grad)).toBeLessThanOrEqual(1e-6);
      });
    });
  }
});

describe('scaledImageBatch (Fashion-MNIST batches)', () => {
  const rows = 300, rowSize = 16;
  const images = Uint8Array.from({ length: rows * rowSize }, (_, i) => (i * 7) % 256); // every value 0..255
  const order = Int32Array.from({ length: rows }, (_, i) => (i * 37) % rows);

  for (const backend of BACKENDS) {
    it(`${backend}: exactly v / 255 in float32, rows in the given order, partial batches, no leaks`, async () => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      for (const [o, start, end] of [[order, 0, 256], [order, 256, 300], [null, 10, 13]] as const) {
        const t = scaledImageBatch(images, rowSize, o, start, end, [end - start, 4, 4, 1]);
        expect(t.dtype).toBe('float32');
        expect(t.shape).toEqual([end - start, 4, 4, 1]);
        const got = t.dataSync();
        const want = new Float32Array((end - start) * rowSize);
        for (let i = start; i < end; i++) {
          const src = (o === null ? i : o[i]) * rowSize;
          for (let j = 0; j < rowSize; j++) want[(i - start) * rowSize + j] = images[src + j] / 255;
        }
        expect(Array.from(got)).toEqual(Array.from(want));
        t.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
