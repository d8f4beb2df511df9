// lib/classify.ts: lecture 09's softmax, crossEntropy, accuracy (a count), evaluateAccuracy, predictCh3,
// the concise softmaxCrossEntropy, and lecture 11's evaluateLoss — the book's small examples computed by
// hand, both kinds of net (function / tfjs model), shape errors, and no leaked tensors.
import { beforeAll, describe, expect, it } from 'vitest';
import { useLibBackend, values } from '../helpers/lib-setup';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../lib/random';
import {
  accuracy, correctCount, crossEntropy, evaluateAccuracy, evaluateLoss, predictCh3, softmax, softmaxCrossEntropy,
} from '../../lib/classify';
import type { DataIter } from '../../lib/data';
import { MIMEBUNDLE } from '../../lib/display/output';
import { squaredLoss } from '../../lib/linear';

import { tensorIter } from '../helpers/tensor-iter';


const live = useLibBackend();



describe('softmax', () => {
  it('normalises each row with exp', () => {
    const X = tf.tensor2d([[0, Math.log(2)], [1, 1]]);
    const p = softmax(X);
    const v = values(p);
    expect(v[0]).toBeCloseTo(1 / 3, 6);
    expect(v[1]).toBeCloseTo(2 / 3, 6);
    expect(v[2]).toBeCloseTo(0.5, 6);
    tf.dispose([X, p]);
  });

  it('gives rows that sum to 1, leaving one tensor', () => {
    const X = tf.randomNormal([2, 5], 0, 1, 'float32', 7);
    const before = tf.memory().numTensors;
    const p = softmax(X);
    expect(tf.memory().numTensors).toBe(before + 1);
    const sums = values(tf.tidy(() => tf.sum(p, 1)));
    for (const s of sums) expect(s).toBeCloseTo(1, 6);
    expect(values(p).every((x) => x > 0)).toBe(true);
    tf.dispose([X, p]);
  });

  it('wants [n, q]', () => {
    expect(() => softmax(tf.ones([5]))).toThrow(/softmax: expected X of shape \[n, q\], got shape \[5\]/);
  });
});

describe('crossEntropy', () => {
  it('is −log ŷ[y] per example (the book: [2.3026, 0.6931])', () => {
    const yHat = tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]);
    const y = tf.tensor1d([0, 2], 'int32');
    const l = crossEntropy(yHat, y);
    expect(l.shape).toEqual([2]);
    const v = values(l);
    expect(v[0]).toBeCloseTo(2.3026, 4);
    expect(v[1]).toBeCloseTo(0.6931, 4);
    tf.dispose([yHat, y, l]);
  });

  it('names the expected and actual shapes', () => {
    const yHat = tf.ones([2, 3]);
    expect(() => crossEntropy(yHat, tf.tensor1d([0, 1, 2], 'int32'))).toThrow(/crossEntropy: expected y of shape \[2\].*got \[3\]/);
    expect(() => crossEntropy(yHat, tf.ones([2, 1]))).toThrow(/expected y of shape \[2\], got shape \[2, 1\]/);
    expect(() => crossEntropy(tf.ones([3]), tf.ones([3]))).toThrow(/expected yHat of shape \[n, q\], got shape \[3\]/);
    yHat.dispose();
  });
});

describe('softmaxCrossEntropy (logits)', () => {
  it('equals crossEntropy(softmax(logits)) and stays finite for huge logits', () => {
    const logits = tf.tensor2d([[0, 0, 0], [1, 2, 3], [1000, 0, -1000]]);
    const y = tf.tensor1d([1, 2, 1], 'int32');
    const l = values(softmaxCrossEntropy(logits, y));
    expect(l[0]).toBeCloseTo(Math.log(3), 5);
    const ref = values(tf.tidy(() => crossEntropy(softmax(tf.slice(logits, 0, 2)), tf.slice(y, 0, 2))));
    expect(l[1]).toBeCloseTo(ref[1], 5);
    expect(l[2]).toBeCloseTo(1000, 2); // naive softmax + log would give Infinity/NaN here
    tf.dispose([logits, y]);
  });

  it("value and gradient equal tf.losses.softmaxCrossEntropy's (int and float labels), no tensors left", () => {
    const r = createRng(3);
    const logits = tf.tensor2d(Array.from({ length: 5 * 4 }, () => 6 * r() - 3), [5, 4]);
    const w = tf.tensor1d([0.5, -1, 2, 1, 0.25]); // a weighted sum, so dy is not all ones
    const before = tf.memory().numTensors;
    for (const y of [tf.tensor1d([0, 3, 1, 1, 2], 'int32'), tf.tensor1d([0, 3, 1, 1, 2])]) {
      const ours = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(softmaxCrossEntropy(x, y), w)) as tf.Scalar)(logits);
      const ref = tf.valueAndGrad((x: tf.Tensor) => tf.sum(tf.mul(tf.losses.softmaxCrossEntropy(
        tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, 4), x, undefined, undefined, tf.Reduction.NONE), w)) as tf.Scalar)(logits);
      expect(ours.value.dataSync()[0]).toBeCloseTo(ref.value.dataSync()[0], 5);
      const g = ours.grad.dataSync(), gr = ref.grad.dataSync();
      for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(gr[i], 6);
      tf.dispose([y, ours.value, ours.grad, ref.value, ref.grad]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, w]);
  });
});

describe('accuracy', () => {
  it('returns a COUNT of correct argmax predictions (the book: 1, i.e. 0.5 of 2)', () => {
    const yHat = tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]);
    const y = tf.tensor1d([0, 2], 'int32');
    const before = tf.memory().numTensors;
    expect(accuracy(yHat, y)).toBe(1);
    expect(accuracy(yHat, y) / y.shape[0]).toBe(0.5);
    expect(tf.memory().numTensors).toBe(before);
    expect(accuracy(yHat, tf.tensor1d([2, 2]))).toBe(2); // float labels work too
    tf.dispose([yHat, y]);
  });

  it('compares elementwise when ŷ is not [n, q > 1] (lecture 11 regression)', () => {
    const yHat = tf.tensor2d([[1.2], [2.9], [-0.5]]);
    const y = tf.tensor2d([[1], [3], [0]], undefined, 'int32');
    expect(accuracy(yHat, y)).toBe(2); // cast to int32 truncates: [1, 2, 0]
    tf.dispose([yHat, y]);
  });

  it('correctCount stays on the device as a scalar', () => {
    const c = correctCount(tf.tensor2d([[1, 0], [0, 1]]), tf.tensor1d([0, 0], 'int32'));
    expect(c.shape).toEqual([]);
    expect(c.dataSync()[0]).toBe(1);
    c.dispose();
  });

  it('names the expected and actual shapes', () => {
    expect(() => accuracy(tf.ones([4, 3]), tf.ones([3]))).toThrow(/accuracy: expected y of shape \[4\].*got \[3\]/);
    expect(() => accuracy(tf.ones([4, 1]), tf.ones([3]))).toThrow(/as many elements as yHat \[4, 1\].*got \[3\]/);
  });
});

describe('evaluateAccuracy and evaluateLoss', () => {
  // 10 examples, 2 features; label = (x0 > x1); a fixed net that predicts exactly that except example 9.
  let X: tf.Tensor2D, y: tf.Tensor1D;
  beforeAll(() => {
    X = tf.tensor2d(Array.from({ length: 10 }, (_, i) => [i, 4.5]));
    y = tf.tensor1d(Array.from({ length: 10 }, (_, i) => (i > 4.5 ? 1 : 0)), 'int32');
    live.push(X, y);
  });

  it('evaluates a function net in evaluation mode over all batches (partial last batch)', () => {
    const modes: (boolean | undefined)[] = [];
    const net = (x: tf.Tensor, training?: boolean) => {
      modes.push(training);
      return tf.tidy(() => {
        const d = tf.sub(tf.slice(x, [0, 0], [-1, 1]), tf.slice(x, [0, 1], [-1, 1]));
        const wrong = tf.cast(tf.equal(tf.slice(x, [0, 0], [-1, 1]), 9), 'float32');
        const s = tf.sub(d, tf.mul(wrong, 100)); // example 9 flips
        return tf.concat([tf.neg(s), s], 1);
      });
    };
    const before = tf.memory().numTensors;
    expect(evaluateAccuracy(net, tensorIter(X, y, 4))).toBeCloseTo(0.9, 6);
    expect(tf.memory().numTensors).toBe(before);
    expect(modes).toEqual([false, false, false]);
  });

  it('evaluates a tfjs model with dropout switched off', () => {
    const model = tf.sequential({
      layers: [tf.layers.dropout({ rate: 0.9, inputShape: [2] }), tf.layers.dense({ units: 2, kernelInitializer: 'ones' })],
    });
    const before = tf.memory().numTensors;
    const a = evaluateAccuracy(model, tensorIter(X, y, 3));
    expect(evaluateAccuracy(model, tensorIter(X, y, 3))).toBe(a); // deterministic: no dropout
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('evaluateLoss averages an unreduced loss, reshaping y to the output (lecture 11)', () => {
    const Xr = tf.tensor2d([[1], [2], [3], [4], [5]]);
    const yr = tf.tensor1d([1, 2, 3, 4, 6]);
    const net = (x: tf.Tensor) => tf.mul(x, 1);
    const before = tf.memory().numTensors;
    // ½·(0 + 0 + 0 + 0 + 1) / 5 = 0.1
    expect(evaluateLoss(net, tensorIter(Xr, yr, 2), squaredLoss)).toBeCloseTo(0.1, 6);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => evaluateLoss(net, tensorIter(Xr, yr, 2), 3 as unknown as typeof squaredLoss)).toThrow(/expected loss to be a function/);
    tf.dispose([Xr, yr]);
  });

  it('rejects what is not a net or a DataIter', () => {
    expect(() => evaluateAccuracy({} as never, tensorIter(X, y, 4))).toThrow(/evaluateAccuracy: expected net to be a function/);
    expect(() => evaluateAccuracy((x) => x, [] as unknown as DataIter)).toThrow(/expected dataIter to be a DataIter/);
  });
});

describe('predictCh3', () => {
  it('titles the first n test images "true\\npred" with Fashion-MNIST labels and shows them as a grid', () => {
    const images = tf.tidy(() => tf.div(tf.range(0, 8 * 4 * 4), 128).reshape([8, 4, 4, 1]));
    const labels = tf.tensor1d([9, 2, 1, 1, 6, 1, 4, 6], 'int32');
    live.push(images, labels);
    // a fixed net: right on images 0, 2, 4, wrong on 1, 3, 5
    const preds = [9, 0, 1, 2, 6, 2, 4, 7];
    const net = (x: tf.Tensor) => tf.oneHot(tf.tensor1d(preds.slice(0, x.shape[0]), 'int32'), 10);
    const before = tf.memory().numTensors;
    const p = predictCh3(net, tensorIter(images, labels, 8));
    expect(tf.memory().numTensors).toBe(before);
    expect(p.titles).toEqual([
      'ankle boot\nankle boot', 'pullover\nt-shirt', 'trouser\ntrouser', 'trouser\npullover', 'shirt\nshirt', 'trouser\npullover',
    ]);
    expect(p.grid.length).toBe(6);
    expect(p.grid.numRows).toBe(1);
    expect(p.grid.numCols).toBe(6);
    const bundle = p[MIMEBUNDLE]() as Record<string, unknown>;
    expect(typeof bundle['image/png']).toBe('string');
    expect(String(bundle['text/html'])).toContain('ankle boot<br>ankle boot');
    expect(predictCh3(net, tensorIter(images, labels, 8), 3).preds).toEqual(['ankle boot', 't-shirt', 'trouser']);
    expect(() => predictCh3(net, tensorIter(images, labels, 4), 6)).toThrow(/n = 6 is larger than the first batch \(4 examples\)/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
