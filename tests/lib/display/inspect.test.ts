/**
 * lib/display/inspect.ts: console.log(tensor) reads like PyTorch from the first import of the lib on.
 */
import { describe, expect, it } from 'vitest';
import { inspect } from 'util';
import * as tf from '@tensorflow/tfjs';
import { installTensorInspect } from '../../../lib/display/inspect';

describe('installTensorInspect', () => {
  it('makes util.inspect (console.log) print tensors and variables PyTorch-style', async () => {
    await tf.setBackend('cpu');
    installTensorInspect();
    installTensorInspect(); // idempotent
    expect(inspect(tf.range(0, 3))).toBe('tensor([0., 1., 2.])');
    expect(inspect(tf.variable(tf.tensor1d([1, 2], 'int32')))).toBe('tensor([1, 2], dtype=int32)');
    expect(inspect({ w: tf.ones([2]) })).toBe('{ w: tensor([1., 1.]) }');
  });
});
