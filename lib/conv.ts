/**
 * Convolutions (lecture 19, `conv-layer.md`) and LeNet's training loop (lecture 23, `lenet.md`): d2l's
 * `corr2d`, `evaluate_accuracy_gpu` and `train_ch6`.
 *
 * Devices: tfjs has no per-tensor device placement — the backend (`d2l.initBackend()`) decides where
 * everything runs — so `device` is what d2l prints (`d2l.tryGpu()` → `'/GPU:0'` or `'/CPU:0'`), checked
 * against the GPUs the backend really has, not a place tensors are moved to.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { Animator } from './display/animator';
import { numGpus, tryGpu } from './devices';
import { compileStep } from './engine/compile';
import { checkDataIter, checkNet, evaluateAccuracyImpl, softmaxCrossEntropy, type Net } from './classify';
import type { DataIter } from './data';
import { nextSeed } from './random';
import {
  checkTrainOptions, finishAnimator, formatMetrics, makeStep, resolveAnimator, runEpoch, runEpochs, type TrainOptions, type TrainResult,
} from './train';
import { checkPositiveInt, checkPositiveNumber, checkTensor, describe, fmtShape, ArgumentError } from './args';

/**
 * Lecture 19 (`corr2d`): 2-D cross-correlation ("valid" mode), the book's naive double loop over output
 * positions: `Y[i, j] = (X[i:i+h, j:j+w] * K).sum()`. Differentiable (built from tfjs ops), but slow —
 * meant for the small examples of lectures 19–21; real layers use `tf.conv2d`.
 * @param X input `[H, W]`
 * @param K kernel `[h, w]` with `h ≤ H`, `w ≤ W`
 * @returns `[H − h + 1, W − w + 1]`
 * @example d2l.corr2d(tf.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]]), tf.tensor([[0, 1], [2, 3]])) // [[19, 25], [37, 43]]
 */
export function corr2d(X: tf.Tensor, K: tf.Tensor): tf.Tensor2D {
  const fn = 'corr2d';
  checkTensor(fn, 'X', X, 2, '[H, W]');
  checkTensor(fn, 'K', K, 2, '[h, w]');
  const [H, W] = X.shape;
  const [h, w] = K.shape;
  if (h > H || w > W || h === 0 || w === 0) {
    throw new ArgumentError(`${fn}: expected a kernel K of shape [h, w] with 1 ≤ h ≤ ${H}, 1 ≤ w ≤ ${W} (X is ${fmtShape(X.shape)}), got ${fmtShape(K.shape)}`);
  }
  const outH = H - h + 1;
  const outW = W - w + 1;
  return tf.tidy(() => {
    const ys: tf.Tensor[] = [];
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) ys.push(tf.sum(tf.mul(tf.slice(X, [i, j], [h, w]), K)));
    }
    return tf.reshape(tf.stack(ys), [outH, outW]) as tf.Tensor2D;
  });
}

/** Throws unless `device` is a device string this process has (see the module docs). */
function checkDevice(fn: string, device: unknown): asserts device is string {
  if (typeof device !== 'string' || device.trim() === '') {
    throw new ArgumentError(`${fn}: expected device to be a device string such as d2l.tryGpu() ('/CPU:0' or '/GPU:0'), got ${describe(device)}`);
  }
  const gpu = /gpu:(\d+)$|cuda:(\d+)$/i.exec(device);
  if (gpu) {
    const i = Number(gpu[1] ?? gpu[2]);
    if (i >= numGpus()) {
      throw new ArgumentError(`${fn}: device ${device} is not available (numGpus() = ${numGpus()}); use d2l.tryGpu(), which falls back to '/CPU:0'`);
    }
  }
}

/**
 * Lecture 23 (`evaluate_accuracy_gpu`): accuracy of `net` over a data set in evaluation mode, like
 * `evaluateAccuracy`. `device` (default `d2l.tryGpu()`) is checked, not used to move data (see the module docs).
 */
export function evaluateAccuracyGpu(net: Net, dataIter: DataIter, device?: string): number {
  const fn = 'evaluateAccuracyGpu';
  if (device !== undefined) checkDevice(fn, device);
  return evaluateAccuracyImpl(fn, net, dataIter);
}

/** Layers whose kernels d2l's `train_ch6` re-initialises (its `nn.Linear` and `nn.Conv2d`). */
const XAVIER_LAYERS = new Set(['Dense', 'Conv2D']);

/**
 * d2l's `init_weights` in `train_ch6`: Xavier-uniform (Glorot) kernels for every Dense and Conv2D layer,
 * nested models included; biases are left as they are. Seeded through `nextSeed()`.
 * @returns the number of kernels re-initialised
 */
export function xavierInit(net: tf.layers.Layer): number {
  let count = 0;
  const visit = (layer: tf.layers.Layer): void => {
    if (layer instanceof tf.LayersModel) {
      layer.layers.forEach(visit);
      return;
    }
    if (!XAVIER_LAYERS.has(layer.getClassName())) return;
    for (const v of layer.weights) {
      if (!/(^|\/)kernel$/.test(v.originalName)) continue;
      const init = tf.initializers.glorotUniform({ seed: nextSeed() }).apply(v.shape, 'float32');
      v.write(init);
      init.dispose();
      count++;
    }
  };
  visit(net);
  return count;
}

/**
 * Lecture 23 (`train_ch6`): trains a classifier with SGD (`tf.train.sgd(lr)`) on the mean softmax
 * cross-entropy of its logits, after Xavier-initialising the kernels of its Dense/Conv2D layers (models
 * only; a function net is trained as given). Prints `training on <device>`, then, like d2l,
 * `loss 0.469, train acc 0.823, test acc 0.779` and `N examples/sec on <device>`.
 *
 * The Animator (no ylim, d2l's) gets train loss/acc about 5 times per epoch (every ⌊numBatches/5⌋ batches
 * and after the last, at x = epoch + (i+1)/numBatches) and test accuracy once per epoch.
 * @param device default `d2l.tryGpu()`; see the module docs
 * @example const r = await d2l.trainCh6(net, trainIter, testIter, 10, 0.9, d2l.tryGpu());
 */
export async function trainCh6(net: Net, trainIter: DataIter, testIter: DataIter, numEpochs: number, lr: number,
  device: string = tryGpu(), opts: TrainOptions = {}): Promise<TrainResult> {
  const fn = 'trainCh6';
  checkNet(fn, net);
  checkDataIter(fn, 'trainIter', trainIter);
  checkDataIter(fn, 'testIter', testIter);
  checkPositiveInt(fn, 'numEpochs', numEpochs);
  checkPositiveNumber(fn, 'lr', lr);
  checkDevice(fn, device);
  checkTrainOptions(fn, opts);
  const animator = resolveAnimator(fn, opts.animator, () => new Animator({
    xlabel: 'epoch', xlim: [1, numEpochs], legend: ['train loss', 'train acc', 'test acc'],
  }));
  if (net instanceof tf.layers.Layer) xavierInit(net);
  console.log(`training on ${device}`);
  const optimizer = tf.train.sgd(lr);
  const step = compileStep(makeStep(fn, net, softmaxCrossEntropy, optimizer), fn);
  const numBatches = trainIter.numBatches;
  try {
    const result = await runEpochs(numEpochs, opts, async (epoch, { timer, yielder }) => {
      timer.start();
      const r = await runEpoch(fn, step, trainIter, {
        timer,
        yielder,
        pointEvery: animator ? Math.max(1, Math.floor(numBatches / 5)) : undefined,
        onPoint: animator ? (i, run) => {
          const [l, acc] = run.current();
          animator.add(epoch + (i + 1) / numBatches, [l, acc, undefined]);
        } : undefined,
      });
      timer.stop();
      const testAcc = evaluateAccuracyImpl(fn, net, testIter);
      animator?.add(epoch + 1, [undefined, undefined, testAcc]);
      return { n: r.n, metrics: { trainLoss: r.loss, trainAcc: r.acc, testAcc } };
    });
    console.log(formatMetrics(result));
    console.log(`${result.examplesPerSec.toFixed(1)} examples/sec on ${device}`);
    return result;
  } finally {
    step.dispose();
    optimizer.dispose();
    finishAnimator(animator);
  }
}
