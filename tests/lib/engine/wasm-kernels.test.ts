// Checks every kernel lib/engine/wasm-kernels.ts registers against the cpu backend (the reference
// implementation in tfjs), forward and through tf.grad, on seeded random inputs; then trains one
// step of each of the course's small models on wasm and compares loss and gradients with cpu.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../lib/engine/backend';
import { WASM_KERNELS } from '../../../lib/engine/wasm-kernels';
import { createRng } from '../../../lib/random';

const TOL = 1e-4;

const rng = createRng;

/** Host-side data, turned into a tensor on whichever backend is active when `t()` is called. */
class Data {
  constructor(readonly values: Float32Array, readonly shape: number[]) {}
  static random(shape: number[], seed: number, lo = -1, hi = 1): Data {
    const r = rng(seed);
    const n = shape.reduce((a, b) => a * b, 1);
    return new Data(Float32Array.from({ length: n }, () => lo + (hi - lo) * r()), shape);
  }
  t(): tf.Tensor {
    return tf.tensor(this.values, this.shape);
  }
}

type Compute = () => tf.Tensor | tf.Tensor[];

/** Runs `f` on `backend` and returns plain copies of its outputs. */
async function on(backend: 'cpu' | 'wasm', f: Compute): Promise<{ shape: number[]; values: Float32Array }[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const out = f();
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync()) }));
  });
}

/** Asserts that `f` gives the same outputs (shape and values within TOL) on wasm and cpu. */
async function sameOnWasmAndCpu(f: Compute): Promise<number> {
  const ref = await on('cpu', f);
  const got = await on('wasm', f);
  expect(got.length).toBe(ref.length);
  let worst = 0;
  got.forEach((g, i) => {
    expect(g.shape).toEqual(ref[i].shape);
    for (let j = 0; j < g.values.length; j++) worst = Math.max(worst, Math.abs(g.values[j] - ref[i].values[j]));
  });
  expect(worst).toBeLessThanOrEqual(TOL);
  return worst;
}

/** Values and gradients of sum(f(...xs) · w) with respect to every x, for a fixed random weighting w. */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Data[], seed = 99): Compute {
  return () => {
    const xs = inputs.map((d) => d.t());
    const y = f(...xs);
    const w = Data.random(y.shape, seed).t();
    const loss = (...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), w));
    return [y, ...tf.grads(loss)(xs)];
  };
}

beforeAll(async () => {
  process.env.D2L_BACKEND = 'wasm';   // this file's worker process only
  const info = await initBackend();
  expect(info.name).toBe('wasm');
});

describe('registration', () => {
  it('registers every d2l-ts kernel for wasm', () => {
    for (const name of WASM_KERNELS) expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
  });
});

describe('BatchMatMul / _FusedMatMul (transposed operands)', () => {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['NN', [7, 5], [5, 6], false, false],
    ['NT', [7, 5], [6, 5], false, true],
    ['TN', [5, 7], [5, 6], true, false],
    ['TT', [5, 7], [6, 5], true, true],
    ['batched TN', [3, 5, 4], [3, 5, 2], true, false],
    ['batched NT', [3, 4, 5], [3, 2, 5], false, true],
  ];
  for (const [name, sa, sb, ta, tb] of cases) {
    it(`matMul ${name}: forward and gradients`, async () => {
      const a = Data.random(sa, 1), b = Data.random(sb, 2);
      await sameOnWasmAndCpu(() => tf.engine().runKernel('BatchMatMul', { a: a.t(), b: b.t() }, { transposeA: ta, transposeB: tb }) as tf.Tensor);
      await sameOnWasmAndCpu(withGrads((x, y) => tf.matMul(x, y, ta, tb), [a, b]));
    });
  }
  it('fused matMul with bias + relu, transposed: forward and gradients', async () => {
    const a = Data.random([5, 7], 3), b = Data.random([6, 5], 4), bias = Data.random([6], 5);
    await sameOnWasmAndCpu(withGrads(
      (x, y, c) => tf.fused.matMul({ a: x, b: y, bias: c, transposeA: true, transposeB: true, activation: 'relu' }),
      [a, b, bias]));
  });
});

// [label, input shape NHWC, filter shape, strides, padding]
type ConvCase = [string, number[], number[], number | [number, number], 'same' | 'valid' | number[][]];
const CONV_CASES: ConvCase[] = [
  ['C=1 5x5 same s1 (LeNet conv1)', [2, 12, 12, 1], [5, 5, 1, 3], 1, 'same'],
  ['C=3 5x5 valid s1 (LeNet conv2)', [2, 10, 10, 3], [5, 5, 3, 4], 1, 'valid'],
  ['C=1 3x3 valid s2', [2, 9, 9, 1], [3, 3, 1, 2], 2, 'valid'],
  ['C=2 3x3 same s2', [2, 9, 8, 2], [3, 3, 2, 3], 2, 'same'],
  ['C=2 2x2 same s1 (even filter)', [2, 7, 7, 2], [2, 2, 2, 3], 1, 'same'],
  ['C=3 3x3 valid s2, rows left over', [2, 10, 10, 3], [3, 3, 3, 2], 2, 'valid'],
  ['C=2 4x4 same s2', [1, 8, 8, 2], [4, 4, 2, 2], 2, 'same'],
  ['C=2 3x2 non-square stride [2,1]', [2, 9, 8, 2], [3, 2, 2, 3], [2, 1], 'same'],
  ['C=3 explicit padding s1', [2, 7, 7, 3], [3, 3, 3, 2], 1, [[0, 0], [2, 1], [0, 3], [0, 0]]],
  ['C=3 explicit padding s2', [2, 7, 7, 3], [3, 3, 3, 2], 2, [[0, 0], [1, 1], [1, 1], [0, 0]]],
  ['C=4 1x1 valid s1', [2, 5, 5, 4], [1, 1, 4, 3], 1, 'valid'],
];

describe('Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  for (const [label, xs, fs, strides, pad] of CONV_CASES) {
    it(label, async () => {
      const x = Data.random(xs, 10), f = Data.random(fs, 11);
      const p = pad as 'same';
      const y = tf.tidy(() => tf.conv2d(x.t() as tf.Tensor4D, f.t() as tf.Tensor4D, strides, p));
      const dy = Data.random(y.shape, 12);
      y.dispose();
      const attrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
      await sameOnWasmAndCpu(() => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: x.t(), dy: dy.t() }, { ...attrs, filterShape: fs } as unknown as tf.NamedAttrMap) as tf.Tensor);
      await sameOnWasmAndCpu(() => tf.engine().runKernel('Conv2DBackpropInput',
        { dy: dy.t(), filter: f.t() }, { ...attrs, inputShape: xs } as unknown as tf.NamedAttrMap) as tf.Tensor);
      await sameOnWasmAndCpu(withGrads((a, k) => tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, strides, p), [x, f]));
    });
  }
});

describe('UnsortedSegmentSum (gradient of gather)', () => {
  it('sums rows by segment id, dropping out-of-range ids', async () => {
    const x = Data.random([6, 3], 20);
    const ids = [2, 0, 2, 4, 7, 0];
    await sameOnWasmAndCpu(() => tf.unsortedSegmentSum(x.t(), tf.tensor1d(ids, 'int32'), 5));
  });
  it('gather axis 0 and 1: forward and gradients', async () => {
    const a = Data.random([5, 4], 21);
    await sameOnWasmAndCpu(withGrads((t) => tf.gather(t, tf.tensor1d([1, 0, 3, 3, 4], 'int32'), 0), [a]));
    await sameOnWasmAndCpu(withGrads((t) => tf.gather(t, tf.tensor1d([3, 3, 0], 'int32'), 1), [a]));
  });
});

describe('MaxPoolGrad', () => {
  // [label, shape, window, stride, pad, input offset]; offset -3 makes every window's max negative,
  // the case where the stock wasm kernel sends the gradient to element 0.
  const cases: [string, number[], number, number, 'same' | 'valid', number][] = [
    ['2x2 s2 valid', [2, 8, 8, 3], 2, 2, 'valid', 0],
    ['2x2 s2 valid, all negative', [2, 8, 8, 3], 2, 2, 'valid', -3],
    ['3x3 s1 same', [2, 7, 7, 2], 3, 1, 'same', 0],
    ['3x3 s2 same, all negative', [2, 9, 9, 2], 3, 2, 'same', -3],
    ['3x3 s2 valid, C=1', [2, 9, 9, 1], 3, 2, 'valid', 0],
  ];
  for (const [label, shape, k, s, pad, offset] of cases) {
    it(label, async () => {
      const x = Data.random(shape, 30, -1 + offset, 1 + offset);
      await sameOnWasmAndCpu(withGrads((t) => tf.maxPool(t as tf.Tensor4D, k, s, pad), [x]));
    });
  }
  it('on relu output (all-zero windows: first zero wins, like cpu)', async () => {
    const x = Data.random([2, 8, 8, 3], 31, -1, 0.5);
    const relu = new Data(x.values.map((v) => Math.max(v, 0)), x.shape);   // exact zeros, many ties
    await sameOnWasmAndCpu(withGrads((t) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), [relu]));
  });
});

describe('AvgPoolGrad', () => {
  const cases: [string, number[], number, number, 'same' | 'valid'][] = [
    ['2x2 s2 valid (LeNet)', [2, 8, 8, 3], 2, 2, 'valid'],
    ['3x3 s1 same', [2, 7, 7, 2], 3, 1, 'same'],
    ['3x3 s2 same, C=1', [2, 9, 9, 1], 3, 2, 'same'],
    ['3x3 s2 valid, rows left over', [2, 10, 10, 2], 3, 2, 'valid'],
    ['2x2 s2 valid on 9x9 (not tiled: last row and column unused)', [2, 9, 9, 2], 2, 2, 'valid'],
  ];
  for (const [label, shape, k, s, pad] of cases) {
    it(label, async () => {
      await sameOnWasmAndCpu(withGrads((t) => tf.avgPool(t as tf.Tensor4D, k, s, pad), [Data.random(shape, 35)]));
    });
  }
  it('3x2 windows, stride 3x2, tiling a 9x6 input (the row-copy fast path, non-square)', async () => {
    await sameOnWasmAndCpu(withGrads((t) => tf.avgPool(t as tf.Tensor4D, [3, 2], [3, 2], 'valid'),
      [Data.random([2, 9, 6, 3], 36)]));
  });
});

describe('Sum over every axis but the last (bias gradients: one XNNPACK average pool)', () => {
  const x4 = Data.random([4, 5, 6, 3], 37);
  const cases: [string, Data, number | number[], boolean][] = [
    ['rank 4, axes [0, 1, 2]', x4, [0, 1, 2], false],
    ['keepDims', x4, [0, 1, 2], true],
    ['axes unsorted and negative', x4, [-2, 0, -3], false],
    ['rank 2, axis 0', Data.random([300, 7], 38), 0, false],
    ['other axes (stock kernel)', x4, [1, 2], false],
    ['one row (stock kernel)', Data.random([1, 5], 39), 0, true],
  ];
  for (const [label, x, axis, keepDims] of cases) {
    it(label, async () => {
      await sameOnWasmAndCpu(() => tf.sum(x.t(), axis, keepDims));
    });
  }
  it('int32 (stock kernel)', async () => {
    await sameOnWasmAndCpu(() => tf.cast(tf.sum(tf.tensor([[1, 2], [3, 4], [5, 6]], undefined, 'int32'), 0), 'float32'));
  });
  it('the gradient of a bias add', async () => {
    await sameOnWasmAndCpu(withGrads((a, b) => tf.add(a, b), [x4, Data.random([3], 40)]));
  });
  it("LeNet's first conv layer size (200 704 rows): within float32 rounding of an exact sum", async () => {
    const x = Data.random([256, 28, 28, 6], 41);
    await tf.setBackend('wasm');
    const got = tf.tidy(() => tf.sum(x.t(), [0, 1, 2]).dataSync());
    for (let c = 0; c < 6; c++) {
      let exact = 0, abs = 0;
      for (let i = c; i < x.values.length; i += 6) { exact += x.values[i]; abs += Math.abs(x.values[i]); }
      // float32 accumulation, like the stock kernel: both err by ≤ 2.2e-3 here, against a bound of 5e-3
      expect(Math.abs(got[c] - exact), `channel ${c}`).toBeLessThan(5e-8 * abs);
    }
  });
});

describe('Add of a per-channel bias (rows of k·C values, the bias repeated)', () => {
  const x4 = Data.random([4, 5, 6, 3], 42), bias = Data.random([3], 43);
  const cases: [string, Data, Data][] = [
    ['[4,5,6,3] + [3]', x4, bias],
    ['[3] + [4,5,6,3] (bias first)', bias, x4],
    ['[4,5,6,3] + [1,1,1,3]', x4, new Data(bias.values, [1, 1, 1, 3])],
    ['[300,7] + [7]', Data.random([300, 7], 44), Data.random([7], 45)],
    ['[13,7] + [7] (13 rows: one run of 91)', Data.random([13, 7], 46), Data.random([7], 47)],
    ['[7,5] + [5] (too few rows: stock kernel)', Data.random([7, 5], 48), Data.random([5], 49)],
    ['[4,5,6,3] + [6,3] (not per channel: stock kernel)', x4, Data.random([6, 3], 50)],
  ];
  for (const [label, a, b] of cases) {
    it(label, async () => {
      await sameOnWasmAndCpu(withGrads((p, q) => tf.add(p, q), [a, b]));
    });
  }
  it('non-finite values stay in their own element', async () => {
    const v = Data.random([16, 4], 51);
    v.values[5] = NaN;
    v.values[9] = Infinity;
    await tf.setBackend('wasm');
    const got = tf.tidy(() => tf.add(v.t(), tf.tensor([1, 2, 3, 4])).dataSync());
    expect(Array.from(got).map((x, i) => (Number.isFinite(x) ? 'f' : `${i}:${x}`)).filter((x) => x !== 'f'))
      .toEqual(['5:NaN', '9:Infinity']);
  });
});

describe('saved tensors (engine clones share their buffer on wasm, lib/engine/fast-ops.ts)', () => {
  it('tensors saved for the backward pass (engine clones) keep their values after the forward scope ends', async () => {
    await sameOnWasmAndCpu(withGrads((a, b) => tf.tidy(() => tf.sigmoid(tf.matMul(a, b)).mul(a.sum())),
      [Data.random([4, 3], 41), Data.random([3, 5], 42)]));
  });
});

describe('one training step of the course models, wasm vs cpu (loss + all gradients)', () => {
  const labels = (n: number, k: number, seed: number) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => Math.floor(r() * k));
  };
  it('linear regression (lecture 08) with L2 penalty (lecture 12)', async () => {
    const X = Data.random([16, 3], 40), y = Data.random([16, 1], 41);
    const w = Data.random([3, 1], 42), b = Data.random([1], 43);
    await sameOnWasmAndCpu(withGrads((W, B) => {
      const l = tf.div(tf.square(tf.sub(tf.add(tf.matMul(X.t(), W), B), y.t())), 2);
      return tf.add(tf.mean(l), tf.mul(tf.div(tf.sum(tf.pow(W, 2)), 2), 3));
    }, [w, b]));
  });
  it('softmax regression (lecture 09): exp/sum/log, gather, oneHot, logSoftmax, max', async () => {
    const X = Data.random([8, 12], 50), W = Data.random([12, 4], 51);
    const y = labels(8, 4, 52);
    await sameOnWasmAndCpu(withGrads((Wt) => {
      const Z = tf.matMul(X.t(), Wt);
      const e = tf.exp(tf.sub(Z, tf.max(Z, 1, true)));
      const p = tf.div(e, tf.sum(e, 1, true));
      const picked = tf.gather(tf.reshape(p, [-1]), tf.tensor1d(y.map((c, i) => i * 4 + c), 'int32'));
      const scratch = tf.neg(tf.mean(tf.log(picked)));
      const concise = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), 4), Z);
      const viaLogSoftmax = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(y, 'int32'), 4), tf.logSoftmax(Z)), 1)));
      return tf.stack([scratch, concise, viaLogSoftmax]);
    }, [W]));
  });
  it('MLP with relu and dropout (lectures 10, 13): randomUniform mask, where, mul', async () => {
    const X = Data.random([8, 12], 60), W1 = Data.random([12, 16], 61), b1 = Data.random([16], 62);
    const W2 = Data.random([16, 4], 63), b2 = Data.random([4], 64);
    const y = labels(8, 4, 65);
    await sameOnWasmAndCpu(withGrads((w1, c1, w2, c2) => {
      const H = tf.relu(tf.add(tf.matMul(X.t(), w1), c1));
      const keep = tf.greater(tf.randomUniform(H.shape, 0, 1, 'float32', 7), 0.5);   // seeded: same mask on both
      const D = tf.where(keep, tf.div(H, 0.5), tf.zerosLike(H));
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), 4), tf.add(tf.matMul(D, w2), c2));
    }, [W1, b1, W2, b2]));
  });
  it('LeNet (lecture 23): conv2d same+valid, sigmoid, avgPool, dense', async () => {
    const B = 2;
    const X = Data.random([B, 28, 28, 1], 70, 0, 1);
    const params = [
      Data.random([5, 5, 1, 6], 71, -0.5, 0.5), Data.random([6], 72),
      Data.random([5, 5, 6, 16], 73, -0.2, 0.2), Data.random([16], 74),
      Data.random([400, 120], 75, -0.1, 0.1), Data.random([120], 76),
      Data.random([120, 10], 77, -0.1, 0.1), Data.random([10], 78),
    ];
    const y = labels(B, 10, 79);
    await sameOnWasmAndCpu(withGrads((k1, c1, k2, c2, w3, c3, w4, c4) => {
      let h = tf.avgPool(tf.sigmoid(tf.add(tf.conv2d(X.t() as tf.Tensor4D, k1 as tf.Tensor4D, 1, 'same'), c1)) as tf.Tensor4D, 2, 2, 'valid');
      h = tf.avgPool(tf.sigmoid(tf.add(tf.conv2d(h, k2 as tf.Tensor4D, 1, 'valid'), c2)) as tf.Tensor4D, 2, 2, 'valid');
      const z = tf.add(tf.matMul(tf.sigmoid(tf.add(tf.matMul(tf.reshape(h, [B, 400]), w3), c3)), w4), c4);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), 10), z);
    }, params));
  });
  it('CNN with relu + maxPool (lecture 22)', async () => {
    const X = Data.random([2, 10, 10, 2], 80);
    const K = Data.random([3, 3, 2, 4], 81);
    await sameOnWasmAndCpu(withGrads((k) =>
      tf.maxPool(tf.relu(tf.conv2d(X.t() as tf.Tensor4D, k as tf.Tensor4D, 1, 'same')), 2, 2, 'valid'), [K]));
  });
});
