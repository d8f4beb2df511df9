/**
 * Shape cases that the speed fixes for native TF (./fast-ops) and wasm (./wasm-kernels) both recognise, so the
 * two backends take their fast paths on exactly the same inputs.
 * @module
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Whether a pool's windows tile its input: window = stride, no padding, nothing left over (LeNet's 2×2/2 pools).
 * Then every input position belongs to exactly one window.
 */
export function windowsTileInput(ci: tf.backend_util.Conv2DInfo): boolean {
  return ci.filterHeight === ci.strideHeight && ci.filterWidth === ci.strideWidth && ci.padInfo.top === 0 &&
    ci.padInfo.left === 0 && ci.outHeight * ci.strideHeight === ci.inHeight && ci.outWidth * ci.strideWidth === ci.inWidth;
}

/** Whether `axis` names every axis of `shape` but the last (what a bias gradient sums over). Rank ≥ 2 only. */
export function reducesLeadingAxes(axis: number | number[], shape: number[]): boolean {
  const r = shape.length;
  if (r < 2) return false;
  const axes = tf.util.parseAxisParam(axis, shape).sort((p, q) => p - q);
  return axes.length === r - 1 && axes.every((a, i) => a === i);
}
