#!/usr/bin/env node
/*
 * `npm run check:gpu` (node bench/check-gpu.js) — one prepared check of the `webgpu` backend on the GPUs of this
 * machine (lib/engine/webgpu.ts). Run it once on any machine with a GPU before training there with
 * D2L_BACKEND=webgpu; it exits non-zero on any mismatch.
 *
 *  1. prints the adapters Dawn sees (and `nvidia-smi` when present);
 *  2. runs every op the lectures use, forward and backward, on the adapter and on the cpu backend and compares them
 *     (lib/engine/op-cases.ts; tolerances there);
 *  3. on a hardware adapter: trains one epoch each of softmax (lecture 09), MLP (10) and LeNet (23) on Fashion-MNIST
 *     (bench/models.js, batch 256, 235 steps) on webgpu — twice, the first epoch including shader compilation —
 *     and prints s/epoch beside the native CPU backend (`tensorflow`, when it is built here) on the same epochs,
 *     whose loss the webgpu epoch must match;
 *     without one: says so, and checks on Chromium's SwiftShader (a CPU Vulkan) instead: the op comparison and
 *     three training steps of each model against cpu (full epochs on SwiftShader would take hours). Exit 0 if
 *     those pass.
 *
 *   node bench/check-gpu.js             # the whole check
 *   node bench/check-gpu.js --bundle [DIR]   # first build the self-contained bundle for a GPU machine without
 *                                            # Node or network (scripts/gpu-bundle.sh; default DIR .gpu-bundle)
 *   --json FILE                              # also write the results as JSON
 *   --models softmax,mlp                     # fewer models (default all three)
 *   --software-as-gpu                        # rehearsal without a GPU: treat SwiftShader as the GPU (part 3's full
 *                                            # epochs on a CPU Vulkan: use with --models softmax; minutes)
 * Each part runs in a child process (one tfjs backend per process; the Vulkan driver is chosen before Dawn loads).
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const HERE = __dirname;
const { MODELS, buildModel, tinyData } = require('./models');
/** Loss of the webgpu epoch vs the native CPU epoch, same seed, same batches: float32 sums in another order. */
const EPOCH_LOSS_TOL = 0.02;

function lib() {
  // Static paths, so that esbuild can bundle them (bench/gpu-bundle.sh); in the repo they are the built library.
  return {
    d2l: require('../dist/lib/index.js'),
    webgpu: require('../dist/lib/engine/webgpu.js'),
    ops: require('../dist/lib/engine/op-cases.js'),
    createRng: require('../dist/lib/random.js').createRng,
    tf: require('@tensorflow/tfjs'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Children: each prints one JSON line on stdout.

async function childMain(kind, arg) {
  const { d2l, webgpu, ops, tf, createRng } = lib();
  const out = console.log;
  console.log = () => {}; // the lib's notices (backend line, trainCh6's lines) would mix with the JSON line
  if (kind === 'adapters') {
    let adapters = [];
    let error;
    try {
      adapters = await webgpu.listAdapters();
    } catch (e) {
      error = e.message;
    }
    return out(JSON.stringify({ adapters, error }));
  }
  const info = await d2l.initBackend();
  if (kind === 'ops') {
    const t0 = performance.now();
    const before = tf.memory().numTensors;
    const results = await ops.compareWithCpu(info.name);
    return out(JSON.stringify({ backend: info.name, device: info.device, results, seconds: (performance.now() - t0) / 1000,
      leaked: tf.memory().numTensors - before }));
  }
  if (kind === 'steps') { // a few steps of one model, this backend and cpu, on seeded random images
    const run = async (backend) => {
      await tf.setBackend(backend);
      d2l.seed(7);
      const it = tinyData(d2l, tf, createRng, 11, arg === 'lenet' ? 16 : 128);
      const m = buildModel(arg, d2l, tf);
      await m.epoch(it, it);
      return m.epoch(it, it);
    };
    const ref = await run('cpu');
    const got = await run(info.name);
    return out(JSON.stringify({ backend: info.name, model: arg, ref, got }));
  }
  if (kind === 'epoch') {
    d2l.seed(0);
    const [train, test] = await d2l.loadDataFashionMnist(256, { verbose: false });
    const m = buildModel(arg, d2l, tf);
    const first = await m.epoch(train, test);
    const before = tf.memory().numTensors;
    const second = await m.epoch(train, test);
    return out(JSON.stringify({ backend: info.name, device: info.device, model: arg, first, second,
      leaked: tf.memory().numTensors - before }));
  }
  throw new Error(`unknown child ${kind}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Parent

function runChild(env, ...args) {
  const r = spawnSync(process.execPath, [__filename, '--child', ...args], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...env }, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 3600_000,
  });
  const line = String(r.stdout || '').trim().split('\n').pop();
  if (r.status === 0 && line && line.startsWith('{')) return JSON.parse(line);
  const tail = String(r.stderr || r.stdout || '').trim().split('\n').filter(Boolean).slice(-6).join('\n    ');
  return { error: `${r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`}\n    ${tail}` };
}

const fmt = (x, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : String(x));

function nvidiaSmi() {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Part 1: every lecture op on the adapter `env` selects vs cpu, printed; returns the child's results. */
function checkOps(env, where, problems) {
  console.log(`\n1. every lecture op, forward and backward, on ${where} vs cpu`);
  const res = runChild(env, 'ops');
  if (res.error) {
    problems.push(`op comparison did not run: ${res.error}`);
    console.log(`  op comparison failed to run: ${res.error}`);
    return res;
  }
  const bad = res.results.filter((r) => !r.ok);
  // the largest error as a fraction of its tolerance (cases with tolerance 0 must be exact: counted by `ok` alone)
  const worst = res.results.filter((r) => r.tol > 0).reduce((a, r) => Math.max(a, r.maxErr / r.tol), 0);
  console.log(`  ${res.results.length} op cases on ${res.device} vs cpu in ${fmt(res.seconds, 1)} s: ` +
    `${res.results.length - bad.length} ok, ${bad.length} mismatched; worst error ${fmt(worst, 2)} of its tolerance; ` +
    `${res.leaked} tensors leaked`);
  for (const r of bad) {
    console.log(`    MISMATCH ${r.name} (lectures ${r.lectures}): ${r.error ?? `max error ${r.maxErr} > tol ${r.tol}`}`);
    problems.push(`op ${r.name}`);
  }
  if (res.leaked !== 0) problems.push(`${res.leaked} tensors leaked by the op comparison`);
  return res;
}

async function parentMain(argv) {
  const jsonAt = argv.includes('--json') ? argv[argv.indexOf('--json') + 1] : null;
  if (argv.includes('--bundle')) {
    const dir = argv[argv.indexOf('--bundle') + 1];
    const r = spawnSync('bash', [path.join(HERE, '../scripts/gpu-bundle.sh'), ...(dir && !dir.startsWith('--') ? [dir] : [])], { stdio: 'inherit' });
    if (r.status !== 0) return 1;
  }
  const report = { node: process.version, platform: `${process.platform}-${process.arch}` };
  const problems = [];
  console.log(`check:gpu — d2l-ts's webgpu backend (Node ${process.version}, ${process.platform}-${process.arch})`);
  const smi = nvidiaSmi();
  console.log(`nvidia-smi: ${smi ?? 'not found'}`);
  report.nvidiaSmi = smi;

  const found = runChild({}, 'adapters');
  report.adapters = found;
  const adapters = found.adapters ?? [];
  console.log(`Dawn's adapters: ${adapters.length === 0 ? `none${found.error ? ` (${found.error})` : ''}` : ''}`);
  for (const a of adapters) {
    console.log(`  ${a.software ? 'software' : 'GPU     '}  ${a.name} (${a.api}; vendor ${a.vendor || '?'}, architecture ` +
      `${a.architecture || '?'}, device ${a.device || '?'}, ${a.description || 'no description'})`);
  }
  const { webgpu } = lib();
  const modelsAt = argv.indexOf('--models');
  const models = modelsAt >= 0 ? String(argv[modelsAt + 1] ?? '').split(',').filter(Boolean) : MODELS;
  const unknown = models.filter((m) => !MODELS.includes(m));
  if (unknown.length > 0 || models.length === 0) {
    console.error(`check:gpu: --models takes a comma-separated list of ${MODELS.join(', ')}`);
    return 2;
  }
  let hardware = adapters.find((a) => !a.software);
  let gpuEnv = { D2L_BACKEND: 'webgpu' };
  if (!hardware && argv.includes('--software-as-gpu')) {
    const ss = webgpu.findSwiftShader();
    if (!ss.icd) {
      console.error(`check:gpu: --software-as-gpu needs SwiftShader: ${ss.missing}`);
      return 2;
    }
    gpuEnv = { D2L_BACKEND: 'webgpu', VK_ICD_FILENAMES: ss.icd };
    hardware = { name: 'SwiftShader, standing in for a GPU (--software-as-gpu)' };
    console.log(`\n--software-as-gpu: the GPU path runs on SwiftShader (${ss.icd})`);
  }

  if (hardware) {
    report.ops = checkOps(gpuEnv, hardware.name, problems);
    console.log('\n2. one epoch (Fashion-MNIST, batch 256) per model: webgpu vs native CPU (s/epoch; first webgpu epoch compiles shaders)');
    report.epochs = {};
    for (const model of models) {
      const gpu = runChild(gpuEnv, 'epoch', model);
      const cpu = runChild({ D2L_BACKEND: 'tensorflow' }, 'epoch', model);
      report.epochs[model] = { webgpu: gpu, tensorflow: cpu };
      if (gpu.error) {
        problems.push(`${model} on webgpu: ${gpu.error.split('\n')[0]}`);
        console.log(`  ${model.padEnd(8)} webgpu FAILED: ${gpu.error}`);
        continue;
      }
      const cpuText = cpu.error ? `native CPU not available (${(/Error: (.*)/.exec(cpu.error) ?? [])[1] ?? cpu.error.split('\n')[0]})`
        : `tensorflow ${fmt(cpu.second.seconds)} s (${cpu.device}), loss ${fmt(cpu.second.trainLoss, 4)}`;
      console.log(`  ${model.padEnd(8)} webgpu ${fmt(gpu.second.seconds)} s (first ${fmt(gpu.first.seconds)} s), loss ` +
        `${fmt(gpu.second.trainLoss, 4)}, acc ${fmt(gpu.second.trainAcc)} | ${cpuText}` +
        (cpu.error ? '' : ` → webgpu/cpu ${fmt(gpu.second.seconds / cpu.second.seconds, 2)}x`));
      if (!Number.isFinite(gpu.second.trainLoss)) problems.push(`${model}: loss ${gpu.second.trainLoss} on webgpu`);
      if (!cpu.error && Math.abs(gpu.second.trainLoss - cpu.second.trainLoss) > EPOCH_LOSS_TOL * Math.max(1, cpu.second.trainLoss)) {
        problems.push(`${model}: webgpu loss ${gpu.second.trainLoss} vs native ${cpu.second.trainLoss}`);
      }
      if (gpu.leaked !== 0) problems.push(`${model}: ${gpu.leaked} tensors leaked per epoch on webgpu`);
    }
  } else {
    console.log('\nNo GPU adapter: this machine has no GPU Dawn can use. Checking on SwiftShader (a CPU Vulkan) instead.');
    const ss = webgpu.findSwiftShader();
    if (!ss.icd) {
      console.log(`  SwiftShader not available: ${ss.missing}. Nothing more to check here.`);
      report.swiftShader = ss;
    } else {
      const env = { D2L_BACKEND: 'webgpu', VK_ICD_FILENAMES: ss.icd };
      report.ops = checkOps(env, 'SwiftShader', problems);
      console.log('\n2. three training steps per model (two short epochs), webgpu on SwiftShader vs cpu');
      report.steps = {};
      for (const model of models) {
        const t0 = performance.now();
        const r = runChild(env, 'steps', model);
        report.steps[model] = r;
        if (r.error) {
          problems.push(`${model} steps: ${r.error.split('\n')[0]}`);
          console.log(`  ${model.padEnd(8)} FAILED: ${r.error}`);
          continue;
        }
        const dl = Math.abs(r.got.trainLoss - r.ref.trainLoss);
        const same = dl <= 1e-4 * Math.max(1, Math.abs(r.ref.trainLoss)) && r.got.trainAcc === r.ref.trainAcc;
        console.log(`  ${model.padEnd(8)} loss ${fmt(r.got.trainLoss, 5)} vs cpu ${fmt(r.ref.trainLoss, 5)}, acc ` +
          `${fmt(r.got.trainAcc)} vs ${fmt(r.ref.trainAcc)} — ${same ? 'same' : 'MISMATCH'} (${fmt((performance.now() - t0) / 1000, 1)} s)`);
        if (!same) problems.push(`${model}: webgpu loss ${r.got.trainLoss} vs cpu ${r.ref.trainLoss}`);
      }
    }
  }
  report.problems = problems;
  if (jsonAt) fs.writeFileSync(jsonAt, JSON.stringify(report, null, 1));
  console.log(problems.length === 0 ? '\ncheck:gpu passed' : `\ncheck:gpu FAILED: ${problems.join('; ')}`);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[2] === '--child') {
  childMain(process.argv[3], process.argv[4]).catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
} else {
  if (!fs.existsSync(path.join(HERE, '../dist/lib/engine/webgpu.js')) && !process.env.D2L_BUNDLED) {
    console.error('check:gpu: the library is not built (npm run build)');
    process.exit(1);
  }
  parentMain(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(1);
  });
}
