/**
 * Reproducibility: one seed for every random source the lib and notebooks use (parameter init,
 * shuffling, dropout masks, synthetic data). d2l never seeds, so its numbers change on every run; ours don't.
 *
 * tfjs random ops take an explicit integer seed, so we hand out a deterministic sequence of them
 * (`nextSeed()`), and shuffles use a seeded JS generator (`random()`).
 */
import { ArgumentError } from './args';

/** The seed applied on import (and announced by the lib). */
export const DEFAULT_SEED = 42;

const STATE_KEY = Symbol.for('d2l-ts.random');
const MATH_KEY = Symbol.for('d2l-ts.random.math');
interface RandomState { seed: number; s: number; }
// One state per process even if the module is loaded twice (notebook + lib copies).
const state: RandomState = ((globalThis as any)[STATE_KEY] ??= { seed: DEFAULT_SEED, s: DEFAULT_SEED >>> 0 });

/**
 * Seeds every random source: later calls of {@link nextSeed} and {@link random} repeat exactly.
 * @param n a non-negative integer
 * @example d2l.seed(0)
 */
export function seed(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`seed: expected a non-negative integer, got ${n}`);
  state.seed = n;
  state.s = n >>> 0;
  seedMathRandom(n);
}

/**
 * tfjs draws from `Math.random` wherever no seed is given — `tf.layers.dropout` masks (a fixed layer seed
 * would repeat one mask on every batch), default initializers, `tf.randomUniform()` without a seed. We replace
 * it with a seeded generator of its own (separate from {@link nextSeed}'s stream, so code that uses both stays
 * reproducible), re-seeded by {@link seed}.
 */
function seedMathRandom(n: number): void {
  Math.random = createRng((n ^ 0x9e3779b9) >>> 0);
}

/** The seed set last (by {@link seed} or the default). */
export function currentSeed(): number {
  return state.seed;
}

/** mulberry32: a small, fast, well-mixed 32-bit generator. One step: the new state and a float in [0, 1). */
function mulberry32(s: number): [number, number] {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [s, ((t ^ (t >>> 14)) >>> 0) / 4294967296];
}

/** The seeded global stream: a float in [0, 1). Repeats after {@link seed}. */
export function random(): number {
  const [s, v] = mulberry32(state.s);
  state.s = s;
  return v;
}

/** An independent generator of floats in [0, 1) with its own seed (test data, local shuffles). */
export function createRng(seedValue: number): () => number {
  let s = seedValue >>> 0;
  return () => {
    const [next, v] = mulberry32(s);
    s = next;
    return v;
  };
}

/** The next integer seed for a tfjs random op (`tf.randomNormal(shape, 0, 1, 'float32', d2l.nextSeed())`). */
export function nextSeed(): number {
  return Math.floor(random() * 2147483647);
}

/** A seeded random permutation of 0..n-1 (Fisher–Yates), used to shuffle examples each epoch. */
export function permutation(n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

// The default seed covers Math.random from the first import on (see seedMathRandom); only once per process.
if (!(globalThis as any)[MATH_KEY]) {
  (globalThis as any)[MATH_KEY] = true;
  seedMathRandom(state.seed);
}
