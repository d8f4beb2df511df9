#!/usr/bin/env node
/*
 * `npm run bench` — training speed of the course models, a benchmark (never a test).
 *
 * One epoch of Fashion-MNIST at batch 256, after one warm-up epoch, for the three models the lectures train,
 * through the lib's own training step (d2l.trainEpochCh3, the engine trainCh3 and trainCh6 use; no plotting,
 * no test evaluation):
 *   softmax  lecture 09 from scratch: W [784,10] ~ N(0, 0.01), lr 0.1, the scratch sgd updater
 *   mlp      lecture 10 concise: flatten, dense 256 relu, dense 10, tf.train.sgd(0.1)
 *   lenet    lecture 23: sigmoid LeNet, Xavier init, tf.train.sgd(0.9) (trainCh6's step)
 * Each backend runs in its own process (one tfjs backend per process): by default the one d2l would pick,
 * `--backends tensorflow,wasm,cpu` for several (cpu runs softmax only: LeNet on it takes most of an hour).
 * Reports s/epoch, examples/s, peak RSS and tf.memory().numTensors before/after the epoch (must not grow).
 *
 *   node bench/epochs.js [--backends a,b] [--models softmax,mlp,lenet] [--json]
 *
 * The PyTorch reference on this 2-core machine (torch 2.13 CPU, measured): softmax 0.09 s, MLP 0.36 s,
 * LeNet 2.4 s per epoch; the ratios below use those numbers.
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const TORCH_REFERENCE = { softmax: 0.09, mlp: 0.36, lenet: 2.4 };
const MODELS = ['softmax', 'mlp', 'lenet'];

function parseArgs(argv) {
  const o = { backends: null, models: MODELS, json: false, child: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--backends') o.backends = argv[++i].split(',');
    else if (a === '--models') o.models = argv[++i].split(',');
    else if (a === '--child') o.child = argv[++i];
    else throw new Error(`unknown option ${a}`);
  }
  const bad = o.models.filter((m) => !MODELS.includes(m));
  if (bad.length) throw new Error(`unknown model ${bad.join(', ')} (choose from ${MODELS.join(', ')})`);
  return o;
}

const peakRssMb = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

/** Runs in the child: the backend comes from D2L_BACKEND. Prints one JSON line. */
async function child(models) {
  const d2l = require(path.join(ROOT, 'dist', 'lib'));
  const tf = require('@tensorflow/tfjs');
  const log = console.log;
  console.log = () => {}; // the lib's one-line notices would mix with our JSON
  const info = await d2l.initBackend();
  d2l.seed(0);
  const [train] = await d2l.loadDataFashionMnist(256, { verbose: false });
  const make = {
    softmax() {
      const W = tf.variable(tf.randomNormal([784, 10], 0, 0.01, 'float32', d2l.nextSeed()));
      const b = tf.variable(tf.zeros([10]));
      const net = (X) => d2l.softmax(X.reshape([-1, 784]).matMul(W).add(b));
      const updater = (batchSize, grads) => d2l.sgd([W, b], grads, 0.1, batchSize);
      return { net, loss: d2l.crossEntropy, updater, dispose: () => { W.dispose(); b.dispose(); } };
    },
    mlp() {
      const net = tf.sequential({ layers: [
        tf.layers.flatten({ inputShape: [28, 28, 1] }),
        tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: tf.initializers.randomNormal({ stddev: 0.01, seed: d2l.nextSeed() }) }),
        tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.01, seed: d2l.nextSeed() }) }),
      ] });
      const updater = tf.train.sgd(0.1);
      return { net, loss: d2l.softmaxCrossEntropy, updater, dispose: () => { net.dispose(); updater.dispose(); } };
    },
    lenet() {
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
      d2l.xavierInit(net);
      const updater = tf.train.sgd(0.9);
      return { net, loss: d2l.softmaxCrossEntropy, updater, dispose: () => { net.dispose(); updater.dispose(); } };
    },
  };
  const results = {};
  for (const name of models) {
    const m = make[name]();
    await d2l.trainEpochCh3(m.net, train, m.loss, m.updater); // warm-up: kernels compiled, buffers allocated
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const [trainLoss, trainAcc] = await d2l.trainEpochCh3(m.net, train, m.loss, m.updater);
    const seconds = (performance.now() - t0) / 1000;
    results[name] = { seconds, examplesPerSec: train.numExamples / seconds, trainLoss, trainAcc,
      tensorsBefore: before, tensorsAfter: tf.memory().numTensors, peakRssMb: peakRssMb() };
    m.dispose();
  }
  log(JSON.stringify({ backend: info.name, device: info.device, threads: info.threads, results }));
}

function runChild(backend, models) {
  const env = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' };
  if (backend) env.D2L_BACKEND = backend;
  const out = execFileSync(process.execPath, [__filename, '--child', backend ?? 'auto', '--models', models.join(',')],
    { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop());
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.child) return child(o.models);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'lib', 'index.js'))) {
    console.error('bench: the lib is not built; run `npm run build` first');
    process.exit(1);
  }
  const runs = [];
  for (const backend of o.backends ?? [null]) {
    const models = backend === 'cpu' ? o.models.filter((m) => m === 'softmax') : o.models;
    if (!models.length) continue;
    if (!o.json) process.stderr.write(`bench: ${backend ?? 'default backend'}: ${models.join(', ')} …\n`);
    runs.push(runChild(backend, models));
  }
  if (o.json) {
    const best = runs[0];
    const line = { backend: best.backend, torchReference: TORCH_REFERENCE, backends: {} };
    for (const r of runs) line.backends[r.backend] = Object.fromEntries(Object.entries(r.results).map(([k, v]) => [k, v.seconds]));
    for (const m of MODELS) line[m] = best.results[m]?.seconds ?? null;
    console.log(JSON.stringify(line));
    return;
  }
  console.log('\nd2l-ts training benchmark: one Fashion-MNIST epoch (60000 images, batch 256) after a warm-up epoch\n');
  console.log('backend      model     s/epoch  examples/s  vs PyTorch  peak RSS  tensors before/after  loss    acc');
  for (const r of runs) {
    for (const [name, v] of Object.entries(r.results)) {
      console.log(`${r.backend.padEnd(12)} ${name.padEnd(8)} ${fmt(v.seconds).padStart(8)} ${Math.round(v.examplesPerSec).toString().padStart(11)}` +
        ` ${(fmt(v.seconds / TORCH_REFERENCE[name], 1) + 'x').padStart(10)} ${(fmt(v.peakRssMb, 0) + ' MB').padStart(9)}` +
        ` ${`${v.tensorsBefore}/${v.tensorsAfter}`.padStart(21)}  ${fmt(v.trainLoss, 3)}  ${fmt(v.trainAcc, 3)}`);
    }
    console.log(`${''.padEnd(12)} (${r.device})`);
  }
  console.log(`\nPyTorch 2.13 CPU on this 2-core machine, s/epoch: softmax ${TORCH_REFERENCE.softmax}, MLP ${TORCH_REFERENCE.mlp}, LeNet ${TORCH_REFERENCE.lenet}.`);
}

main().catch((e) => { console.error(`bench: ${e.message}`); process.exit(1); });
