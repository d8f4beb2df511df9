/**
 * `console.log(tensor)` and `util.inspect` of a value holding tensors should read like PyTorch's `print(X)`,
 * not dump tfjs internals. The lib teaches this to `tf.Tensor` from its first import; the kernel teaches it to
 * any tensor class it meets in a result (a tfjs copy the lib did not load). One hook for both.
 * @module
 */
import { inspect } from 'util';
import { formatTensor, type TensorLike } from './tensor-format';

/** Gives a tensor prototype a util.inspect hook with the PyTorch-style text. Idempotent. */
export function installTensorInspect(proto: object): void {
  if (Object.prototype.hasOwnProperty.call(proto, inspect.custom)) return;
  Object.defineProperty(proto, inspect.custom, {
    value(this: TensorLike) { return formatTensor(this); },
    configurable: true,
  });
}
