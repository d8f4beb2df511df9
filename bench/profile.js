#!/usr/bin/env node
'use strict';
/*
 * `npm run bench:profile` (node bench/profile.js) — where one training epoch's time goes, per kernel.
 *
 *   node bench/profile.js [--models softmax,mlp,lenet] [--backends tensorflow,wasm] [--top 15]
 *
 * For each (backend, model) a child process trains the model as `npm run bench` does (bench/models.js: one warm-up
 * epoch, then one profiled epoch), with every kernel of the backend wrapped in a wall-clock timer. Only top-level
 * kernels are timed (a kernel that calls others counts once), so the rows add up. Then:
 *   kernels   wall time inside backend kernels, per kernel name (calls per step, ms per step, share of the step)
 *   data      building the batches alone (one pass over the iterator, tensors made and dropped)
 *   other     the rest: tfjs engine and tape bookkeeping, JS, garbage collection
 * The wrappers add about a microsecond per kernel call; the profiled epoch is a little slower than `npm run bench`.
 */
const { spawnSync } = require('child_process');
const path = require('path');
const { MODELS, buildModel } = require('./models');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'lib');
const BACKENDS = ['tensorflow', 'wasm', 'cpu'];

function parseArgs(argv) {
  const o = { models: ['softmax', 'mlp', 'lenet'], backends: ['tensorflow', 'wasm'], top: 15, child: null };
  const fail = (msg) => { console.error(`bench/profile.js: ${msg}`); process.exit(2); };
  const value = (i, a) => (argv[i] === undefined || argv[i].startsWith('--') ? fail(`${a} needs a value`) : argv[i]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--models') o.models = value(++i, a).split(',');
    else if (a === '--backends') o.backends = value(++i, a).split(',');
    else if (a === '--top') { o.top = Number(value(++i, a)); if (!(o.top > 0)) fail('--top needs a positive number'); }
    else if (a === '--child') o.child = value(++i, a);
    else fail(`unknown argument ${a}`);
  }
  const bad = o.models.filter((m) => !MODELS.includes(m));
  if (bad.length) fail(`unknown model ${bad} (choose from ${MODELS})`);
  const badBackend = o.backends.filter((b) => !BACKENDS.includes(b));
  if (badBackend.length) fail(`unknown backend ${badBackend} (choose from ${BACKENDS})`);
  return o;
}

/** Wraps every kernel registered for `backendName` with a top-level wall-clock timer. */
function instrument(tf, backendName) {
  const stats = new Map();
  let depth = 0;
  let on = false;
  for (const k of tf.getKernelsForBackend(backendName)) {
    const orig = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({ ...k, kernelFunc: (args) => {
      if (!on || depth > 0) return orig(args);
      depth++;
      const t0 = performance.now();
      try {
        return orig(args);
      } finally {
        const ms = performance.now() - t0;
        depth--;
        const s = stats.get(k.kernelName) ?? { calls: 0, ms: 0 };
        s.calls++;
        s.ms += ms;
        stats.set(k.kernelName, s);
      }
    } });
  }
  return { stats, start: () => { on = true; }, stop: () => { on = false; } };
}

async function child(model) {
  const d2l = require(DIST);
  const tf = require('@tensorflow/tfjs');
  const out = console.log;
  console.log = () => {};
  const info = await d2l.initBackend();
  d2l.seed(0);
  const [train, test] = await d2l.loadDataFashionMnist(256, { verbose: false });
  const m = buildModel(model, d2l, tf);
  const prof = instrument(tf, tf.getBackend());
  await m.epoch(train, test); // warm-up
  // data alone: the same iterator, every batch made and dropped
  let t0 = performance.now();
  for (const b of train) tf.dispose(b);
  const dataSeconds = (performance.now() - t0) / 1000;
  prof.start();
  const r = await m.epoch(train, test);
  prof.stop();
  out(JSON.stringify({ backend: info.name, model, steps: train.numBatches, seconds: r.seconds, dataSeconds,
    kernels: Object.fromEntries(prof.stats) }));
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.child) return child(o.child);
  for (const backend of o.backends) {
    for (const model of o.models) {
      const r = spawnSync(process.execPath, [__filename, '--child', model], {
        cwd: ROOT, encoding: 'utf8', env: { ...process.env, D2L_BACKEND: backend, TF_CPP_MIN_LOG_LEVEL: '2' },
        maxBuffer: 64 << 20,
      });
      const line = String(r.stdout).trim().split('\n').pop();
      if (r.status !== 0 || !line.startsWith('{')) {
        const why = String(r.stderr).split('\n').find((l) => /^\w*Error\b/.test(l)) ?? String(r.stderr).trim().split('\n').pop();
        console.log(`${backend} ${model}: FAILED ${why}`);
        continue;
      }
      report(JSON.parse(line), o.top);
    }
  }
}

function report(j, top) {
  const stepMs = (j.seconds * 1000) / j.steps;
  // LeNet: trainCh6's timer leaves out its test evaluation, the kernel timers do not (said in the report)
  const rows = Object.entries(j.kernels).sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.reduce((s, [, v]) => s + v.ms, 0);
  const calls = rows.reduce((s, [, v]) => s + v.calls, 0);
  const dataMs = (j.dataSeconds * 1000) / j.steps;
  console.log(`\n${j.backend} ${j.model}: ${stepMs.toFixed(2)} ms/step (${j.seconds.toFixed(2)} s/epoch, ${j.steps} steps), ` +
    `${(calls / j.steps).toFixed(0)} kernel calls/step`);
  const pct = (ms) => `${((100 * ms) / j.steps / stepMs).toFixed(0)}%`.padStart(5);
  console.log(`  ${'kernels (all)'.padEnd(28)} ${(kernelMs / j.steps).toFixed(3).padStart(8)} ms ${pct(kernelMs)}`);
  console.log(`  ${'data (batches alone)'.padEnd(28)} ${dataMs.toFixed(3).padStart(8)} ms ${pct(dataMs * j.steps)}`);
  const other = stepMs - kernelMs / j.steps - dataMs;
  console.log(`  ${'other (engine, tape, JS, GC)'.padEnd(28)} ${other.toFixed(3).padStart(8)} ms ${pct(other * j.steps)}`);
  if (j.model === 'lenet') console.log('  (lenet: kernel times include the test evaluation after the epoch; the step time does not)');
  console.log(`  ${'kernel'.padEnd(28)} ${'calls/step'.padStart(10)} ${'ms/step'.padStart(8)} ${'share'.padStart(5)}`);
  for (const [name, v] of rows.slice(0, top)) {
    console.log(`  ${name.padEnd(28)} ${(v.calls / j.steps).toFixed(1).padStart(10)} ${(v.ms / j.steps).toFixed(3).padStart(8)} ${pct(v.ms)}`);
  }
}

main();
