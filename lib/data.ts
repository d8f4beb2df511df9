/**
 * Data pipelines of lecture 08 (linear regression): d2l's `synthetic_data` and `load_array`, plus the
 * `DataIter` contract every data loader of the library follows (Fashion-MNIST's included).
 *
 * A `DataIter` is d2l's `DataLoader`: iterate it once per epoch; each batch is a pair of NEW tensors that
 * the consumer owns and disposes (`tf.dispose(batch)`, or make them inside `tf.tidy`). Iterating creates
 * nothing else on the tfjs engine, so an epoch leaks no tensors. The examples stay in JS typed arrays and
 * each batch is copied out of them — no `tf.gather` over the whole data set per batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { checkPositiveInt, describe, ArgumentError } from './args';
import { nextSeed, permutation } from './random';

/** Lecture 08: one minibatch `[X, y]`, both owned (and disposed) by the consumer. */
export type Batch = [tf.Tensor, tf.Tensor];

/**
 * d2l's `DataLoader` (lecture 08): iterable once per epoch, yields fresh {@link Batch}es.
 * `numBatches` is `ceil(numExamples / batchSize)`: the last, partial batch is kept (PyTorch's
 * `drop_last=False`).
 */
export interface DataIter extends Iterable<Batch> {
  readonly numExamples: number;
  readonly batchSize: number;
  readonly numBatches: number;
}

/** Lecture 08: data accepted by {@link loadArray}, a tensor (first axis = examples) or a 1-D typed array. */
export type ArrayData = tf.Tensor | Float32Array | Int32Array | Uint8Array;

/**
 * Lecture 08 (`synthetic_data`): `X ~ N(0, 1)` of shape `[numExamples, w.length]` and
 * `y = Xw + b + ε`, `ε ~ N(0, 0.01²)`, of shape `[numExamples, 1]`. Seeded through {@link nextSeed},
 * so `d2l.seed(n)` makes it repeat.
 * @param w true weights, a 1-D tensor or array (e.g. `[2, -3.4]`)
 * @param b true bias (e.g. `4.2`)
 * @param numExamples number of rows (d2l uses 1000)
 * @returns `[X, y]`; the caller owns both tensors
 * @example const [features, labels] = d2l.syntheticData([2, -3.4], 4.2, 1000);
 */
export function syntheticData(w: tf.Tensor | number[], b: number, numExamples: number): [tf.Tensor2D, tf.Tensor2D] {
  const fn = 'syntheticData';
  if (w instanceof tf.Tensor) {
    if (w.rank !== 1 || w.size === 0) {
      throw new ArgumentError(`${fn}: expected w to be a non-empty 1-D tensor, got shape [${w.shape.join(', ')}]`);
    }
    if (w.dtype !== 'float32' && w.dtype !== 'int32') {
      throw new ArgumentError(`${fn}: expected w of dtype float32 or int32, got ${w.dtype}`);
    }
  } else if (!Array.isArray(w) || w.length === 0 || !w.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new ArgumentError(`${fn}: expected w to be a non-empty array of finite numbers or a 1-D tensor, got ${describe(w)}`);
  }
  if (typeof b !== 'number' || !Number.isFinite(b)) throw new ArgumentError(`${fn}: expected b to be a finite number, got ${describe(b)}`);
  checkPositiveInt(fn, 'numExamples', numExamples);
  const k = w instanceof tf.Tensor ? w.size : w.length;
  return tf.tidy(() => {
    const wCol = tf.reshape(w instanceof tf.Tensor ? tf.cast(w, 'float32') : tf.tensor1d(w), [k, 1]);
    const X = tf.randomNormal([numExamples, k], 0, 1, 'float32', nextSeed()) as tf.Tensor2D;
    const noise = tf.randomNormal([numExamples, 1], 0, 0.01, 'float32', nextSeed());
    const y = tf.add(tf.add(tf.matMul(X, wCol), b), noise) as tf.Tensor2D;
    return [X, y];
  });
}

/**
 * Lecture 08 concise (`load_array`): a {@link DataIter} over `[features, labels]`, reshuffled every epoch
 * with {@link permutation} when `isTrain` (so `d2l.seed(n)` repeats the order), in order otherwise.
 *
 * The data is read once (`dataSync`, or a copy of a typed array) here; later changes to the inputs are
 * not seen, and disposing input tensors afterwards is safe. Batch shapes are `[B, ...rowShape]` with the input's dtype;
 * a 1-D typed array gives `[B]` (Float32Array → float32, Int32Array/Uint8Array → int32).
 * @param data `[features, labels]` with the same number of examples (first axis)
 * @param batchSize a positive integer; the last batch holds the remainder
 * @param isTrain shuffle each epoch (d2l's `shuffle=is_train`)
 * @example for (const [X, y] of d2l.loadArray([features, labels], 10)) { ...; tf.dispose([X, y]); }
 */
export function loadArray(data: [ArrayData, ArrayData], batchSize: number, isTrain = true): DataIter {
  const fn = 'loadArray';
  const given: unknown = data;
  if (!Array.isArray(given) || given.length !== 2) {
    throw new ArgumentError(`${fn}: expected data = [features, labels] (2 arrays), got ${
      Array.isArray(given) ? `${given.length} array${given.length === 1 ? '' : 's'}` : describe(given)}`);
  }
  checkPositiveInt(fn, 'batchSize', batchSize);
  if (typeof isTrain !== 'boolean') throw new ArgumentError(`${fn}: expected isTrain to be a boolean, got ${describe(isTrain)}`);
  const fields = data.map((d, i) => toField(fn, d, i === 0 ? 'features' : 'labels'));
  const n = fields[0].n;
  if (fields[1].n !== n) {
    throw new ArgumentError(`${fn}: features and labels must have the same number of examples, got ${n} and ${fields[1].n}`);
  }
  if (n === 0) throw new ArgumentError(`${fn}: expected at least one example, got empty data`);
  return createDataIter(n, batchSize, isTrain, (idx, start, end) =>
    [fields[0].batch(idx, start, end), fields[1].batch(idx, start, end)]);
}

/**
 * Lecture 08: the iteration engine behind {@link loadArray} (and lecture 09's `loadDataFashionMnist`); yields
 * `makeBatch(order, start, end)` for consecutive `[start, end)` windows of an example order, which is
 * `null` (0..n-1 in order) or a fresh seeded {@link permutation} per epoch when `shuffle`.
 * Tensors are only made inside `makeBatch`, when the consumer asks for the batch, so stopping early leaks
 * nothing. Validation is the caller's job.
 */
export function createDataIter(
  numExamples: number,
  batchSize: number,
  shuffle: boolean,
  makeBatch: (order: Int32Array | null, start: number, end: number) => Batch,
): DataIter {
  const numBatches = Math.ceil(numExamples / batchSize);
  return {
    numExamples,
    batchSize,
    numBatches,
    *[Symbol.iterator](): Iterator<Batch> {
      // Drawn when the epoch starts (first next()), from the global seeded stream.
      const order = shuffle ? permutation(numExamples) : null;
      for (let start = 0; start < numExamples; start += batchSize) {
        yield makeBatch(order, start, Math.min(start + batchSize, numExamples));
      }
    },
  };
}

// ----------------------------------------------------------------------------------------------------

type Values = Float32Array | Int32Array | Uint8Array;

/** One array of examples held as a flat typed array, able to copy rows out into a batch tensor. */
interface Field {
  n: number;
  batch(order: Int32Array | null, start: number, end: number): tf.Tensor;
}

function toField(fn: string, d: ArrayData, name: string): Field {
  let values: Values;
  let rowShape: number[];
  let dtype: 'float32' | 'int32' | 'bool';
  if (d instanceof tf.Tensor) {
    if (d.isDisposed) throw new ArgumentError(`${fn}: ${name} tensor is disposed`);
    if (d.rank === 0) throw new ArgumentError(`${fn}: expected ${name} to have a first axis of examples, got a scalar`);
    if (d.dtype !== 'float32' && d.dtype !== 'int32' && d.dtype !== 'bool') {
      throw new ArgumentError(`${fn}: expected ${name} of dtype float32, int32 or bool, got ${d.dtype}`);
    }
    dtype = d.dtype;
    values = d.dataSync() as Values; // the one and only read of the whole tensor
    rowShape = d.shape.slice(1);
  } else if (d instanceof Float32Array || d instanceof Int32Array || d instanceof Uint8Array) {
    dtype = d instanceof Float32Array ? 'float32' : 'int32';
    values = d instanceof Uint8Array ? Int32Array.from(d) : d.slice(); // a copy, like dataSync: later edits unseen
    rowShape = [];
  } else {
    throw new ArgumentError(`${fn}: expected ${name} to be a tf.Tensor, Float32Array, Int32Array or Uint8Array, got ${describe(d)}`);
  }
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const n = d instanceof tf.Tensor ? d.shape[0] : values.length;
  if (rowSize === 0 && n > 0) throw new ArgumentError(`${fn}: ${name} has empty rows (shape [${[n, ...rowShape].join(', ')}])`);
  const Ctor = values.constructor as new (len: number) => Values;
  return {
    n,
    batch(order, start, end) {
      const b = end - start;
      let out: Values;
      if (order === null) {
        out = values.slice(start * rowSize, end * rowSize); // a copy: the tensor must not alias our store
      } else {
        out = new Ctor(b * rowSize);
        if (rowSize === 1) {
          for (let i = 0; i < b; i++) out[i] = values[order[start + i]];
        } else {
          for (let i = 0; i < b; i++) {
            const r = order[start + i] * rowSize;
            out.set(values.subarray(r, r + rowSize), i * rowSize);
          }
        }
      }
      return tf.tensor(out, [b, ...rowShape], dtype);
    },
  };
}
