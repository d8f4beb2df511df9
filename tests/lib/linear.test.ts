// lib/linear.ts: lecture 08's linreg, squaredLoss and sgd — values computed by hand, the shape and
// argument errors, no leaked tensors, and the book's scratch training loop reaching the noise floor.
import { describe, expect, it } from 'vitest';
import { useLibBackend, values } from '../helpers/lib-setup';
import * as tf from '@tensorflow/tfjs';
import { linreg, sgd, squaredLoss } from '../../lib/linear';
import { nextSeed, permutation, seed } from '../../lib/random';


const live = useLibBackend();


describe('linreg', () => {
  it('computes Xw + b', () => {
    const X = tf.tensor2d([[1, 2], [3, 4]]);
    const w = tf.tensor2d([[1], [2]]);
    const y = linreg(X, w, tf.tensor1d([0.5]));
    expect(y.shape).toEqual([2, 1]);
    expect(values(y)).toEqual([5.5, 11.5]);
    expect(values(linreg(X, w, 1))).toEqual([6, 12]);
    expect(values(linreg(X, tf.tensor2d([[1, 0], [0, 1]]), tf.tensor1d([10, 20])))).toEqual([11, 22, 13, 24]);
    tf.dispose([X, w, y]);
  });

  it('leaves no intermediate tensors', () => {
    const X = tf.ones([4, 3]);
    const w = tf.ones([3, 1]);
    const b = tf.zeros([1]);
    const before = tf.memory().numTensors;
    const y = linreg(X, w, b);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([X, w, b, y]);
  });

  it('names the expected and actual shapes on a mismatch', () => {
    const X = tf.ones([4, 3]);
    expect(() => linreg(tf.ones([3]), tf.ones([3, 1]), 0)).toThrow(/linreg: expected X of shape \[n, k\], got shape \[3\]/);
    expect(() => linreg(X, tf.ones([2, 1]), 0)).toThrow(/expected w of shape \[3, m\].*got \[2, 1\]/);
    expect(() => linreg(X, tf.ones([3]), 0)).toThrow(/expected w of shape \[3, m\], got shape \[3\]/);
    expect(() => linreg(X, tf.ones([3, 1]), tf.ones([2]))).toThrow(/expected b of shape \[\], \[1\], \[1\] or \[1, 1\].*got \[2\]/);
    expect(() => linreg(X, tf.ones([3, 1]), NaN)).toThrow(/finite number/);
    expect(() => linreg('x' as unknown as tf.Tensor, tf.ones([3, 1]), 0)).toThrow(/expected X to be a tf.Tensor/);
    X.dispose();
  });
});

describe('squaredLoss', () => {
  it('is ½(ŷ − y)² per example, unreduced, in ŷ\'s shape', () => {
    const yHat = tf.tensor2d([[1], [2], [3]]);
    const y = tf.tensor1d([1.5, 2, 1]); // reshaped to [3, 1] as in d2l
    const l = squaredLoss(yHat, y);
    expect(l.shape).toEqual([3, 1]);
    expect(values(l)).toEqual([0.125, 0, 2]);
    tf.dispose([yHat, y, l]);
  });

  it('rejects targets that cannot take ŷ\'s shape', () => {
    const yHat = tf.ones([3, 1]);
    expect(() => squaredLoss(yHat, tf.ones([4]))).toThrow(/squaredLoss: y of shape \[4\] cannot be reshaped to yHat's shape \[3, 1\]/);
    yHat.dispose();
  });
});

describe('sgd', () => {
  it('applies param -= lr * grad / batchSize with grads as an array', () => {
    const w = tf.variable(tf.tensor1d([1, 2]));
    const b = tf.variable(tf.tensor1d([0.5]));
    const gw = tf.tensor1d([2, 4]);
    const gb = tf.tensor1d([1]);
    const before = tf.memory().numTensors;
    sgd([w, b], [gw, gb], 0.1, 2);
    expect(tf.memory().numTensors).toBe(before);
    const wv = values(w), bv = values(b);
    expect(wv[0]).toBeCloseTo(0.9, 6);
    expect(wv[1]).toBeCloseTo(1.8, 6);
    expect(bv[0]).toBeCloseTo(0.45, 6);
    expect(gw.isDisposed).toBe(false); // the caller owns the gradients
    tf.dispose([w, b, gw, gb]);
  });

  it('takes the map tf.variableGrads returns', () => {
    const w = tf.variable(tf.tensor2d([[1], [-1]]));
    const b = tf.variable(tf.scalar(0));
    const X = tf.tensor2d([[1, 2], [3, 4]]);
    const y = tf.tensor2d([[0], [0]]);
    // loss = Σ ½(Xw + b − y)²: residuals r = [-1, -1]; dL/dw = Xᵀr = [-4, -6], dL/db = Σr = -2
    const { value, grads } = tf.variableGrads(() => tf.sum(squaredLoss(linreg(X, w, b), y)) as tf.Scalar, [w, b]);
    expect(value.dataSync()[0]).toBeCloseTo(1, 6);
    sgd([w, b], grads, 0.5, 2);
    const wv = values(w);
    expect(wv[0]).toBeCloseTo(2, 6);
    expect(wv[1]).toBeCloseTo(0.5, 6);
    expect(values(b)[0]).toBeCloseTo(0.5, 6);
    tf.dispose([w, b, X, y, value, grads]);
  });

  it('rejects lr ≤ 0, batchSize ≤ 0 and bad gradients', () => {
    const w = tf.variable(tf.zeros([2]), true, 'sgd_test_w');
    const g = [tf.ones([2])];
    for (const lr of [0, -0.1, NaN, Infinity]) {
      expect(() => sgd([w], g, lr, 1)).toThrow(/sgd: expected lr to be a positive finite number/);
    }
    for (const bs of [0, -3, 2.5]) {
      expect(() => sgd([w], g, 0.1, bs)).toThrow(/sgd: expected batchSize to be a positive integer/);
    }
    expect(() => sgd([w], [tf.ones([3])], 0.1, 1)).toThrow(/gradient of 'sgd_test_w' has shape \[3\], expected the param's shape \[2\]/);
    expect(() => sgd([w], {}, 0.1, 1)).toThrow(/no gradient for variable 'sgd_test_w'/);
    expect(() => sgd([w], [], 0.1, 1)).toThrow(/expected 1 gradients/);
    expect(() => sgd([tf.ones([2]) as tf.Variable], g, 0.1, 1)).toThrow(/params\[0\] to be a tf.Variable/);
    expect(values(w)).toEqual([0, 0]); // nothing applied
    tf.dispose([w, ...g]);
  });
});

describe('lecture 08 scratch training loop', () => {
  it('reaches the noise floor (loss ≈ σ²/2 = 5e-5) with lr 0.03, batch 10, 3 epochs', () => {
    seed(0);
    const n = 1000;
    const trueW = tf.tensor2d([[2], [-3.4]]);
    const features = tf.randomNormal([n, 2], 0, 1, 'float32', nextSeed()) as tf.Tensor2D;
    const labels = tf.tidy(() => tf.add(linreg(features, trueW, 4.2), tf.randomNormal([n, 1], 0, 0.01, 'float32', nextSeed())));
    live.push(trueW, features, labels);
    const w = tf.variable(tf.randomNormal([2, 1], 0, 0.01, 'float32', nextSeed()));
    const b = tf.variable(tf.zeros([1]));
    const start = tf.memory().numTensors;
    const lr = 0.03, batchSize = 10;
    const losses: number[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      const order = permutation(n);
      for (let s = 0; s < n; s += batchSize) {
        const idx = tf.tensor1d(order.slice(s, s + batchSize), 'int32');
        const X = tf.gather(features, idx), y = tf.gather(labels, idx);
        const { value, grads } = tf.variableGrads(() => tf.sum(squaredLoss(linreg(X, w, b), y)) as tf.Scalar, [w, b]);
        sgd([w, b], grads, lr, batchSize);
        tf.dispose([idx, X, y, value, grads]);
      }
      losses.push(tf.tidy(() => tf.mean(squaredLoss(linreg(features, w, b), labels)).dataSync()[0]));
    }
    expect(tf.memory().numTensors).toBe(start);
    expect(losses[2]).toBeGreaterThan(2e-5);
    expect(losses[2]).toBeLessThan(1e-4);
    const wErr = values(tf.tidy(() => tf.sub(trueW, w)));
    expect(Math.max(...wErr.map(Math.abs))).toBeLessThan(2e-3);
    expect(Math.abs(4.2 - values(b)[0])).toBeLessThan(2e-3);
    tf.dispose([w, b]);
  });
});
