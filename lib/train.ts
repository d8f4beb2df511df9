/**
 * Lecture 09 (`softmax-regression-scratch.md`): d2l's training loop `train_epoch_ch3` / `train_ch3`, also
 * used by lectures 10, 11 and 13, and the epoch engine `trainCh6` (lecture 23, `./conv`) shares.
 *
 * Two kinds of updater, d2l's two branches:
 *  - a `tf.Optimizer` (concise: `tf.train.sgd(lr)`): it gets the MEAN of the unreduced loss
 *    (`optimizer.minimize`), like `l.mean().backward(); updater.step()`;
 *  - a function `(batchSize, grads) => void` (scratch): the gradients of the SUMMED loss are computed with
 *    one `tf.variableGrads` per step and handed over, as in d2l's TensorFlow flavour
 *    (`updater(X.shape[0], tape.gradient(l, params))`); it typically calls
 *    `d2l.sgd([W, b], grads, lr, batchSize)`, which divides by the batch size. The trainer disposes the
 *    gradients afterwards.
 *
 * Speed: the batch loss sum and correct count are accumulated on the device and read once per epoch (and
 * at the Animator's points), never per batch. Between batches the loop yields to the event loop about
 * every 100 ms so a Jupyter kernel can deliver live plot updates and interrupts.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { Animator } from './display/animator';
import { compileStep, type CompiledStep } from './engine/compile';
import { withTapeCleanup } from './engine/tape';
import { checkDataIter, checkNet, correctCount, evaluateAccuracy, forward, type Loss, type Net } from './classify';
import type { DataIter } from './data';
import { checkPositiveInt, describe, fmtShape, ArgumentError } from './args';
import { Timer, Yielder } from './utils';

/**
 * The scratch updater: gets the batch size and the gradients of the summed loss (keyed by variable name,
 * as `tf.variableGrads` returns them). With a `params` property, gradients are taken with respect to
 * exactly those variables (d2l TF's `Updater.params`); otherwise with respect to the net's weights (models)
 * or every trainable variable the loss touches (function nets).
 * @example const updater = (batchSize: number, grads: tf.NamedTensorMap) => d2l.sgd([W, b], grads, lr, batchSize);
 */
export type ScratchUpdater = ((batchSize: number, grads: tf.NamedTensorMap) => void) & { params?: tf.Variable[] };

/** What the training helpers accept as an updater: a tfjs optimizer or a {@link ScratchUpdater}. */
export type Updater = tf.Optimizer | ScratchUpdater;

/** The metrics of one epoch, handed to `onEpoch` and returned (for the last epoch) by the trainers. */
export interface EpochMetrics {
  /** Mean training loss over the epoch's examples. */
  trainLoss: number;
  /** Training accuracy over the epoch (the net changes during the epoch, as in d2l). */
  trainAcc: number;
  /** Test accuracy after the epoch. */
  testAcc: number;
}

/** What `trainCh3` / `trainCh6` return: the last epoch's metrics and the training throughput. */
export interface TrainResult extends EpochMetrics {
  /** Training examples per second over all epochs (evaluation excluded), d2l's `examples/sec`. */
  examplesPerSec: number;
}

/** Options of the training helpers. */
export interface TrainOptions {
  /**
   * The live plot: omitted → d2l's Animator for this trainer; an Animator → that one; `false` → none.
   */
  animator?: Animator | false;
  /** Called after every epoch with its number (1-based) and metrics. */
  onEpoch?: (epoch: number, metrics: EpochMetrics) => void;
}

/** Internal: the state of the one-epoch engine. */
interface EpochRun {
  /** Mean loss and accuracy so far in the epoch (reads two scalars back). */
  readonly current: () => [number, number];
}

/** Internal options of {@link runEpoch}. */
interface EpochOptions {
  /** Called after batch `i` (0-based) when `pointEvery` divides `i + 1`, and after the last batch. */
  onPoint?: (i: number, run: EpochRun) => void;
  pointEvery?: number;
  /** Measures the training time (stopped while `onPoint` runs). */
  timer?: Timer;
  yielder?: Yielder;
}

/** The epoch engine result: mean loss, accuracy and example count. */
interface EpochResult {
  loss: number;
  acc: number;
  n: number;
}

function checkUpdater(fn: string, updater: unknown): asserts updater is Updater {
  if (!(updater instanceof tf.Optimizer) && typeof updater !== 'function') {
    throw new ArgumentError(`${fn}: expected updater to be a tf.Optimizer (e.g. tf.train.sgd(lr)) or a function (batchSize, grads) => void, got ${describe(updater)}`);
  }
  const params = (updater as ScratchUpdater).params;
  if (typeof updater === 'function' && params !== undefined &&
    (!Array.isArray(params) || !params.every((p) => p instanceof tf.Variable))) {
    throw new ArgumentError(`${fn}: expected updater.params to be an array of tf.Variable, got ${describe(params)}`);
  }
}

function checkLoss(fn: string, loss: unknown): asserts loss is Loss {
  if (typeof loss !== 'function') throw new ArgumentError(`${fn}: expected loss to be a function (yHat, y) => unreduced tensor, got ${describe(loss)}`);
}

/** The variables one training step differentiates with respect to (undefined: all trainable ones used). */
function trainableVars(net: Net, updater: Updater): tf.Variable[] | undefined {
  if (typeof updater === 'function' && updater.params) return updater.params;
  if (net instanceof tf.layers.Layer) {
    return net.trainableWeights.map((w) => w.read() as tf.Variable);
  }
  return undefined;
}

/**
 * One minibatch step as a function of tensors only, `(X, y, lossSum, correct) → [lossSum', correct']`: forward,
 * loss, gradients, update, and the running sums. Tensors in, tensors out, no reads: that is what lets
 * `compileStep` run it as one TensorFlow call on the native backend (lib/engine/compile.ts).
 */
export function makeStep(fn: string, net: Net, loss: Loss, updater: Updater): (...t: tf.Tensor[]) => tf.Tensor[] {
  const isOptimizer = updater instanceof tf.Optimizer;
  const varList = trainableVars(net, updater);
  return (X, y, lossSum, correct) => {
    let yHat: tf.Tensor | undefined;
    let lSum: tf.Tensor | undefined; // the batch's summed loss, kept out of the gradient's tidy
    try {
      const objective = (): tf.Scalar => {
        yHat = tf.keep(forward(net, X, true));
        const l: unknown = loss(yHat, y);
        if (!(l instanceof tf.Tensor)) throw new ArgumentError(`${fn}: expected loss(yHat, y) to return a tensor, got ${describe(l)}`);
        if (l.rank === 0 || l.size !== y.shape[0]) {
          throw new ArgumentError(`${fn}: expected an UNREDUCED loss (one value per example, shape [${y.shape[0]}]), got shape ${fmtShape(l.shape)}`);
        }
        // d2l: l.mean() for a built-in optimizer, l.sum() for the scratch updater (sgd divides by batchSize)
        const s = tf.sum(l) as tf.Scalar;
        if (!isOptimizer) return (lSum = s); // variableGrads hands it back as `value`
        lSum = tf.keep(s);
        return tf.div(s, l.size);
      };
      if (isOptimizer) {
        withTapeCleanup(() => (updater as tf.Optimizer).minimize(objective, false, varList));
      } else {
        // `value` is lSum itself, disposed below
        const { grads } = withTapeCleanup(() => tf.variableGrads(objective, varList));
        try {
          tf.tidy(() => (updater as ScratchUpdater)(X.shape[0], grads)); // frees what a custom updater computes
        } finally {
          tf.dispose(grads);
        }
      }
      return tf.tidy(() => [tf.add(lossSum, lSum!), tf.add(correct, correctCount(yHat!, y))]);
    } finally {
      if (yHat) yHat.dispose();
      if (lSum) lSum.dispose();
    }
  };
}

/**
 * The yielder of epochs run without one (a notebook's own `for` loop around `trainEpochCh3`): shared across calls,
 * so a loop of short epochs — each well under the yield interval — still lets the kernel see an interrupt.
 */
const epochYielder = new Yielder();

/** Compiled steps per (net, loss, updater), so a notebook's epoch loop reuses one TF function. */
const stepCache = new WeakMap<object, WeakMap<object, WeakMap<object, CompiledStep>>>();

/**
 * The compiled {@link makeStep} step for this net, loss and updater: made once and kept while they live (a
 * notebook that calls `trainEpochCh3` once per epoch gets one TF function, not one per epoch), revalidated on
 * every trainer call so a value the updater reads in JS (`lr`, edited in a later cell) is never frozen.
 */
export function cachedStep(fn: string, net: Net, loss: Loss, updater: Updater): CompiledStep {
  let byLoss = stepCache.get(net);
  if (!byLoss) stepCache.set(net, (byLoss = new WeakMap()));
  let byUpdater = byLoss.get(loss);
  if (!byUpdater) byLoss.set(loss, (byUpdater = new WeakMap()));
  let step = byUpdater.get(updater);
  if (!step) byUpdater.set(updater, (step = compileStep(makeStep(fn, net, loss, updater), fn)));
  step.revalidate();
  return step;
}

/**
 * One epoch of minibatch training (shared by {@link trainEpochCh3} and `trainCh6`). Holds only the two
 * running scalars across awaits; every batch's tensors are disposed before the next await. Each batch runs
 * `step` (a {@link makeStep} step, compiled by the caller so one function serves every epoch).
 */
export async function runEpoch(fn: string, step: CompiledStep, trainIter: DataIter, opts: EpochOptions = {}): Promise<EpochResult> {
  const yielder = opts.yielder ?? epochYielder;
  let lossSum: tf.Tensor = tf.scalar(0);
  let correct: tf.Tensor = tf.scalar(0);
  let n = 0;
  const run: EpochRun = {
    current: () => {
      const [l, c] = [lossSum.dataSync()[0], correct.dataSync()[0]];
      return n === 0 ? [0, 0] : [l / n, c / n];
    },
  };
  try {
    let i = 0;
    for (const batch of trainIter) {
      const [X, y] = batch;
      try {
        if (!(X instanceof tf.Tensor) || !(y instanceof tf.Tensor)) {
          throw new ArgumentError(`${fn}: expected trainIter to yield [X, y] tensors, got [${describe(X)}, ${describe(y)}]`);
        }
        const [nextLoss, nextCorrect] = step(X, y, lossSum, correct);
        tf.dispose([lossSum, correct]);
        lossSum = nextLoss;
        correct = nextCorrect;
        n += y.shape[0];
      } finally {
        tf.dispose([X, y]);
      }
      if (opts.onPoint && opts.pointEvery && ((i + 1) % opts.pointEvery === 0 || i === trainIter.numBatches - 1)) {
        opts.timer?.stop();
        opts.onPoint(i, run);
        opts.timer?.start();
      }
      i++;
      await yielder.maybeYield();
    }
    const [meanLoss, acc] = run.current();
    return { loss: meanLoss, acc, n };
  } finally {
    tf.dispose([lossSum, correct]);
  }
}

/**
 * Lecture 09 (`train_epoch_ch3`): one epoch of training; returns `[trainLoss, trainAcc]`, the mean
 * (unreduced) loss and the accuracy over the epoch's examples. See the module docs for the two kinds of
 * updater. Also used on regression in lecture 11 (the accuracy is then meaningless, as in d2l).
 * @param net a function `(X, training?) => yHat` or a tfjs model (trained with `training: true`)
 * @param loss an UNREDUCED loss `(yHat, y) => [n]`
 * @example const [trainLoss, trainAcc] = await d2l.trainEpochCh3(net, trainIter, loss, updater);
 */
export async function trainEpochCh3(net: Net, trainIter: DataIter, loss: Loss, updater: Updater): Promise<[number, number]> {
  const fn = 'trainEpochCh3';
  checkNet(fn, net);
  checkDataIter(fn, 'trainIter', trainIter);
  checkLoss(fn, loss);
  checkUpdater(fn, updater);
  const r = await runEpoch(fn, cachedStep(fn, net, loss, updater), trainIter);
  return [r.loss, r.acc];
}

/** `loss 0.469, train acc 0.823, test acc 0.779` (d2l's format). */
export function formatMetrics(m: EpochMetrics): string {
  return `loss ${m.trainLoss.toFixed(3)}, train acc ${m.trainAcc.toFixed(3)}, test acc ${m.testAcc.toFixed(3)}`;
}

/** The animator option resolved: the given one, none, or `make()`. */
export function resolveAnimator(fn: string, opt: TrainOptions['animator'], make: () => Animator): Animator | undefined {
  if (opt === false) return undefined;
  if (opt === undefined) return make();
  if (opt === null || typeof opt !== 'object' || typeof (opt as Animator).add !== 'function') {
    throw new ArgumentError(`${fn}: expected opts.animator to be an Animator or false, got ${describe(opt)}`);
  }
  return opt;
}

/** Sends the Animator's final state (a duck-typed animator without `finish` is left alone). */
export function finishAnimator(animator: Animator | undefined): void {
  if (animator && typeof (animator as Partial<Animator>).finish === 'function') animator.finish();
}

export function checkTrainOptions(fn: string, opts: unknown): asserts opts is TrainOptions {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${fn}: expected opts to be an object, got ${describe(opts)}`);
  const o = opts as TrainOptions;
  if (o.onEpoch !== undefined && typeof o.onEpoch !== 'function') {
    throw new ArgumentError(`${fn}: expected opts.onEpoch to be a function (epoch, metrics) => void, got ${describe(o.onEpoch)}`);
  }
}

/** What {@link runEpochs} gives each epoch: the timer of the training time and the event-loop yielder. */
export interface EpochLoop {
  timer: Timer;
  yielder: Yielder;
}

/**
 * The epoch loop `trainCh3` and `trainCh6` share: runs `epoch(e)` for e = 0..numEpochs-1, reports each
 * epoch's metrics to `opts.onEpoch`, lets the kernel breathe between epochs (live plots, interrupts), and
 * returns the last metrics with examples/sec over the timed training.
 */
export async function runEpochs(numEpochs: number, opts: TrainOptions,
  epoch: (e: number, loop: EpochLoop) => Promise<{ n: number; metrics: EpochMetrics }>): Promise<TrainResult> {
  const loop: EpochLoop = { timer: new Timer(), yielder: new Yielder() };
  let examples = 0;
  let metrics: EpochMetrics = { trainLoss: NaN, trainAcc: NaN, testAcc: NaN };
  for (let e = 0; e < numEpochs; e++) {
    const r = await epoch(e, loop);
    examples += r.n;
    metrics = r.metrics;
    opts.onEpoch?.(e + 1, metrics);
    await loop.yielder.maybeYield(true);
  }
  const sum = loop.timer.sum();
  return { ...metrics, examplesPerSec: sum > 0 ? examples / sum : 0 };
}

/**
 * Lecture 09 (`train_ch3`): trains for `numEpochs`, evaluating test accuracy after each epoch, with d2l's
 * Animator (xlabel 'epoch', xlim [1, numEpochs], ylim [0.3, 0.9], legend train loss / train acc / test
 * acc; one point per epoch). Prints the final `loss …, train acc …, test acc …` line.
 *
 * Deliberately NOT ported: d2l's closing `assert train_loss < 0.5` etc. Those asserts were d2l's CI guard;
 * here the notebooks report numbers with `d2l.check` and CI compares them with golden bands (a short
 * schedule would trip the asserts).
 * @param loss an UNREDUCED loss (`d2l.crossEntropy` on softmax outputs, `d2l.softmaxCrossEntropy` on logits)
 * @param updater a `tf.Optimizer` or a scratch updater `(batchSize, grads) => d2l.sgd(params, grads, lr, batchSize)`
 * @example const r = await d2l.trainCh3(net, trainIter, testIter, d2l.crossEntropy, 10, updater);
 */
export async function trainCh3(net: Net, trainIter: DataIter, testIter: DataIter, loss: Loss, numEpochs: number,
  updater: Updater, opts: TrainOptions = {}): Promise<TrainResult> {
  const fn = 'trainCh3';
  checkNet(fn, net);
  checkDataIter(fn, 'trainIter', trainIter);
  checkDataIter(fn, 'testIter', testIter);
  checkLoss(fn, loss);
  checkPositiveInt(fn, 'numEpochs', numEpochs);
  checkUpdater(fn, updater);
  checkTrainOptions(fn, opts);
  const animator = resolveAnimator(fn, opts.animator, () => new Animator({
    xlabel: 'epoch', xlim: [1, numEpochs], ylim: [0.3, 0.9], legend: ['train loss', 'train acc', 'test acc'],
  }));
  const step = cachedStep(fn, net, loss, updater);
  try {
    const result = await runEpochs(numEpochs, opts, async (epoch, { timer, yielder }) => {
      timer.start();
      const r = await runEpoch(fn, step, trainIter, { yielder });
      timer.stop();
      const testAcc = evaluateAccuracy(net, testIter);
      animator?.add(epoch + 1, [r.loss, r.acc, testAcc]);
      return { n: r.n, metrics: { trainLoss: r.loss, trainAcc: r.acc, testAcc } };
    });
    console.log(formatMetrics(result));
    return result;
  } finally {
    finishAnimator(animator);
  }
}
