// lib/train.ts and lib/utils.ts: lecture 09's trainEpochCh3 / trainCh3 with both kinds of net (function,
// tfjs model) and both kinds of updater (scratch sgd, tf.Optimizer), Accumulator and Timer (lectures
// 08/09): the metrics they report, no leaked tensors after an epoch, seeded reproducibility, and a tiny
// softmax regression that really learns.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useLibBackend } from '../helpers/lib-setup';
import * as tf from '@tensorflow/tfjs';
import { Animator } from '../../lib/display/animator';
import { crossEntropy, evaluateAccuracy, softmax, softmaxCrossEntropy, type Net } from '../../lib/classify';
import type { DataIter } from '../../lib/data';
import { linreg, sgd, squaredLoss } from '../../lib/linear';
import { createRng, nextSeed, seed } from '../../lib/random';
import { trainCh3, trainEpochCh3, type ScratchUpdater } from '../../lib/train';
import { Accumulator, Timer } from '../../lib/utils';
import { tensorIter } from '../helpers/tensor-iter';


const live = useLibBackend();


/**
 * Three well-separated Gaussian blobs in 2-D (centres (±3, 0) and (0, 3), σ 0.5), `n` per class,
 * from a fixed JS generator (independent of d2l.seed).
 */
function blobs(n: number, rngSeed: number): [tf.Tensor2D, tf.Tensor1D] {
  const rng = createRng(rngSeed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const centres = [[-3, 0], [3, 0], [0, 3]];
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      xs.push([centres[c][0] + 0.5 * gauss(), centres[c][1] + 0.5 * gauss()]);
      ys.push(c);
    }
  }
  return [tf.tensor2d(xs), tf.tensor1d(ys, 'int32')];
}

/** Softmax regression from scratch (lecture 09) on 2 inputs and 3 classes, parameters from the seed. */
function scratchSoftmax(lr: number): { net: Net; updater: ScratchUpdater; params: tf.Variable[] } {
  const W = tf.variable(tf.randomNormal([2, 3], 0, 0.01, 'float32', nextSeed()));
  const b = tf.variable(tf.zeros([3]));
  const net = (X: tf.Tensor) => softmax(tf.add(tf.matMul(tf.reshape(X, [-1, 2]), W), b));
  const updater = (batchSize: number, grads: tf.NamedTensorMap) => sgd([W, b], grads, lr, batchSize);
  return { net, updater, params: [W, b] };
}

describe('Accumulator', () => {
  it('sums n slots, resets, and checks its arguments', () => {
    const m = new Accumulator(3);
    m.add(1, 2, 3);
    m.add(0.5, 0, -1);
    expect([m.get(0), m.get(1), m.get(2)]).toEqual([1.5, 2, 2]);
    expect(m.toArray()).toEqual([1.5, 2, 2]);
    expect(m.length).toBe(3);
    m.reset();
    expect(m.toArray()).toEqual([0, 0, 0]);
    expect(() => m.add(1, 2)).toThrow(/Accumulator.add: expected 3 numbers \(one per slot\), got 2/);
    expect(() => m.get(3)).toThrow(/expected an index in 0..2, got number 3/);
    expect(() => new Accumulator(0)).toThrow(/expected n to be a positive integer/);
  });
});

describe('Timer', () => {
  it('records intervals; avg, sum and cumsum in seconds', () => {
    const now = vi.spyOn(performance, 'now');
    try {
      now.mockReturnValue(1000);
      const t = new Timer(); // starts on construction
      now.mockReturnValue(1500);
      expect(t.stop()).toBeCloseTo(0.5, 9);
      now.mockReturnValue(2000);
      t.start();
      now.mockReturnValue(3500);
      expect(t.stop()).toBeCloseTo(1.5, 9);
      expect(t.sum()).toBeCloseTo(2, 9);
      expect(t.avg()).toBeCloseTo(1, 9);
      expect(t.cumsum()).toEqual([0.5, 2]);
      expect(t.times).toEqual([0.5, 1.5]);
    } finally {
      now.mockRestore();
    }
    expect(new Timer().avg()).toBe(0);
  });
});

describe('trainEpochCh3', () => {
  let X: tf.Tensor2D, y: tf.Tensor1D;
  beforeAll(() => {
    [X, y] = blobs(20, 1); // 60 examples
    live.push(X, y);
  });

  it('scratch: trains with the sgd updater and leaves no tensors behind', async () => {
    seed(0);
    const { net, updater, params } = scratchSoftmax(0.1);
    const it = tensorIter(X, y, 16, true);
    const start = tf.memory().numTensors;
    const [loss, acc] = await trainEpochCh3(net, it, crossEntropy, updater);
    expect(tf.memory().numTensors).toBe(start);
    expect(loss).toBeGreaterThan(0);
    expect(loss).toBeLessThan(Math.log(3) + 0.05); // mean over the epoch, starting at ≈ ln 3
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    tf.dispose(params);
  });

  it('reports the mean loss and the accuracy over the epoch (checked with lr → 0)', async () => {
    // lr tiny: the net does not change, so the epoch metrics equal a direct evaluation.
    const W = tf.variable(tf.tensor2d([[-1, 1, 0], [0, 0, 1]]));
    const b = tf.variable(tf.zeros([3]));
    const net = (x: tf.Tensor) => softmax(tf.add(tf.matMul(x, W), b));
    const [loss, acc] = await trainEpochCh3(net, tensorIter(X, y, 7), crossEntropy,
      (bs: number, g: tf.NamedTensorMap) => sgd([W, b], g, 1e-12, bs));
    const expected = tf.tidy(() => tf.mean(crossEntropy(net(X), y)).dataSync()[0]);
    expect(loss).toBeCloseTo(expected, 5);
    expect(acc).toBeCloseTo(evaluateAccuracy(net, tensorIter(X, y, 60)), 6);
    // the same through the optimizer branch (it minimises the mean; the report is still the mean over examples)
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], activation: 'softmax' })] });
    const init = [tf.tensor2d([[-1, 1, 0], [0, 0, 1]]), tf.zeros([3])];
    model.setWeights(init);
    const opt = tf.train.sgd(1e-12);
    const [mLoss, mAcc] = await trainEpochCh3(model, tensorIter(X, y, 7), crossEntropy, opt);
    expect(mLoss).toBeCloseTo(expected, 5);
    expect(mAcc).toBeCloseTo(acc, 6);
    tf.dispose([W, b, ...init]);
    opt.dispose();
    model.dispose();
  });

  it('concise: a tfjs model with tf.train.sgd, run with training=true (dropout active)', async () => {
    seed(0);
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: 'relu', inputShape: [2], kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }) }),
        tf.layers.dropout({ rate: 0.5, seed: nextSeed() }),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }) }),
      ],
    });
    const optimizer = tf.train.sgd(0.1);
    const start = tf.memory().numTensors;
    const applySpy = vi.spyOn(model, 'apply');
    const [loss1] = await trainEpochCh3(model, tensorIter(X, y, 10), softmaxCrossEntropy, optimizer);
    expect(applySpy.mock.calls.every((c) => (c[1] as { training: boolean }).training === true)).toBe(true);
    applySpy.mockRestore();
    let loss = loss1;
    for (let e = 0; e < 4; e++) [loss] = await trainEpochCh3(model, tensorIter(X, y, 10), softmaxCrossEntropy, optimizer);
    expect(tf.memory().numTensors).toBe(start);
    expect(loss).toBeLessThan(loss1);
    optimizer.dispose();
    model.dispose();
  });

  it('tells a function net it is training, and differentiates only updater.params when given', async () => {
    const w = tf.variable(tf.ones([2, 1]), true, 'train_test_w');
    const frozen = tf.variable(tf.ones([1]), true, 'train_test_frozen');
    const modes: (boolean | undefined)[] = [];
    const net = (x: tf.Tensor, training?: boolean) => {
      modes.push(training);
      return tf.mul(linreg(x, w, 0), frozen);
    };
    const seen: string[][] = [];
    const updater: ScratchUpdater = Object.assign((bs: number, grads: tf.NamedTensorMap) => {
      seen.push(Object.keys(grads));
      sgd([w], grads, 0.01, bs);
    }, { params: [w] });
    const yr = tf.zeros([60, 1]);
    await trainEpochCh3(net, tensorIter(X, yr, 30), squaredLoss, updater);
    expect(modes).toEqual([true, true]);
    expect(seen).toEqual([['train_test_w'], ['train_test_w']]);
    expect(frozen.dataSync()[0]).toBe(1);
    tf.dispose([w, frozen, yr]);
  });

  it('rejects a reduced loss and bad arguments, leaking nothing', async () => {
    const { net, updater, params } = scratchSoftmax(0.1);
    const start = tf.memory().numTensors;
    const meanLoss = (a: tf.Tensor, b: tf.Tensor) => tf.mean(crossEntropy(a, b));
    await expect(trainEpochCh3(net, tensorIter(X, y, 16), meanLoss, updater))
      .rejects.toThrow(/trainEpochCh3: expected an UNREDUCED loss \(one value per example, shape \[16\]\), got shape \[\]/);
    expect(tf.memory().numTensors).toBe(start);
    // a net that fails halfway through its forward pass (after ops tfjs saved for backprop)
    const broken = (x: tf.Tensor) => tf.matMul(tf.exp(tf.relu(x)), tf.ones([3, 3]));
    await expect(trainEpochCh3(broken, tensorIter(X, y, 16), crossEntropy, updater)).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(start);
    await expect(trainEpochCh3(net, tensorIter(X, y, 16), crossEntropy, 0.1 as never))
      .rejects.toThrow(/expected updater to be a tf.Optimizer .* or a function/);
    await expect(trainEpochCh3(net, tensorIter(X, y, 16), 'ce' as never, updater)).rejects.toThrow(/expected loss to be a function/);
    await expect(trainEpochCh3(42 as never, tensorIter(X, y, 16), crossEntropy, updater)).rejects.toThrow(/expected net to be a function/);
    tf.dispose(params);
  });
});

describe('trainCh3', () => {
  let Xtr: tf.Tensor2D, ytr: tf.Tensor1D, Xte: tf.Tensor2D, yte: tf.Tensor1D;
  beforeAll(() => {
    [Xtr, ytr] = blobs(100, 2); // 300 training examples
    [Xte, yte] = blobs(30, 3); // 90 test examples
    live.push(Xtr, ytr, Xte, yte);
  });

  async function run(numEpochs: number, animator?: Animator | false) {
    seed(0);
    const { net, updater, params } = scratchSoftmax(0.5);
    const epochs: [number, number, number, number][] = [];
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const r = await trainCh3(net, tensorIter(Xtr, ytr, 20, true), tensorIter(Xte, yte, 32), crossEntropy, numEpochs, updater, {
        animator,
        onEpoch: (e, m) => epochs.push([e, m.trainLoss, m.trainAcc, m.testAcc]),
      });
      return { r, epochs, printed: log.mock.calls.map((c) => c.join(' ')), params };
    } finally {
      log.mockRestore();
    }
  }

  it('learns a separable softmax regression, plots each epoch, and prints d2l\'s final line', async () => {
    const animator = new Animator({ xlabel: 'epoch', xlim: [1, 5], legend: ['train loss', 'train acc', 'test acc'] });
    const { r, epochs, printed, params } = await run(5, animator);
    expect(epochs.map((e) => e[0])).toEqual([1, 2, 3, 4, 5]);
    expect(r.testAcc).toBeGreaterThan(0.95);
    expect(r.trainAcc).toBeGreaterThan(0.95);
    expect(r.trainLoss).toBeLessThan(epochs[0][1]);
    expect(r.examplesPerSec).toBeGreaterThan(0);
    expect(animator.data.X).toEqual([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]);
    expect(animator.data.Y[2]).toEqual(epochs.map((e) => e[3]));
    expect(printed).toEqual([`loss ${r.trainLoss.toFixed(3)}, train acc ${r.trainAcc.toFixed(3)}, test acc ${r.testAcc.toFixed(3)}`]);
    tf.dispose(params);
  });

  it('leaves tf.memory().numTensors where it was (default Animator included)', async () => {
    seed(0);
    const { net, updater, params } = scratchSoftmax(0.5);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const start = tf.memory().numTensors;
    await trainCh3(net, tensorIter(Xtr, ytr, 20, true), tensorIter(Xte, yte, 32), crossEntropy, 1, updater);
    expect(tf.memory().numTensors).toBe(start);
    log.mockRestore();
    tf.dispose(params);
  });

  it('repeats exactly after seed(0)', async () => {
    const a = await run(2, false);
    const b = await run(2, false);
    expect(b.epochs).toEqual(a.epochs);
    expect(a.epochs[0][1]).not.toBe(a.epochs[1][1]);
    tf.dispose([...a.params, ...b.params]);
  });

  it('checks numEpochs, the iterators and the options', async () => {
    const { net, updater, params } = scratchSoftmax(0.5);
    const tr = tensorIter(Xtr, ytr, 20), te = tensorIter(Xte, yte, 32);
    await expect(trainCh3(net, tr, te, crossEntropy, 0, updater)).rejects.toThrow(/trainCh3: expected numEpochs to be a positive integer, got number 0/);
    await expect(trainCh3(net, tr, null as never, crossEntropy, 1, updater)).rejects.toThrow(/expected testIter to be a DataIter/);
    await expect(trainCh3(net, tr, te, crossEntropy, 1, updater, { onEpoch: 1 as never })).rejects.toThrow(/opts.onEpoch/);
    await expect(trainCh3(net, tr, te, crossEntropy, 1, updater, { animator: {} as never })).rejects.toThrow(/opts.animator/);
    tf.dispose(params);
  });
});
