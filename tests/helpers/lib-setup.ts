/**
 * The preamble the lib's tests share: compute on the cpu backend unless `D2L_BACKEND` names another (the
 * reference backend; the engine tests compare the others with it), initialise it before the file's tests, and
 * free the tensors a file keeps alive across tests (`live.push(t)`) after them.
 */
import { afterAll, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';

process.env.D2L_BACKEND ??= 'cpu';

/** Call once at the top of a test file; returns the file's list of tensors to free at the end. */
export function useLibBackend(): tf.Tensor[] {
  const live: tf.Tensor[] = [];
  beforeAll(async () => {
    await initBackend();
  });
  afterAll(() => tf.dispose(live));
  return live;
}

/** A tensor's values as a plain array, for `toEqual` and `toBeCloseTo`. */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}
