/**
 * `console.log(tensor)` (PyTorch's `print(X)`) should read like PyTorch, not dump tfjs internals. The kernel
 * teaches this to tensor classes it displays; the lib does it for every tensor from the first import on.
 */
import * as tf from '@tensorflow/tfjs';
import { inspect } from 'util';
import { formatTensor } from '../../common/tensor-format';

/** Gives tf.Tensor (and so tf.Variable) a util.inspect hook with the PyTorch-style text. Idempotent. */
export function installTensorInspect(): void {
  const proto = tf.Tensor.prototype as unknown as Record<symbol, unknown>;
  if (Object.prototype.hasOwnProperty.call(proto, inspect.custom)) return;
  Object.defineProperty(proto, inspect.custom, {
    value(this: tf.Tensor) { return formatTensor(this as any); },
    configurable: true,
  });
}
