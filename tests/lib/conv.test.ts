// lib/conv.ts: lecture 19's corr2d (the book's examples), lecture 23's evaluateAccuracyGpu and trainCh6
// (Xavier init, d2l's printed lines, the Animator's 5 points per epoch, no leaked tensors, seeded
// reproducibility) on a tiny LeNet-shaped net and tiny images.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useLibBackend } from '../helpers/lib-setup';
import * as tf from '@tensorflow/tfjs';
import { Animator } from '../../lib/display/animator';
import { corr2d, evaluateAccuracyGpu, trainCh6, xavierInit } from '../../lib/conv';
import { createRng, nextSeed, seed } from '../../lib/random';
import { tensorIter } from '../helpers/tensor-iter';


const live = useLibBackend();


describe('corr2d', () => {
  it('gives the book\'s [[19, 25], [37, 43]]', () => {
    const X = tf.tensor2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
    const K = tf.tensor2d([[0, 1], [2, 3]]);
    const before = tf.memory().numTensors;
    const Y = corr2d(X, K);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(Y.arraySync()).toEqual([[19, 25], [37, 43]]);
    tf.dispose([X, K, Y]);
  });

  it('detects the vertical edges of the book\'s 6×8 image, and none in its transpose', () => {
    const X = tf.tensor2d(Array.from({ length: 6 }, () => [1, 1, 0, 0, 0, 0, 1, 1]));
    const K = tf.tensor2d([[1, -1]]);
    const Y = corr2d(X, K);
    expect(Y.shape).toEqual([6, 7]);
    for (const row of Y.arraySync()) expect(row).toEqual([0, 1, 0, 0, 0, -1, 0]);
    const Yt = tf.tidy(() => corr2d(tf.transpose(X), K));
    expect(Yt.shape).toEqual([8, 5]);
    expect((Yt.arraySync() as number[][]).flat().every((v) => v === 0)).toBe(true);
    tf.dispose([X, K, Y, Yt]);
  });

  it('is differentiable with respect to the kernel (what lecture 19 learns)', () => {
    const X = tf.tensor2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
    const K = tf.tensor2d([[0, 1], [2, 3]]);
    // d(ΣY)/dK[a, b] = Σ over output positions of X[i + a, j + b]
    const g = tf.grad((k: tf.Tensor) => tf.sum(corr2d(X, k)))(K);
    expect(g.arraySync()).toEqual([[8, 12], [20, 24]]);
    tf.dispose([X, K, g]);
  });

  it('names the expected and actual shapes', () => {
    const X = tf.ones([2, 3]);
    expect(() => corr2d(X, tf.ones([3, 1]))).toThrow(/corr2d: expected a kernel K of shape \[h, w\] with 1 ≤ h ≤ 2, 1 ≤ w ≤ 3 \(X is \[2, 3\]\), got \[3, 1\]/);
    expect(() => corr2d(tf.ones([1, 2, 3]), tf.ones([1, 1]))).toThrow(/expected X of shape \[H, W\], got shape \[1, 2, 3\]/);
    expect(() => corr2d(X, tf.ones([2]))).toThrow(/expected K of shape \[h, w\], got shape \[2\]/);
    X.dispose();
  });
});

/** Tiny images 8×8×1 of 2 classes: a bright left half (class 0) or a bright right half (class 1), plus noise. */
function halves(n: number, rngSeed: number): [tf.Tensor4D, tf.Tensor1D] {
  const rng = createRng(rngSeed);
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    y[k] = k % 2;
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 8; c++) x[k * 64 + r * 8 + c] = ((c < 4) === (y[k] === 0) ? 0.8 : 0.1) + 0.1 * rng();
    }
  }
  return [tf.tensor4d(x, [n, 8, 8, 1]), tf.tensor1d(y, 'int32')];
}

/** A LeNet-shaped net (conv → sigmoid → avgpool → dense) for 8×8 inputs. */
function tinyLeNet(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid', inputShape: [8, 8, 1] }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, activation: 'sigmoid' }),
      tf.layers.dense({ units: 2 }),
    ],
  });
}

describe('evaluateAccuracyGpu', () => {
  it('evaluates on the given device and refuses a GPU that is not there', () => {
    const [X, y] = halves(10, 1);
    const net = (x: tf.Tensor) => tf.tidy(() => {
      const left = tf.mean(tf.slice(x, [0, 0, 0, 0], [-1, 8, 4, 1]), [1, 2, 3]);
      const right = tf.mean(tf.slice(x, [0, 0, 4, 0], [-1, 8, 4, 1]), [1, 2, 3]);
      return tf.stack([left, right], 1);
    });
    expect(evaluateAccuracyGpu(net, tensorIter(X, y, 4), '/CPU:0')).toBe(1);
    expect(evaluateAccuracyGpu(net, tensorIter(X, y, 4))).toBe(1);
    expect(() => evaluateAccuracyGpu(net, tensorIter(X, y, 4), '/GPU:0')).toThrow(/device \/GPU:0 is not available \(numGpus\(\) = 0\)/);
    expect(() => evaluateAccuracyGpu(net, tensorIter(X, y, 4), 3 as never)).toThrow(/expected device to be a device string/);
    tf.dispose([X, y]);
  });
});

describe('xavierInit', () => {
  it('re-initialises Dense and Conv2D kernels within the Glorot limit, seeded, biases untouched', () => {
    const model = tinyLeNet();
    const kernels = () => [0, 3, 4].map((i) => Array.from(model.layers[i].getWeights()[0].dataSync()));
    const init = [tf.ones([4, 2]), tf.fill([2], 0.5)];
    model.layers[4].setWeights(init);
    tf.dispose(init);
    seed(3);
    expect(xavierInit(model)).toBe(3);
    const a = kernels();
    seed(3);
    xavierInit(model);
    expect(kernels()).toEqual(a);
    const limit = Math.sqrt(6 / (4 + 2)); // dense 4 → 2
    expect(a[2].every((v) => Math.abs(v) <= limit && v !== 1)).toBe(true);
    const convLimit = Math.sqrt(6 / (9 * 1 + 9 * 2));
    expect(a[0].every((v) => Math.abs(v) <= convLimit)).toBe(true);
    expect(Array.from(model.layers[4].getWeights()[1].dataSync())).toEqual([0.5, 0.5]);
    model.dispose();
  });
});

describe('trainCh6', () => {
  let Xtr: tf.Tensor4D, ytr: tf.Tensor1D, Xte: tf.Tensor4D, yte: tf.Tensor1D;
  beforeAll(() => {
    [Xtr, ytr] = halves(64, 2);
    [Xte, yte] = halves(16, 3);
    live.push(Xtr, ytr, Xte, yte);
  });

  async function run(numEpochs: number, animator?: Animator | false) {
    seed(0);
    const model = tinyLeNet();
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const start = tf.memory().numTensors;
    try {
      const epochs: number[][] = [];
      const r = await trainCh6(model, tensorIter(Xtr, ytr, 16, true), tensorIter(Xte, yte, 16), numEpochs, 0.9, '/CPU:0', {
        animator,
        onEpoch: (e, m) => epochs.push([e, m.trainLoss, m.trainAcc, m.testAcc]),
      });
      return { r, epochs, leaked: tf.memory().numTensors - start, printed: log.mock.calls.map((c) => c.join(' ')) };
    } finally {
      log.mockRestore();
      model.dispose();
    }
  }

  it('trains an epoch, prints d2l\'s lines, plots ~5 train points per epoch and leaks nothing', async () => {
    const animator = new Animator({ xlabel: 'epoch', xlim: [1, 2], legend: ['train loss', 'train acc', 'test acc'] });
    const { r, epochs, leaked, printed } = await run(2, animator);
    expect(leaked).toBe(0);
    expect(epochs.map((e) => e[0])).toEqual([1, 2]);
    expect(Number.isFinite(r.trainLoss)).toBe(true);
    expect(r.trainAcc).toBeGreaterThanOrEqual(0);
    expect(r.testAcc).toBeLessThanOrEqual(1);
    expect(printed).toEqual([
      'training on /CPU:0',
      `loss ${r.trainLoss.toFixed(3)}, train acc ${r.trainAcc.toFixed(3)}, test acc ${r.testAcc.toFixed(3)}`,
      `${r.examplesPerSec.toFixed(1)} examples/sec on /CPU:0`,
    ]);
    // 4 batches per epoch: ⌊4/5⌋ = 0 → a point after every batch, at x = epoch + (i+1)/4
    expect(animator.data.X[0]).toEqual([0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2]);
    expect(animator.data.X[2]).toEqual([1, 2]);
    expect(animator.data.Y[2]).toEqual(epochs.map((e) => e[3]));
    expect(animator.data.Y[0][7]).toBeCloseTo(r.trainLoss, 5);
  });

  it('leaks nothing with the default Animator and repeats exactly after seed(0)', async () => {
    const a = await run(1);
    const b = await run(1);
    expect(a.leaked).toBe(0);
    expect(b.epochs).toEqual(a.epochs);
  });

  it('checks lr, numEpochs and the device', async () => {
    const model = tinyLeNet();
    const tr = tensorIter(Xtr, ytr, 16), te = tensorIter(Xte, yte, 16);
    await expect(trainCh6(model, tr, te, 1, 0)).rejects.toThrow(/trainCh6: expected lr to be a positive finite number, got number 0/);
    await expect(trainCh6(model, tr, te, 1, -0.5)).rejects.toThrow(/expected lr to be a positive finite number/);
    await expect(trainCh6(model, tr, te, 0, 0.9)).rejects.toThrow(/expected numEpochs to be a positive integer/);
    await expect(trainCh6(model, tr, te, 1, 0.9, '/GPU:1')).rejects.toThrow(/device \/GPU:1 is not available/);
    model.dispose();
  });

  it('learns the tiny task with a ReLU net', async () => {
    seed(1);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1], kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const r = await trainCh6(model, tensorIter(Xtr, ytr, 16, true), tensorIter(Xte, yte, 16), 3, 0.1, undefined, { animator: false });
      expect(r.testAcc).toBeGreaterThan(0.9);
    } finally {
      log.mockRestore();
      model.dispose();
    }
  });
});
