// lib/data.ts: syntheticData (lecture 08 scratch) and loadArray / DataIter (lecture 08 concise):
// shapes, the noise level, the per-epoch seeded shuffle, the last partial batch, tensor ownership
// (no leaks) and the input errors.
import { describe, expect, it } from 'vitest';
import { useLibBackend } from '../helpers/lib-setup';
import * as tf from '@tensorflow/tfjs';
import { loadArray, syntheticData, type Batch, type DataIter } from '../../lib/data';
import { seed } from '../../lib/random';


/** Rows of a 2-D tensor as JS arrays. */
function rows(t: tf.Tensor): number[][] {
  return t.arraySync() as number[][];
}

/** One epoch: the batches' data as JS arrays, every batch tensor disposed. */
function epoch(it: DataIter): { x: number[][]; y: number[]; sizes: number[] } {
  const out = { x: [] as number[][], y: [] as number[], sizes: [] as number[] };
  for (const [X, y] of it) {
    out.sizes.push(X.shape[0]);
    out.x.push(...rows(X));
    out.y.push(...(y.dataSync() as unknown as number[]));
    tf.dispose([X, y]);
  }
  return out;
}

/** features[i] = [i, 2i + 0.5], labels[i] = i: every row says which example it is. */
function indexed(n: number): [tf.Tensor2D, tf.Tensor1D] {
  const f = tf.tensor2d(Array.from({ length: n }, (_, i) => [i, 2 * i + 0.5]));
  const l = tf.tensor1d(Array.from({ length: n }, (_, i) => i), 'int32');
  return [f, l];
}

useLibBackend();

describe('syntheticData', () => {
  it('returns X [n, len(w)] and y [n, 1] with y = Xw + b + N(0, 0.01²)', () => {
    seed(0);
    const before = tf.memory().numTensors;
    const [X, y] = syntheticData([2, -3.4], 4.2, 5000);
    expect(tf.memory().numTensors - before).toBe(2); // nothing but the two results
    expect(X.shape).toEqual([5000, 2]);
    expect(y.shape).toEqual([5000, 1]);
    expect([X.dtype, y.dtype]).toEqual(['float32', 'float32']);
    const stats = tf.tidy(() => {
      const resid = tf.sub(y, tf.add(tf.matMul(X, tf.tensor2d([[2], [-3.4]])), 4.2));
      const m = tf.moments(resid);
      const mx = tf.moments(X, 0);
      return { rMean: m.mean.dataSync()[0], rStd: Math.sqrt(m.variance.dataSync()[0]),
        xMean: Array.from(mx.mean.dataSync()), xStd: Array.from(mx.variance.dataSync(), Math.sqrt) };
    });
    expect(stats.rStd).toBeGreaterThan(0.009);
    expect(stats.rStd).toBeLessThan(0.011);
    expect(Math.abs(stats.rMean)).toBeLessThan(0.001);
    for (const v of stats.xMean) expect(Math.abs(v)).toBeLessThan(0.06);
    for (const v of stats.xStd) expect(Math.abs(v - 1)).toBeLessThan(0.05);
    tf.dispose([X, y]);
  });

  it('accepts a 1-D tensor w and repeats exactly after seed(n)', () => {
    const w = tf.tensor1d([1, 2, 3]);
    seed(7);
    const [X1, y1] = syntheticData(w, 0.5, 20);
    seed(7);
    const [X2, y2] = syntheticData([1, 2, 3], 0.5, 20);
    expect(X1.shape).toEqual([20, 3]);
    expect(Array.from(X1.dataSync())).toEqual(Array.from(X2.dataSync()));
    expect(Array.from(y1.dataSync())).toEqual(Array.from(y2.dataSync()));
    const [X3] = syntheticData([1, 2, 3], 0.5, 20); // the stream moved on
    expect(Array.from(X3.dataSync())).not.toEqual(Array.from(X1.dataSync()));
    expect(w.isDisposed).toBe(false); // the caller's w is left alone
    tf.dispose([w, X1, y1, X2, y2, X3]);
  });

  it('rejects bad arguments, naming what was expected', () => {
    const w2d = tf.zeros([2, 1]);
    expect(() => syntheticData([], 1, 10)).toThrow(/non-empty array/);
    expect(() => syntheticData(w2d, 1, 10)).toThrow(/1-D tensor, got shape \[2, 1\]/);
    expect(() => syntheticData([1, NaN], 1, 10)).toThrow(/finite numbers/);
    expect(() => syntheticData([1], Number.NaN, 10)).toThrow(/b to be a finite number/);
    expect(() => syntheticData([1], 1, 0)).toThrow(/numExamples to be a positive integer, got number 0/);
    expect(() => syntheticData([1], 1, 2.5)).toThrow(/positive integer, got number 2.5/);
    w2d.dispose();
  });
});

describe('loadArray', () => {
  it('yields [B, ...] batches of the input dtypes, the last one partial (drop_last=False)', () => {
    const [f, l] = indexed(25);
    const it = loadArray([f, l], 10, false);
    expect([it.numExamples, it.batchSize, it.numBatches]).toEqual([25, 10, 3]);
    const shapes: number[][][] = [];
    const dtypes: string[][] = [];
    for (const [X, y] of it) {
      shapes.push([X.shape, y.shape]);
      dtypes.push([X.dtype, y.dtype]);
      tf.dispose([X, y]);
    }
    expect(shapes).toEqual([[[10, 2], [10]], [[10, 2], [10]], [[5, 2], [5]]]);
    expect(dtypes.every(([a, b]) => a === 'float32' && b === 'int32')).toBe(true);
    tf.dispose([f, l]);
  });

  it('keeps the order when isTrain is false', () => {
    const [f, l] = indexed(23);
    const e = epoch(loadArray([f, l], 4, false));
    expect(e.y).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(e.x).toEqual(Array.from({ length: 23 }, (_, i) => [i, 2 * i + 0.5]));
    expect(e.sizes).toEqual([4, 4, 4, 4, 4, 3]);
    tf.dispose([f, l]);
  });

  it('shuffles each epoch into a permutation, rows kept with their labels, reproducible after seed(n)', () => {
    const [f, l] = indexed(103);
    const it = loadArray([f, l], 16);
    seed(3);
    const a = epoch(it);
    const b = epoch(it);
    seed(3);
    const a2 = epoch(it);
    const identity = Array.from({ length: 103 }, (_, i) => i);
    expect([...a.y].sort((p, q) => p - q)).toEqual(identity); // a permutation: every example once
    expect(a.y).not.toEqual(identity); // actually shuffled
    expect(a.x).toEqual(a.y.map((i) => [i, 2 * i + 0.5])); // features travel with their label
    expect(b.y).not.toEqual(a.y); // a new order every epoch
    expect(a2.y).toEqual(a.y); // ... and the same orders again after seed(3)
    expect(a.sizes).toEqual([16, 16, 16, 16, 16, 16, 7]);
    tf.dispose([f, l]);
  });

  it('makes nothing but the batches the consumer disposes (no leak), and never gathers on the whole set', async () => {
    const [f, l] = indexed(1000);
    const it = loadArray([f, l], 64);
    const before = tf.memory().numTensors;
    let n = 0;
    for (const batch of it) {
      expect(tf.memory().numTensors).toBe(before + 2); // just this batch's X and y
      n += batch[0].shape[0];
      tf.dispose(batch);
    }
    expect(n).toBe(1000);
    expect(tf.memory().numTensors).toBe(before);
    for (const batch of it) { tf.dispose(batch); break; } // stopping early leaks nothing either
    expect(tf.memory().numTensors).toBe(before);
    // The kernels run for one epoch: no Gather over the data set, per batch or otherwise.
    const prof = await tf.profile(() => { for (const b of it) tf.dispose(b); });
    expect(prof.kernelNames.filter((k) => /gather/i.test(k))).toEqual([]);
    tf.dispose([f, l]);
  });

  it('reads the data once: later changes to (or disposal of) the inputs do not matter', () => {
    const [f, l] = indexed(5);
    const it = loadArray([f, l], 5, false);
    tf.dispose([f, l]);
    const e = epoch(it);
    expect(e.y).toEqual([0, 1, 2, 3, 4]);
  });

  it('accepts 1-D typed arrays: Float32Array → float32 [B], Int32Array/Uint8Array → int32 [B]', () => {
    const x = Float32Array.from([0.5, 1.5, 2.5, 3.5, 4.5]);
    const it = loadArray([x, Int32Array.from([0, 1, 2, 3, 4])], 2, false);
    x[4] = 100; // copied at construction, like a tensor's dataSync: later edits are not seen
    const got: Batch[] = [...it];
    expect(got.map(([X, y]) => [X.shape, X.dtype, y.shape, y.dtype])).toEqual([
      [[2], 'float32', [2], 'int32'], [[2], 'float32', [2], 'int32'], [[1], 'float32', [1], 'int32']]);
    expect(Array.from(got[2][0].dataSync())).toEqual([4.5]);
    tf.dispose(got);
    const u8: Batch[] = [...loadArray([x, Uint8Array.from([9, 8, 7, 6, 5])], 5, false)];
    expect(u8[0][1].dtype).toBe('int32');
    expect(Array.from(u8[0][1].dataSync())).toEqual([9, 8, 7, 6, 5]);
    tf.dispose(u8);
  });

  it('handles a batch size larger than the data set: one batch of everything', () => {
    const [f, l] = indexed(7);
    const it = loadArray([f, l], 100);
    expect(it.numBatches).toBe(1);
    expect(epoch(it).sizes).toEqual([7]);
    tf.dispose([f, l]);
  });

  it('rejects bad input with errors naming expected vs actual', () => {
    const [f, l] = indexed(6);
    const l5 = tf.tensor1d([1, 2, 3, 4, 5]);
    const empty = tf.zeros([0, 2]);
    const empty1 = tf.zeros([0]);
    const s = tf.scalar(1);
    expect(() => loadArray([f, l], 0)).toThrow(/batchSize to be a positive integer, got number 0/);
    expect(() => loadArray([f, l], -3)).toThrow(/positive integer, got number -3/);
    expect(() => loadArray([f, l], 2.5)).toThrow(/positive integer, got number 2.5/);
    expect(() => loadArray([f, l], Number.NaN)).toThrow(/positive integer/);
    expect(() => loadArray([f, l5], 2)).toThrow(/same number of examples, got 6 and 5/);
    expect(() => loadArray([empty, empty1], 2)).toThrow(/at least one example/);
    expect(() => loadArray([f] as unknown as [tf.Tensor, tf.Tensor], 2)).toThrow(/\[features, labels\] \(2 arrays\), got 1 array$/);
    expect(() => loadArray([f, l, l] as unknown as [tf.Tensor, tf.Tensor], 2)).toThrow(/got 3 arrays/);
    expect(() => loadArray([s, l], 2)).toThrow(/features to have a first axis of examples, got a scalar/);
    expect(() => loadArray([[1, 2], l] as unknown as [tf.Tensor, tf.Tensor], 2)).toThrow(/features to be a tf.Tensor.*got an array of length 2/);
    expect(() => loadArray([f, l], 2, 'yes' as unknown as boolean)).toThrow(/isTrain to be a boolean/);
    tf.dispose([f, l, l5, empty, empty1, s]);
  });
});
