/**
 * Lecture 09 (softmax regression, `softmax-regression-scratch.md` / `-concise.md`) and lecture 11
 * (`underfit-overfit.md`): d2l's `softmax`, `cross_entropy`, `accuracy`, `evaluate_accuracy`,
 * `predict_ch3` and `evaluate_loss`, plus the network and loss types the training helpers accept.
 *
 * A network ({@link Net}) is either
 *  - a function `(X, training?) => yHat` (the "from scratch" nets; `training` is true while training, false
 *    while evaluating — d2l's `net.train()` / `net.eval()`, needed by lecture 13's scratch dropout), or
 *  - a tfjs layers model / layer (the "concise" nets, e.g. `tf.sequential(...)`), called as
 *    `net.apply(X, {training})` so that dropout layers are active only while training.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import type { DataIter } from './data';
import { MIMEBUNDLE, type Displayable } from './display/output';
import { getFashionMnistLabels } from './datasets/fashion-mnist';
import { showImages, type ImageGrid } from './display/images';
import { checkPositiveInt, checkTensor, describe, fmtShape, ArgumentError } from './args';

/** A from-scratch network: maps a batch `X` to outputs; `training` tells dropout-style nets the mode. */
export type NetFn = (X: tf.Tensor, training?: boolean) => tf.Tensor;

/** What the training and evaluation helpers accept as a network (see the module docs). */
export type Net = NetFn | tf.LayersModel | tf.layers.Layer;

/** A loss `(yHat, y) => l`, UNREDUCED: one value per example (d2l's `reduction='none'` contract). */
export type Loss = (yHat: tf.Tensor, y: tf.Tensor) => tf.Tensor;

/**
 * Runs `net` on `X` in training or evaluation mode (see {@link Net}). The caller owns the result.
 * @throws Error if `net` is neither a function nor a tfjs layer/model, or does not return one tensor.
 */
export function forward(net: Net, X: tf.Tensor, training: boolean): tf.Tensor {
  let out: unknown;
  if (typeof net === 'function') {
    out = net(X, training);
  } else if (net instanceof tf.layers.Layer) {
    out = net.apply(X, { training });
  } else {
    throw new ArgumentError(`expected net to be a function (X) => tensor or a tfjs LayersModel/Layer, got ${describe(net)}`);
  }
  if (!(out instanceof tf.Tensor)) throw new ArgumentError(`expected net(X) to return one tf.Tensor, got ${describe(out)}`);
  return out;
}

/** Throws unless `net` is a {@link Net}. */
export function checkNet(fn: string, net: unknown): asserts net is Net {
  if (typeof net !== 'function' && !(net instanceof tf.layers.Layer)) {
    throw new ArgumentError(`${fn}: expected net to be a function (X) => tensor or a tfjs LayersModel/Layer, got ${describe(net)}`);
  }
}

/** Throws unless `it` looks like a {@link DataIter}. */
export function checkDataIter(fn: string, name: string, it: unknown): asserts it is DataIter {
  const d = it as DataIter | null | undefined;
  if (d === null || typeof d !== 'object' || typeof (d as any)[Symbol.iterator] !== 'function' || typeof d.numBatches !== 'number') {
    throw new ArgumentError(`${fn}: expected ${name} to be a DataIter (e.g. from d2l.loadArray or d2l.loadDataFashionMnist), got ${describe(it)}`);
  }
}

/**
 * Lecture 09 (`softmax`): `exp(X) / exp(X).sum(1, keepdims)`, row by row. This is the book's naive
 * version (no max subtraction), so very large logits overflow to NaN — exactly the problem the concise
 * lecture fixes with {@link softmaxCrossEntropy}.
 * @param X `[n, q]`
 * @returns `[n, q]`, each row summing to 1
 */
export function softmax(X: tf.Tensor): tf.Tensor2D {
  checkTensor('softmax', 'X', X, 2, '[n, q]');
  return tf.tidy(() => {
    const e = tf.exp(X);
    return tf.div(e, tf.sum(e, 1, true)) as tf.Tensor2D;
  });
}

/** Validates `[n, q]` predictions against `[n]` integer labels; returns `[n, q]`. */
function checkClassBatch(fn: string, yHat: unknown, y: unknown, what: string): [number, number] {
  checkTensor(fn, what, yHat, 2, '[n, q]');
  const [n, q] = yHat.shape;
  checkTensor(fn, 'y', y, 1, `[${n}]`);
  if (y.shape[0] !== n) throw new ArgumentError(`${fn}: expected y of shape [${n}] (one label per row of ${what} ${fmtShape(yHat.shape)}), got ${fmtShape(y.shape)}`);
  return [n, q];
}

/**
 * Lecture 09 (`cross_entropy`): `−log ŷ[i, y[i]]` per example, NOT reduced (d2l: `[2.3026, 0.6931]` for
 * `ŷ = [[.1, .3, .6], [.3, .2, .5]]`, `y = [0, 2]`). Takes probabilities (the output of {@link softmax}).
 * Labels are not range-checked (that would need a read back from the device): a label ≥ q gives Infinity.
 * @param yHat probabilities `[n, q]`
 * @param y integer labels `[n]` (int32, or float32 holding integers)
 * @returns `[n]`
 */
export function crossEntropy(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  const [, q] = checkClassBatch('crossEntropy', yHat, y, 'yHat');
  return tf.tidy(() => {
    const picked = tf.sum(tf.mul(yHat, tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, q)), 1);
    return tf.neg(tf.log(picked)) as tf.Tensor1D;
  });
}

/**
 * Lecture 09 concise (`nn.CrossEntropyLoss(reduction='none')`): softmax + cross-entropy computed from
 * LOGITS in the numerically stable LogSumExp form, NOT reduced. The loss to pass to `trainCh3` with a net
 * that outputs logits (concise softmax regression, MLPs, dropout); `trainCh6` uses its mean.
 * @param logits `[n, q]`
 * @param y integer labels `[n]`
 * @returns `[n]`
 */
export function softmaxCrossEntropy(logits: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  const [, q] = checkClassBatch('softmaxCrossEntropy', logits, y, 'logits');
  return tf.tidy(() => {
    const labels = (y.dtype === 'int32' ? y : tf.cast(y, 'int32')) as tf.Tensor1D;
    // not tf.oneHot(…, 'float32'): tfjs-backend-wasm 4.22 writes int32 bits into a tensor marked float32
    const onehot = tf.cast(tf.oneHot(labels, q), 'float32');
    // The same math as tf.losses.softmaxCrossEntropy (Reduction.NONE) in 14 kernels per training step instead of
    // 28: the gradient is PyTorch's (softmax − onehot) · dy, written once, and the labels get none.
    const loss = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      const z = tf.sub(x, tf.max(x, 1, true));
      const logp = tf.sub(z, tf.log(tf.sum(tf.exp(z), 1, true)));
      save([logp, onehot]); // kept for the backward pass (the tidy below frees the rest)
      return {
        value: tf.neg(tf.sum(tf.mul(logp, onehot), 1)),
        gradFunc: (dy: tf.Tensor, [lp, oh]: tf.Tensor[]) => tf.mul(tf.sub(tf.exp(lp), oh), tf.reshape(dy, [-1, 1])),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return loss(logits) as tf.Tensor1D;
  });
}

/**
 * The number of correct predictions as a float32 scalar ON THE DEVICE (no read back): what
 * {@link accuracy} counts, for loops that accumulate it and read once per epoch.
 */
export function correctCount(yHat: tf.Tensor, y: tf.Tensor): tf.Scalar {
  const fn = 'accuracy';
  checkTensor(fn, 'yHat', yHat);
  checkTensor(fn, 'y', y);
  const shape = yHat.shape as number[];
  if (shape.length === 2 && shape[1] > 1) {
    const n = shape[0];
    if (y.size !== n || y.rank > 2) {
      throw new ArgumentError(`${fn}: expected y of shape [${n}] (one label per row of yHat ${fmtShape(yHat.shape)}), got ${fmtShape(y.shape)}`);
    }
    return tf.tidy(() => {
      const pred = tf.argMax(yHat, 1);
      const eq = tf.equal(pred, tf.cast(tf.reshape(y, [n]), 'int32'));
      return tf.sum(tf.cast(eq, 'float32')) as tf.Scalar;
    });
  }
  // d2l compares y_hat (cast to y's dtype) with y elementwise when y_hat is not [n, q > 1] (lecture 11).
  if (y.size !== yHat.size) {
    throw new ArgumentError(`${fn}: expected y with as many elements as yHat ${fmtShape(yHat.shape)} (or yHat of shape [n, q > 1]), got ${fmtShape(y.shape)}`);
  }
  return tf.tidy(() => {
    const eq = tf.equal(tf.cast(tf.reshape(yHat, [-1]), y.dtype), tf.reshape(y, [-1]));
    return tf.sum(tf.cast(eq, 'float32')) as tf.Scalar;
  });
}

/**
 * Lecture 09 (`accuracy`): the NUMBER of correct predictions (a count, not a rate — divide by the batch
 * size yourself, as d2l does). For `yHat` of shape `[n, q > 1]` the prediction is the argmax of each row;
 * otherwise `yHat` is compared with `y` elementwise after casting to `y`'s dtype.
 * @example d2l.accuracy(yHat, y) / y.shape[0]   // 0.5 for the book's example
 */
export function accuracy(yHat: tf.Tensor, y: tf.Tensor): number {
  const c = correctCount(yHat, y);
  const v = c.dataSync()[0];
  c.dispose();
  return v;
}

/**
 * Lecture 09 (`evaluate_accuracy`): the accuracy of `net` over a data set, in evaluation mode
 * (`training = false`, so dropout is off). Counts are summed on the device and read once.
 */
export function evaluateAccuracy(net: Net, dataIter: DataIter): number {
  return evaluateAccuracyImpl('evaluateAccuracy', net, dataIter);
}

/** Shared by {@link evaluateAccuracy} and `evaluateAccuracyGpu`. */
export function evaluateAccuracyImpl(fn: string, net: Net, dataIter: DataIter): number {
  checkNet(fn, net);
  checkDataIter(fn, 'dataIter', dataIter);
  return meanOverData(dataIter, (X, y) => [correctCount(forward(net, X, false), y), y.shape[0]]);
}

/**
 * Σ term / Σ count over a data set, for the evaluators: `term(X, y)` gives a batch's scalar sum and how many
 * values it covers. The running sum stays on the device and is read once at the end (one `dataSync` per
 * pass, which matters on GPU backends); each batch's tensors are freed as it goes.
 */
function meanOverData(dataIter: DataIter, term: (X: tf.Tensor, y: tf.Tensor) => [tf.Tensor, number]): number {
  let sum: tf.Tensor = tf.scalar(0);
  let count = 0;
  try {
    for (const batch of dataIter) {
      const [X, y] = batch;
      try {
        let size = 0;
        const next = tf.tidy(() => {
          const [t, n] = term(X, y);
          size = n;
          return tf.add(sum, t);
        });
        sum.dispose();
        sum = next;
        count += size;
      } finally {
        tf.dispose(batch);
      }
    }
    return count === 0 ? 0 : sum.dataSync()[0] / count;
  } finally {
    sum.dispose();
  }
}

/**
 * Lecture 11 (`evaluate_loss`): the mean of an unreduced `loss` over a data set, in evaluation mode.
 * As in d2l, `y` is reshaped to the output's shape first when they hold the same number of elements.
 */
export function evaluateLoss(net: Net, dataIter: DataIter, loss: Loss): number {
  const fn = 'evaluateLoss';
  checkNet(fn, net);
  checkDataIter(fn, 'dataIter', dataIter);
  if (typeof loss !== 'function') throw new ArgumentError(`${fn}: expected loss to be a function (yHat, y) => tensor, got ${describe(loss)}`);
  return meanOverData(dataIter, (X, y) => {
    const out = forward(net, X, false);
    const l = loss(out, y.size === out.size ? tf.reshape(y, out.shape) : y);
    return [tf.sum(l), l.size];
  });
}

/**
 * What {@link predictCh3} returns: the titled image grid d2l's `predict_ch3` draws (shown when it ends a
 * cell, like d2l's figure) and the labels behind it.
 */
export interface Prediction extends Displayable {
  /** `'true\npred'` per image, d2l's titles. */
  titles: string[];
  /** The true text labels. */
  trues: string[];
  /** The predicted text labels. */
  preds: string[];
  /** The grid `showImages(X[0:n], 1, n, titles)` made (it holds a copy of the pixels, no tensor). */
  grid: ImageGrid;
}

/**
 * Lecture 09 (`predict_ch3`): predicts the labels of the first `n` images of the first test batch and,
 * like d2l's `show_images(X[0:n].reshape((n, 28, 28)), 1, n, titles)`, draws them titled `true\npred`:
 * the result displays as that grid when it ends a cell. Labels are Fashion-MNIST's
 * (`getFashionMnistLabels`). Leaves no tensor behind.
 * @param n how many images, at most the batch size (default 6)
 * @example d2l.predictCh3(net, testIter)
 */
export function predictCh3(net: Net, testIter: DataIter, n = 6): Prediction {
  const fn = 'predictCh3';
  checkNet(fn, net);
  checkDataIter(fn, 'testIter', testIter);
  checkPositiveInt(fn, 'n', n);
  const it = testIter[Symbol.iterator]();
  const first = it.next();
  it.return?.();
  if (first.done) throw new ArgumentError(`${fn}: testIter yielded no batch`);
  const batch = first.value;
  const [X, y] = batch;
  let images: tf.Tensor | undefined;
  let trueIds: tf.Tensor | undefined;
  let predIds: tf.Tensor | undefined;
  try {
    checkTensor(fn, 'X (first test batch)', X);
    checkTensor(fn, 'y (first test batch)', y);
    if (n > X.shape[0]) throw new ArgumentError(`${fn}: n = ${n} is larger than the first batch (${X.shape[0]} examples)`);
    [images, trueIds, predIds] = tf.tidy(() => {
      const Xn = tf.slice(X, 0, n);
      const yHat = forward(net, Xn, false);
      const s = yHat.shape as number[];
      const pred = s.length === 2 && s[1] > 1 ? tf.argMax(yHat, 1) : tf.cast(tf.reshape(yHat, [-1]), 'int32');
      const xs = Xn.shape as number[];
      const img = xs.length === 4 && xs[3] === 1 ? tf.reshape(Xn, xs.slice(0, 3)) : Xn;
      return [img, tf.cast(tf.reshape(tf.slice(y, 0, n), [-1]), 'int32'), pred];
    });
    const trues = getFashionMnistLabels(Array.from(trueIds.dataSync()));
    const preds = getFashionMnistLabels(Array.from(predIds.dataSync()));
    const titles = trues.map((t, i) => `${t}\n${preds[i]}`);
    const grid = showImages(images, 1, n, { titles });
    return { titles, trues, preds, grid, [MIMEBUNDLE]: () => grid[MIMEBUNDLE]() };
  } finally {
    tf.dispose([X, y]);
    tf.dispose([images, trueIds, predIds].filter((t): t is tf.Tensor => t !== undefined));
  }
}
