/**
 * Argument checks shared by every helper, so each helper's body can stay the book's few lines of math.
 *
 * One convention for a bad argument across the lib: an {@link ArgumentError} whose message reads
 * `fn: expected X, got Y` — the helper's name, what it needed, and what it was given (`describe`), e.g.
 * `trainCh3: expected numEpochs to be a positive integer, got number 0.5`.
 * @module
 */
import * as tf from '@tensorflow/tfjs';

/**
 * A helper was called with an argument it cannot use. A `TypeError` (as JavaScript's own argument errors are),
 * named so a traceback says it comes from a d2l helper's check.
 */
export class ArgumentError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}

/** `fn: expected <expected>, got <what v is>`. */
export function argError(fn: string, expected: string, v: unknown): ArgumentError {
  return new ArgumentError(`${fn}: expected ${expected}, got ${describe(v)}`);
}

/** `[2, 3]` → `'[2, 3]'`, for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A short description of a bad argument, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof tf.Tensor) return `a ${v.dtype} tensor of shape ${fmtShape(v.shape)}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'Object'})`;
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

/** Throws unless `v` is a live tensor; `rank` (a number or a list) restricts its rank. */
export function checkTensor(fn: string, name: string, v: unknown, rank?: number | number[], expected?: string): asserts v is tf.Tensor {
  if (!(v instanceof tf.Tensor)) throw argError(fn, `${name} to be a tf.Tensor${expected ? ` of shape ${expected}` : ''}`, v);
  if (v.isDisposed) throw new ArgumentError(`${fn}: expected ${name} to be a live tensor, got a disposed tensor`);
  if (rank !== undefined) {
    const ranks = Array.isArray(rank) ? rank : [rank];
    if (!ranks.includes(v.rank)) {
      const what = expected ?? ranks.map((r) => `${r}-D`).join(' or ');
      throw new ArgumentError(`${fn}: expected ${name} of shape ${what}, got shape ${fmtShape(v.shape)}`);
    }
  }
}

export function checkPositiveInt(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw argError(fn, `${name} to be a positive integer`, v);
}

export function checkPositiveNumber(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw argError(fn, `${name} to be a positive finite number`, v);
}
