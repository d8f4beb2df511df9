/** Test helper: a DataIter over in-memory tensors (each batch a fresh gather, owned by the consumer). */
import * as tf from '@tensorflow/tfjs';
import type { Batch, DataIter } from '../../lib/data';
import { permutation } from '../../lib/random';

export function tensorIter(X: tf.Tensor, y: tf.Tensor, batchSize: number, shuffle = false): DataIter {
  const n = X.shape[0];
  return {
    numExamples: n,
    batchSize,
    numBatches: Math.ceil(n / batchSize),
    *[Symbol.iterator]() {
      const order = shuffle ? permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
      for (let s = 0; s < n; s += batchSize) {
        const idx = order.slice(s, Math.min(s + batchSize, n));
        yield tf.tidy(() => {
          const i = tf.tensor1d(idx, 'int32');
          return [tf.gather(X, i), tf.gather(y, i)] as Batch;
        });
      }
    },
  };
}
