/**
 * lib/random.ts: one seed for every random source, including tfjs's unseeded ones (dropout masks).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/engine/backend';
import { createRng, nextSeed, permutation, random, seed } from '../../lib/random';

describe('seed', () => {
  beforeAll(async () => {
    process.env.D2L_BACKEND ??= 'cpu';
    await initBackend();
  });

  it('repeats nextSeed, random and permutation after seed(n)', () => {
    seed(7);
    const a = [nextSeed(), random(), ...permutation(10)];
    seed(7);
    expect([nextSeed(), random(), ...permutation(10)]).toEqual(a);
    seed(8);
    expect([nextSeed(), random(), ...permutation(10)]).not.toEqual(a);
  });

  it('seeds Math.random, so tfjs dropout masks repeat after seed(n) yet differ from batch to batch', () => {
    const masks = () => {
      const layer = tf.layers.dropout({ rate: 0.5 });
      return [0, 1, 2].map(() => tf.tidy(() => (layer.apply(tf.ones([64]), { training: true }) as tf.Tensor).arraySync()));
    };
    seed(3);
    const first = masks();
    seed(3);
    expect(masks()).toEqual(first);
    expect(first[1]).not.toEqual(first[0]); // a fresh mask for every call, not one fixed mask
  });

  it('rejects a bad seed and gives independent generators', () => {
    expect(() => seed(-1)).toThrow(/non-negative integer, got -1/);
    expect(() => seed(1.5)).toThrow(/non-negative integer/);
    const r1 = createRng(5), r2 = createRng(5);
    expect([r1(), r1()]).toEqual([r2(), r2()]);
  });
});
