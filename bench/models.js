'use strict';
/*
 * The three models `npm run bench` and `npm run bench:profile` train, built exactly as the notebooks build them
 * (lecture 09 scratch softmax, lecture 10 concise MLP, lecture 23 LeNet), each with a function that runs one epoch
 * through the lib's own training code.
 */

/** Model names in bench order. */
const MODELS = ['softmax', 'mlp', 'lenet'];

/**
 * Builds `name` with d2l's seeded initialisers. Returns `{ epoch(train, test) }` resolving to
 * `{ seconds, wallSeconds, trainLoss, trainAcc, testAcc? }`: `seconds` is training time only (for LeNet trainCh6's
 * own timer, which leaves out the test-set evaluation it does after the epoch; `wallSeconds` includes it).
 */
function buildModel(name, d2l, tf) {
  if (name === 'softmax') { // lecture 09, from scratch: the notebook's own softmax and cross-entropy
    const W = tf.variable(tf.randomNormal([784, 10], 0, 0.01, 'float32', d2l.nextSeed()));
    const b = tf.variable(tf.zeros([10]));
    const softmax = (X) => tf.tidy(() => { const e = X.exp(); return e.div(e.sum(1, true)); });
    const crossEntropy = (yHat, y) => tf.tidy(() =>
      yHat.mul(tf.oneHot(tf.cast(y, 'int32'), yHat.shape[1])).sum(1).log().neg());
    const net = (X) => softmax(X.reshape([-1, 784]).matMul(W).add(b));
    const updater = (batchSize, grads) => d2l.sgd([W, b], grads, 0.1, batchSize);
    return ch3((train) => d2l.trainEpochCh3(net, train, crossEntropy, updater));
  }
  if (name === 'mlp') { // lecture 10, concise
    const init = () => tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: d2l.nextSeed() });
    const net = tf.sequential({ layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 256, kernelInitializer: init() }),
      tf.layers.reLU(),
      tf.layers.dense({ units: 10, kernelInitializer: init() }),
    ] });
    const trainer = tf.train.sgd(0.1);
    return ch3((train) => d2l.trainEpochCh3(net, train, d2l.softmaxCrossEntropy, trainer));
  }
  if (name === 'lenet') { // lecture 23: the sigmoid LeNet through trainCh6 (one epoch, no Animator)
    const net = tf.sequential({ layers: [
      tf.layers.conv2d({ filters: 6, kernelSize: 5, padding: 'same', activation: 'sigmoid', inputShape: [28, 28, 1] }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'sigmoid' }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'sigmoid' }),
      tf.layers.dense({ units: 84, activation: 'sigmoid' }),
      tf.layers.dense({ units: 10 }),
    ] });
    return {
      async epoch(train, test) {
        const t0 = performance.now();
        const c = await d2l.trainCh6(net, train, test, 1, 0.9, d2l.tryGpu(), { animator: false });
        return { seconds: train.numExamples / c.examplesPerSec, wallSeconds: (performance.now() - t0) / 1000,
          trainLoss: c.trainLoss, trainAcc: c.trainAcc, testAcc: c.testAcc };
      },
    };
  }
  throw new Error(`unknown model ${name} (choose from ${MODELS.join(', ')})`);
}

function ch3(run) {
  return {
    async epoch(train) {
      const t0 = performance.now();
      const [trainLoss, trainAcc] = await run(train);
      const seconds = (performance.now() - t0) / 1000;
      return { seconds, wallSeconds: seconds, trainLoss, trainAcc };
    },
  };
}

/**
 * Three batches of seeded random 28×28 images with random labels, as one iterator for training and testing: enough
 * for a few training steps of any model when a backend is compared against cpu (npm run check:gpu, the webgpu tests),
 * where a real epoch on a software GPU would take hours. `createRng` is lib/random's seeded generator.
 */
function tinyData(d2l, tf, createRng, seed, batch) {
  const r = createRng(seed);
  const n = 3 * batch;
  const X = tf.tensor4d(Float32Array.from({ length: n * 784 }, () => r()), [n, 28, 28, 1]);
  const y = tf.tensor1d(Int32Array.from({ length: n }, () => Math.floor(r() * 10)), 'int32');
  const it = d2l.loadArray([X, y], batch, false);
  tf.dispose([X, y]);
  return it;
}

module.exports = { MODELS, buildModel, tinyData };
