/**
 * tfjs gradient-tape housekeeping the trainers need but a learner reading lib/train.ts should not meet.
 * @module
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Runs a gradient computation; if it throws (a shape error in the net or the loss), releases the tensors
 * tfjs saved on the gradient tape for the backward pass — tfjs itself only frees them after a successful
 * backward pass, so every failed step would otherwise leak them.
 */
export function withTapeCleanup<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    const state = (tf.engine() as unknown as { state?: { gradientDepth?: number; activeTape?: { saved?: tf.Tensor[] }[] | null } }).state;
    if (state && state.gradientDepth === 0 && Array.isArray(state.activeTape)) {
      for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
      state.activeTape = null;
    }
    throw err;
  }
}
