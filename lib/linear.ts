/**
 * Lecture 08 (linear regression from scratch, `linear-regression-scratch.md`): d2l's `linreg`,
 * `squared_loss` and `sgd`.
 *
 * How `sgd` gets its gradients. PyTorch's `d2l.sgd(params, lr, batch_size)` reads `param.grad`, filled
 * by `l.sum().backward()`. tfjs variables have no `.grad`: gradients are return values
 * (`tf.variableGrads(f)` → `{value, grads}`, `grads` keyed by variable name). So `sgd` takes them as an
 * argument, exactly like d2l's TensorFlow flavour `d2l.sgd(params, grads, lr, batch_size)`:
 *
 * ```ts
 * const { value, grads } = tf.variableGrads(() => d2l.squaredLoss(d2l.linreg(X, w, b), y).sum() as tf.Scalar, [w, b]);
 * d2l.sgd([w, b], grads, lr, batchSize);   // grads: the map from variableGrads, or [dw, db]
 * tf.dispose([value, grads]);              // d2l's grad.zero_(): gradients are fresh tensors each step
 * ```
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { checkPositiveInt, checkPositiveNumber, checkTensor, describe, fmtShape, ArgumentError } from './args';

/**
 * Gradients for {@link sgd}: the `grads` map of `tf.variableGrads` (keyed by variable name) or an array
 * aligned with `params`.
 */
export type Grads = tf.NamedTensorMap | readonly tf.Tensor[];

/**
 * Lecture 08 (`linreg`): the linear model `Xw + b`.
 * @param X features `[n, k]`
 * @param w weights `[k, m]` (d2l: `[2, 1]`)
 * @param b bias: a scalar, `[1]`, `[m]` or `[1, m]`
 * @returns `[n, m]`
 */
export function linreg(X: tf.Tensor, w: tf.Tensor, b: tf.Tensor | number): tf.Tensor2D {
  const fn = 'linreg';
  checkTensor(fn, 'X', X, 2, '[n, k]');
  const k = X.shape[1];
  checkTensor(fn, 'w', w, 2, `[${k}, m]`);
  if (w.shape[0] !== k) throw new ArgumentError(`${fn}: expected w of shape [${k}, m] (X is ${fmtShape(X.shape)}), got ${fmtShape(w.shape)}`);
  const m = w.shape[1];
  if (typeof b !== 'number') {
    checkTensor(fn, 'b', b);
    const ok = b.size === 1 ? b.rank <= 2 : (b.rank === 1 && b.shape[0] === m) || (b.rank === 2 && b.shape[0] === 1 && b.shape[1] === m);
    if (!ok) throw new ArgumentError(`${fn}: expected b of shape [], [1], [${m}] or [1, ${m}] (w is ${fmtShape(w.shape)}), got ${fmtShape(b.shape)}`);
  } else if (!Number.isFinite(b)) {
    throw new ArgumentError(`${fn}: expected b to be a tensor or a finite number, got ${describe(b)}`);
  }
  return tf.tidy(() => tf.add(tf.matMul(X as tf.Tensor2D, w as tf.Tensor2D), b) as tf.Tensor2D);
}

/**
 * Lecture 08 (`squared_loss`): `(ŷ − y.reshape(ŷ.shape))² / 2` per example, NOT reduced (sum or average
 * it yourself; `sgd` divides by the batch size). Note the ½: `tf.losses.meanSquaredError` has none.
 * @param yHat predictions, any shape (d2l: `[n, 1]`)
 * @param y targets with as many elements as `yHat` (d2l: `[n, 1]` or `[n]`)
 * @returns a tensor of `yHat`'s shape
 */
export function squaredLoss(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const fn = 'squaredLoss';
  checkTensor(fn, 'yHat', yHat);
  checkTensor(fn, 'y', y);
  if (y.size !== yHat.size) {
    throw new ArgumentError(`${fn}: y of shape ${fmtShape(y.shape)} cannot be reshaped to yHat's shape ${fmtShape(yHat.shape)} ` +
      `(${y.size} vs ${yHat.size} elements)`);
  }
  return tf.tidy(() => {
    const d = tf.sub(yHat, tf.cast(tf.reshape(y, yHat.shape), yHat.dtype));
    return tf.div(tf.square(d), 2);
  });
}

/**
 * Lecture 08 (`sgd`): minibatch stochastic gradient descent, `param -= lr * grad / batchSize` for each
 * parameter, in place (`variable.assign`). The division by `batchSize` is d2l's contract: the gradient is
 * that of the SUMMED loss. See the module docs for where `grads` comes from.
 * @param params the variables to update
 * @param grads their gradients: the map `tf.variableGrads` returns, or an array aligned with `params`;
 *   not disposed here (the caller owns them)
 * @param lr learning rate, > 0
 * @param batchSize examples the summed loss covered, a positive integer
 * @throws Error on a missing gradient, a gradient whose shape differs from its parameter's, lr ≤ 0 or
 *   batchSize ≤ 0
 */
export function sgd(params: readonly tf.Variable[], grads: Grads, lr: number, batchSize: number): void {
  const fn = 'sgd';
  if (!Array.isArray(params)) throw new ArgumentError(`${fn}: expected params to be an array of tf.Variable, got ${describe(params)}`);
  params.forEach((p, i) => {
    if (!(p instanceof tf.Variable)) throw new ArgumentError(`${fn}: expected params[${i}] to be a tf.Variable, got ${describe(p)}`);
  });
  checkPositiveNumber(fn, 'lr', lr);
  checkPositiveInt(fn, 'batchSize', batchSize);
  let gs: tf.Tensor[];
  if (Array.isArray(grads)) {
    if (grads.length !== params.length) {
      throw new ArgumentError(`${fn}: expected ${params.length} gradients (one per param), got ${grads.length}`);
    }
    gs = grads.slice();
  } else if (grads !== null && typeof grads === 'object' && !(grads instanceof tf.Tensor)) {
    const map = grads as tf.NamedTensorMap;
    gs = params.map((p) => {
      const g = map[p.name];
      if (g === undefined) {
        throw new ArgumentError(`${fn}: no gradient for variable '${p.name}' (grads has ${Object.keys(map).map((k) => `'${k}'`).join(', ') || 'none'}); ` +
          'was it used in the loss passed to tf.variableGrads?');
      }
      return g;
    });
  } else {
    throw new ArgumentError(`${fn}: expected grads to be the map from tf.variableGrads or an array of tensors, got ${describe(grads)}`);
  }
  gs.forEach((g, i) => {
    checkTensor(fn, `the gradient of '${params[i].name}'`, g);
    if (!tf.util.arraysEqual(g.shape, params[i].shape)) {
      throw new ArgumentError(`${fn}: gradient of '${params[i].name}' has shape ${fmtShape(g.shape)}, expected the param's shape ${fmtShape(params[i].shape)}`);
    }
  });
  const step = lr / batchSize;
  tf.tidy(() => {
    params.forEach((p, i) => p.assign(tf.sub(p, tf.mul(gs[i], step))));
  });
}
