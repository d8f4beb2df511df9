/**
 * `console.log(tensor)` (PyTorch's `print(X)`) should read like PyTorch, not dump tfjs internals. The kernel
 * teaches this to tensor classes it displays; the lib does it for every tensor from the first import on
 * (common/tensor-inspect.ts holds the one hook both use).
 */
import * as tf from '@tensorflow/tfjs';
import { installTensorInspect as installOn } from '../../common/tensor-inspect';

/** Gives tf.Tensor (and so tf.Variable) a util.inspect hook with the PyTorch-style text. Idempotent. */
export function installTensorInspect(): void {
  installOn(tf.Tensor.prototype);
}
