#!/usr/bin/env node
/*
 * `npm run bench` (node bench/epochs.js) — training speed of the course models. A benchmark, never a test: it prints
 * numbers, ratios to PyTorch and PASS/MISS against targets, and exits 0 whatever they are (2 on a usage error, 1 when
 * the lib is not built).
 *
 *   node bench/epochs.js                       # every model on every backend (tensorflow with compiled steps,
 *                                              # tensorflow-eager = D2L_COMPILE=0, wasm; cpu: softmax only)
 *   node bench/epochs.js --quick               # smoke run: softmax + mlp on the backend d2l picks (~30 s)
 *   node bench/epochs.js --models softmax,mlp --backends tensorflow
 *   node bench/epochs.js --json                # progress on stderr, ONE JSON line on stdout:
 *        {"backend": best, "softmax": s, "mlp": s, "lenet": s, "torch": {...}, "backends": {...}, ...}
 *   --no-torch       skip the PyTorch anchor (ratios then use the recorded reference below)
 *   --with-torch     if `import torch` fails in the anchor's Python, pip-install torch into it first
 *                    (.venv; on this machine from the local wheel/index, never the public index)
 *   --python PATH    Python for the anchor (default: $D2L_BENCH_PYTHON, else .venv/bin/python, else python3)
 *   --rounds N       N interleaved rounds per model (PyTorch, then each backend, N times); the MEDIAN round counts
 *                    (PyTorch's own epoch time drifts by minutes on a shared machine: compare like with like)
 *   --verbose        pass the children's stderr through
 *   --no-kernel      skip the kernel numbers (start → first result, trivial round trip; from bench/kernel.js)
 *   --lessons        also time the full lessons run (`npm run lessons`: every notebook, full epochs; minutes)
 *
 * What is measured. Fashion-MNIST (d2l.loadDataFashionMnist, batch 256, 60000 train images → 235 batches, shuffled
 * each epoch), one warm-up epoch, then 5 timed epochs (LeNet 2; `--repeat N`) of which the FASTEST counts (the least
 * disturbed by other work on a shared machine), through the lib's own training code, as the notebooks call it:
 *   softmax  lecture 09 from scratch: W [784,10] ~ N(0, 0.01), b = 0, d2l.softmax / d2l.crossEntropy, lr 0.1 and the
 *            scratch updater (batchSize, grads) => d2l.sgd([W, b], grads, 0.1, batchSize) — d2l.trainEpochCh3
 *   mlp      lecture 10 concise: flatten, dense 256 (N(0, 0.01)), reLU, dense 10, d2l.softmaxCrossEntropy,
 *            tf.train.sgd(0.1) — d2l.trainEpochCh3
 *   lenet    lecture 23: the sigmoid LeNet, d2l.trainCh6(net, train, test, 1, 0.9, d2l.tryGpu(), {animator: false})
 *            (Xavier re-init, tf.train.sgd(0.9)); s/epoch is trainCh6's own training time (its examples/sec), the
 *            test-set evaluation it does after the epoch is reported separately (wall).
 * Each (backend, model) runs in its own child process (tfjs has one backend per process; D2L_BACKEND picks it), so
 * peak RSS (/proc/self/status VmHWM) is per model and includes the backend and the data set. tf.memory().numTensors
 * is read before and after the timed epoch and must not change.
 *
 * PyTorch anchor: bench/torch_anchor.py trains the same three models (d2l's PyTorch code, torch.set_num_threads(2))
 * on the same uint8 arrays, which this script dumps from the lib's loader to $TMPDIR/d2l-bench/ (train-images.u8,
 * train-labels.u8, meta.json), same batch size, same number and sizes of batches, per-batch uint8 → float scaling
 * inside the timed epoch like d2l-ts, one warm-up epoch then the same number of timed epochs (fastest counts), one process per model. If torch cannot
 * be imported the anchor prints "PyTorch anchor skipped: <reason> …" and the ratios use TORCH_RECORDED.
 * Targets (d2l-ts s/epoch ÷ PyTorch s/epoch): tensorflow (compiled steps) softmax ≤ 0.6×, mlp ≤ 0.9×, lenet ≤ 0.9×;
 * tensorflow-eager ≤ 1.5× for all three; wasm softmax ≤ 3×, mlp ≤ 3×, lenet ≤ 5×; cpu has none (the last resort).
 *
 * Timings are wall clock on a shared 2-core machine: the load average is printed; rerun when it is above ~1.5.
 * Install PyTorch for the anchor on this machine (offline): .venv/bin/pip install 'torch==2.13.0+cpu' numpy
 * with PIP_INDEX_URL=file:///opt/pypi/simple PIP_EXTRA_INDEX_URL=file:///opt/pypi-more/simple (or --with-torch).
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'lib');
const ANCHOR = path.join(__dirname, 'torch_anchor.py');
const DATA_DIR = path.join(os.tmpdir(), 'd2l-bench');
const { MODELS, buildModel } = require('./models');
/** `tensorflow` trains with compiled steps (lib/engine/compile.ts); `tensorflow-eager` is the same with D2L_COMPILE=0. */
const BACKENDS = ['tensorflow', 'tensorflow-eager', 'wasm', 'cpu'];
/** The cpu backend runs softmax only: LeNet on it takes most of an hour per epoch. */
const CPU_MODELS = ['softmax'];
const BATCH_SIZE = 256;
/**
 * Timed epochs per model (after the warm-up); the fastest counts. Sub-second epochs get 5 tries (the minimum of 5 is
 * far steadier on a shared machine than of 3); LeNet's epochs are long enough to be steadier with 2.
 */
const repeatsFor = (model) => (model === 'lenet' ? 2 : 5);
/** d2l-ts ÷ PyTorch, per backend and model. */
const TARGETS = {
  tensorflow: { softmax: 0.6, mlp: 0.9, lenet: 0.9 }, // compiled steps: one TF call per step
  'tensorflow-eager': { softmax: 1.5, mlp: 1.5, lenet: 1.5 },
  wasm: { softmax: 3, mlp: 3, lenet: 5 },
};
/** PyTorch 2.13 CPU on this 2-core machine, s/epoch (shared/reference/tfjs-backends.md): used only when the anchor is skipped. */
const TORCH_RECORDED = { softmax: 0.09, mlp: 0.36, lenet: 2.4 };
const CHILD_TIMEOUT_MS = 30 * 60 * 1000;
/** Cores kept busy by other processes during a timed epoch above which its number is flagged as disturbed. */
const NOISY = 0.3;

// ---------------------------------------------------------------------------------------------------------------
// Options

function usage(msg) {
  console.error(`bench/epochs.js: ${msg}\nusage: node bench/epochs.js [--quick] [--models ${MODELS.join(',')}] ` +
    `[--backends ${BACKENDS.join(',')}] [--json] [--no-torch | --with-torch] [--python PATH] [--repeat N] [--rounds N] [--no-kernel] [--lessons] [--verbose]`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { models: null, backends: null, json: false, quick: false, torch: true, withTorch: false, kernel: true, lessons: false,
    python: null, verbose: false, child: null };
  const list = (i, name, known) => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) usage(`${name} needs a comma-separated list`);
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((x) => !known.includes(x));
    if (bad.length || !items.length) usage(`${name}: unknown ${bad.join(', ') || '(empty)'} (choose from ${known.join(', ')})`);
    return items;
  };
  for (let i = 0; i < argv.length; i++) {
    const [a, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    if (inline !== undefined) argv.splice(i + 1, 0, inline);
    if (a === '--json') o.json = true;
    else if (a === '--quick') o.quick = true;
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--with-torch') o.withTorch = true;
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--no-kernel') o.kernel = false;
    else if (a === '--lessons') o.lessons = true;
    else if (a === '--models') o.models = list(++i, a, MODELS);
    else if (a === '--backends') o.backends = list(++i, a, [...BACKENDS, 'auto']);
    else if (a === '--python') { o.python = argv[++i]; if (!o.python) usage('--python needs a path'); }
    else if (a === '--child') o.child = list(++i, a, MODELS)[0];
    else if (a === '--rounds') { o.rounds = Number(argv[++i]); if (!Number.isInteger(o.rounds) || o.rounds < 1) usage('--rounds needs a positive integer'); }
    else if (a === '--repeat') { o.repeat = Number(argv[++i]); if (!Number.isInteger(o.repeat) || o.repeat < 1) usage('--repeat needs a positive integer'); }
    else if (a === '--help' || a === '-h') usage('help');
    else usage(`unknown argument ${argv[i]}`);
  }
  if (o.withTorch && !o.torch) usage('--with-torch and --no-torch contradict each other');
  o.models ??= o.quick ? ['softmax', 'mlp'] : MODELS;
  // --quick: the backend d2l would pick by itself ('auto'); otherwise every backend.
  o.backends ??= o.quick ? ['auto'] : BACKENDS;
  return o;
}

/** Seconds of CPU time the whole machine has spent busy (/proc/stat, USER_HZ = 100), for the foreign-load column. */
const machineBusySeconds = () => {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f.slice(0, 8).reduce((x, y) => x + y, 0) - f[3] - f[4]) / 100; // all but idle and iowait (guest is inside user)
  } catch {
    return NaN;
  }
};
const ownCpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }; // every thread of this process

const peakRssMb = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

// ---------------------------------------------------------------------------------------------------------------
// Child: one model on the backend D2L_BACKEND names; prints one JSON line on stdout.

/**
 * One epoch; `seconds` is training time only (for LeNet: trainCh6's own timer, without its test evaluation).
 * `cpuCores`: CPU seconds this process used per wall second; `otherCores`: cores the REST of the machine kept busy
 * meanwhile (other users' work: > ~0.3 on 2 cores means the number is disturbed).
 */
async function timedEpoch(model, train, test) {
  const busy0 = machineBusySeconds();
  const own0 = ownCpuSeconds();
  const r = await model.epoch(train, test);
  const own = ownCpuSeconds() - own0;
  r.cpuCores = own / r.wallSeconds;
  r.otherCores = Math.max(0, (machineBusySeconds() - busy0 - own) / r.wallSeconds);
  return r;
}

async function child(name, repeats) {
  const t0 = performance.now();
  const d2l = require(DIST);
  const tf = require('@tensorflow/tfjs');
  const out = console.log;
  console.log = () => {}; // the lib's notices (backend line, trainCh6's lines) would mix with our JSON line
  const info = await d2l.initBackend();
  const startSeconds = (performance.now() - t0) / 1000;
  d2l.seed(0);
  const [train, test] = await d2l.loadDataFashionMnist(BATCH_SIZE, { verbose: false });
  const model = buildModel(name, d2l, tf);
  const warm = await timedEpoch(model, train, test); // kernels set up, buffers allocated
  const tensorsBefore = tf.memory().numTensors;
  // the fastest of `repeats` epochs: the least disturbed by the rest of a shared machine
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await timedEpoch(model, train, test));
  const tensorsAfter = tf.memory().numTensors;
  // time: the fastest epoch; loss and accuracy: the last one, so every backend (and PyTorch) reports the same epoch
  const last = runs[runs.length - 1];
  const r = { ...runs.reduce((a, b) => (b.seconds < a.seconds ? b : a)), trainLoss: last.trainLoss, trainAcc: last.trainAcc };
  out(JSON.stringify({
    backend: info.name, device: info.device, threads: info.threads, model: name, startSeconds,
    warmupSeconds: warm.seconds, ...r, allSeconds: runs.map((x) => x.seconds), numExamples: train.numExamples, numBatches: train.numBatches,
    examplesPerSec: train.numExamples / r.seconds, tensorsBefore, tensorsAfter, peakRssMb: peakRssMb(),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Parent

function say(o, msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

const lastLines = (s, n = 4) => String(s || '').trim().split('\n').filter(Boolean).slice(-n).join(' | ');

/** Runs one (backend, model) child; returns its JSON, or {error}. */
function runChild(o, backend, model) {
  const env = { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' };
  if (backend === 'auto') delete env.D2L_BACKEND;
  else if (backend === 'tensorflow-eager') Object.assign(env, { D2L_BACKEND: 'tensorflow', D2L_COMPILE: '0' });
  else env.D2L_BACKEND = backend;
  if (backend !== 'tensorflow-eager') delete env.D2L_COMPILE;
  const r = spawnSync(process.execPath, [__filename, '--child', model, '--repeat', String(o.repeat ?? repeatsFor(model))], {
    cwd: ROOT, env, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', o.verbose ? 'inherit' : 'pipe'],
  });
  const line = String(r.stdout || '').trim().split('\n').pop();
  if (r.status === 0 && line && line.startsWith('{')) return JSON.parse(line);
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  return { error: `${why}: ${lastLines(r.stderr) || lastLines(r.stdout) || 'no output'}` };
}

/** Writes the train split, as the lib loads it, for the PyTorch anchor. */
async function dumpData() {
  const { loadFashionMnistArrays } = require(DIST);
  const a = await loadFashionMnistArrays({ verbose: false });
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const write = (file, data) => {
    const tmp = path.join(DATA_DIR, `.${file}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(DATA_DIR, file)); // a concurrent bench never reads half a file
  };
  write('train-images.u8', a.trainImages);
  write('train-labels.u8', a.trainLabels);
  write('meta.json', JSON.stringify({ numTrain: a.numTrain, rows: a.rows, cols: a.cols, source: a.source }));
  return a.source;
}

function pythonFor(o) {
  if (o.python) return o.python;
  if (process.env.D2L_BENCH_PYTHON) return process.env.D2L_BENCH_PYTHON;
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

/** Why `import torch, numpy` fails in `py`, or null. */
function torchProblem(py) {
  const r = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 120000 });
  if (r.error) return `${py}: ${r.error.code === 'ENOENT' ? 'not found' : r.error.message}`;
  if (r.status !== 0) return `${py}: ${lastLines(r.stderr, 1) || `exit ${r.status}`}`;
  return null;
}

/**
 * --with-torch: pip-installs torch (+ numpy) into `py`. Offline machines: the pip indexes of this machine image
 * (/opt/pypi…), and torch's +cpu wheel from /opt/wheels when there is one — the index's newest torch is the
 * CUDA build (≈550 MB plus nvidia-* wheels). PIP_INDEX_URL, when set, wins.
 */
function installTorch(o, py) {
  const env = { ...process.env };
  if (!env.PIP_INDEX_URL && fs.existsSync('/opt/pypi/simple')) {
    env.PIP_INDEX_URL = 'file:///opt/pypi/simple';
    if (fs.existsSync('/opt/pypi-more/simple')) env.PIP_EXTRA_INDEX_URL = 'file:///opt/pypi-more/simple';
  }
  let spec = 'torch';
  try {
    const whl = fs.readdirSync('/opt/wheels').filter((f) => /^torch-[\d.]+\+cpu-.*\.whl$/.test(f)).sort().pop();
    if (whl) spec = path.join('/opt/wheels', whl);
  } catch { /* no local wheelhouse */ }
  say(o, `--with-torch: ${py} -m pip install ${spec} numpy (index ${env.PIP_INDEX_URL ?? 'pip default'}) …`);
  const r = spawnSync(py, ['-m', 'pip', 'install', '-q', spec, 'numpy'], {
    env, encoding: 'utf8', timeout: 15 * 60 * 1000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) say(o, `pip install failed: ${lastLines(r.stderr, 2) || r.error?.message || `exit ${r.status}`}`);
}

/** Checks (or with --with-torch installs) torch and dumps the data for the anchor: `{python, dataSource}` or `{skipped}`. */
async function prepareTorch(o) {
  const py = pythonFor(o);
  let problem = torchProblem(py);
  if (problem && o.withTorch) {
    installTorch(o, py);
    problem = torchProblem(py);
  }
  if (problem) return { skipped: problem, python: py };
  try {
    return { python: py, dataSource: await dumpData(), results: {} };
  } catch (err) {
    return { skipped: `could not dump the data set for it (${err.message})`, python: py };
  }
}

/** The PyTorch anchor for model `m` (its own process), recorded into `torch.results[m]`. */
function runTorchModel(o, torch, m) {
  say(o, `pytorch ${m} …`);
  const r = spawnSync(torch.python, [ANCHOR, '--data', DATA_DIR, '--models', m, '--batch-size', String(BATCH_SIZE), '--threads', '2',
    '--repeat', String(o.repeat ?? repeatsFor(m))], {
    cwd: ROOT, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 << 20,
    stdio: ['ignore', 'pipe', o.verbose ? 'inherit' : 'pipe'],
  });
  const line = String(r.stdout || '').trim().split('\n').pop();
  let j = null;
  try { j = JSON.parse(line); } catch { /* below */ }
  if (r.status !== 0 || !j || j.skipped) {
    torch.results[m] = { error: j?.skipped ?? `${r.error?.message ?? `exit ${r.status}`}: ${lastLines(r.stderr) || 'no output'}` };
    return;
  }
  Object.assign(torch, { torch: j.torch, threads: j.threads });
  torch.results[m] = j.results[m];
  say(o, `pytorch ${m}: ${fmt(j.results[m].seconds, 3)} s/epoch`);
}

/** Kernel start → first result and trivial round trip, from bench/kernel.js (no soak: that is bench:kernel's). */
function measureKernel(o) {
  say(o, 'kernel start and round trip …');
  const starts = 3, trips = 50;
  const r = spawnSync(process.execPath, [path.join(__dirname, 'kernel.js'), '--json', `--starts=${starts}`, `--trips=${trips}`,
    '--soak=0', '--no-startup-breakdown'], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60 * 1000, maxBuffer: 16 << 20 });
  try {
    const j = JSON.parse(String(r.stdout).trim().split('\n').pop());
    return { firstResultMs: j.start.totalMs, roundTripMs: j.roundTrip.medianMs, starts, trips };
  } catch {
    return { error: lastLines(r.stderr) || `exit ${r.status}` };
  }
}

/** --lessons: the wall time of `npm run lessons` (every notebook in a fresh kernel, full epochs). */
function measureLessons(o) {
  say(o, 'npm run lessons (every notebook, full epochs) …');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'd2l-ts.js'), 'lessons'], {
    cwd: ROOT, encoding: 'utf8', timeout: 60 * 60 * 1000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seconds = (performance.now() - t0) / 1000;
  return r.status === 0 ? { seconds, ok: true } : { seconds, ok: false, error: lastLines(r.stderr || r.stdout, 2) || `exit ${r.status}` };
}

const fmt = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
const pad = (s, n) => String(s).padStart(n);
const padEnd = (s, n) => String(s).padEnd(n);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

/** Rows of the ASCII table (first row: header), columns right-aligned except the first two. */
function table(rows) {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((v, c) => (c < 2 ? padEnd(v, w[c]) : pad(v, w[c]))).join('  ')).join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.child) return child(o.child, o.repeat ?? repeatsFor(o.child));
  if (!fs.existsSync(path.join(DIST, 'index.js'))) {
    console.error('bench/epochs.js: the lib is not built (dist/lib/index.js is missing); run `npm run build` first');
    process.exit(1);
  }
  const t0 = performance.now();
  const loadStart = load();
  let loadMax = os.loadavg()[0];
  say(o, `${o.models.join(', ')} on ${o.backends.join(', ')}${o.torch ? ' + PyTorch anchor' : ''}; load average ${loadStart} (${os.cpus().length} cores)`);

  // Model by model: PyTorch first, then each backend, so that each ratio compares runs made minutes apart at most
  // (a shared machine's speed drifts). One child process per (backend, model).
  const torch = o.torch ? await prepareTorch(o) : { skipped: 'disabled (--no-torch)' };
  const runs = {}; // backend name -> { device, threads, results: {model: r}, error? }
  const broken = new Set(); // backends that cannot load at all
  const median = (xs) => { const v = [...xs].sort((a, b) => a - b); return v[(v.length - 1) >> 1]; };
  for (const m of o.models) {
    const torchRounds = [];
    const rounds = {}; // backend name -> results of each round
    for (let round = 0; round < (o.rounds ?? 1); round++) {
      if (!torch.skipped) {
        runTorchModel(o, torch, m);
        if (torch.results[m] && !torch.results[m].error) torchRounds.push(torch.results[m]);
      }
      for (const want of o.backends) {
        if (broken.has(want) || (want === 'cpu' && !CPU_MODELS.includes(m))) continue;
        say(o, `${want} ${m}${o.rounds > 1 ? ` (round ${round + 1}/${o.rounds})` : ''} …`);
        const r = runChild(o, want, m);
        loadMax = Math.max(loadMax, os.loadavg()[0]);
        const name = want === 'tensorflow-eager' ? want : r.backend ?? want;
        const run = (runs[name] ??= { results: {} });
        if (r.error) {
          say(o, `${want} ${m}: FAILED ${r.error}`);
          run.results[m] = { error: r.error };
          // the backend itself cannot load: its other models would fail the same way
          if (/cannot use backend/.test(r.error)) { run.error = r.error; broken.add(want); }
          continue;
        }
        Object.assign(run, { device: r.device, threads: r.threads });
        (rounds[name] ??= []).push(r);
        say(o, `${name} ${m}: ${fmt(r.seconds)} s/epoch, peak RSS ${fmt(r.peakRssMb, 0)} MB, tensors ${r.tensorsBefore} → ${r.tensorsAfter}`);
      }
    }
    // the median round of each (PyTorch's too), keeping every round's time
    for (const [name, rs] of Object.entries(rounds)) {
      const mid = median(rs.map((r) => r.seconds));
      runs[name].results[m] = { ...rs.find((r) => r.seconds === mid), roundSeconds: rs.map((r) => r.seconds) };
    }
    if (torchRounds.length) {
      const mid = median(torchRounds.map((r) => r.seconds));
      torch.results[m] = { ...torchRounds.find((r) => r.seconds === mid), roundSeconds: torchRounds.map((r) => r.seconds) };
    }
  }

  if (torch.skipped) {
    const hint = o.torch ? ' (pip install torch into .venv, or run with --with-torch)' : '';
    const line = `PyTorch anchor skipped: ${torch.skipped}${hint}`;
    if (o.json) say(o, line); else console.log(line);
  }
  loadMax = Math.max(loadMax, os.loadavg()[0]);
  const kernel = o.kernel ? measureKernel(o) : null;
  const lessons = o.lessons ? measureLessons(o) : null;
  const anchor = (m) => (torch.skipped ? TORCH_RECORDED[m] : torch.results?.[m]?.seconds);

  // ratios and targets
  const cells = [];
  for (const [backend, run] of Object.entries(runs)) {
    for (const [m, r] of Object.entries(run.results)) {
      const ref = anchor(m);
      const ratio = r.error || !(ref > 0) ? null : r.seconds / ref;
      const target = TARGETS[backend]?.[m] ?? null;
      const verdict = ratio === null || target === null ? (r.error ? 'FAIL' : '-') : ratio <= target ? 'PASS' : 'MISS';
      cells.push({ backend, model: m, r, ref, ratio, target, verdict });
    }
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  const loadEnd = load();

  // best = the backend that ran the most models, in d2l's order of preference (the fastest first)
  const order = (b) => { const i = BACKENDS.indexOf(b); return i < 0 ? BACKENDS.length : i; };
  const ok = (b) => Object.values(runs[b].results).filter((r) => !r.error).length;
  const best = Object.keys(runs).sort((a, b) => ok(b) - ok(a) || order(a) - order(b))[0] ?? null;

  if (o.json) {
    const line = { backend: best };
    for (const m of MODELS) line[m] = runs[best]?.results[m]?.seconds ?? null;
    line.torch = torch.skipped
      ? { skipped: torch.skipped, recorded: TORCH_RECORDED }
      : { version: torch.torch, threads: torch.threads, ...Object.fromEntries(Object.entries(torch.results).map(([m, r]) => [m, r.seconds ?? null])),
          results: torch.results };
    line.backends = Object.fromEntries(Object.entries(runs).map(([b, run]) => [b, {
      device: run.device, threads: run.threads, ...(run.error ? { error: run.error } : {}),
      ...Object.fromEntries(Object.entries(run.results).map(([m, r]) => [m, r.error ? { error: r.error } : {
        seconds: r.seconds, examplesPerSec: r.examplesPerSec, msPerStep: (r.seconds / r.numBatches) * 1000,
        peakRssMb: r.peakRssMb, tensorsBefore: r.tensorsBefore, tensorsAfter: r.tensorsAfter, warmupSeconds: r.warmupSeconds,
        cpuCores: r.cpuCores, otherCores: r.otherCores, roundSeconds: r.roundSeconds,
        wallSeconds: r.wallSeconds, trainLoss: r.trainLoss, trainAcc: r.trainAcc,
        ...(r.testAcc !== undefined ? { testAcc: r.testAcc } : {}) }])),
    }]));
    // compiled (native TF, one call per step) and eager (D2L_COMPILE=0) side by side, with their PyTorch ratios
    for (const [key, b] of [['compiled', 'tensorflow'], ['eager', 'tensorflow-eager']]) {
      if (!runs[b]) continue;
      line[key] = Object.fromEntries(Object.entries(runs[b].results).map(([m, r]) => [m, r.error ? { error: r.error } : {
        seconds: r.seconds, msPerStep: (r.seconds / r.numBatches) * 1000, ratio: cells.find((c) => c.backend === b && c.model === m)?.ratio ?? null }]));
    }
    line.ratios = cells.map((c) => ({ backend: c.backend, model: c.model, ratio: c.ratio, target: c.target, verdict: c.verdict }));
    line.load = { start: loadStart, end: loadEnd, max1min: Number(loadMax.toFixed(2)), cores: os.cpus().length };
    if (kernel) line.kernel = kernel;
    if (lessons) line.lessons = lessons;
    line.totalSeconds = totalSeconds;
    console.log(JSON.stringify(line));
    return;
  }

  const refName = torch.skipped ? 'PyTorch (recorded)' : `PyTorch ${torch.torch ?? ''}`.trim();
  console.log(`\nd2l-ts training benchmark — the fastest of ${o.repeat ?? '5 (LeNet 2)'} Fashion-MNIST epochs (60000 images, batch ${BATCH_SIZE}, 235 steps) after one warm-up epoch\n`);
  const rows = [['backend', 'model', 's/epoch', 'ms/step', 'examples/s', 'peak RSS', 'tensors before→after', 'cores used', 'others',
    'loss', 'acc']];
  const blank = (b, m) => [b, m, 'FAILED', '', '', '', '', '', '', '', ''];
  const cores = (r) => [fmt(r.cpuCores, 2), `${fmt(r.otherCores, 2)}${r.otherCores > NOISY ? '*' : ''}`];
  for (const c of cells) {
    const r = c.r;
    if (r.error) { rows.push(blank(c.backend, c.model)); continue; }
    rows.push([c.backend, c.model, fmt(r.seconds), fmt((r.seconds / r.numBatches) * 1000, 1), Math.round(r.examplesPerSec),
      `${fmt(r.peakRssMb, 0)} MB`, `${r.tensorsBefore}→${r.tensorsAfter}${r.tensorsAfter === r.tensorsBefore ? '' : ' LEAK'}`,
      ...cores(r), fmt(r.trainLoss, 3), fmt(r.trainAcc, 3)]);
  }
  if (!torch.skipped) {
    for (const [m, r] of Object.entries(torch.results)) {
      if (r.error) rows.push(blank('pytorch', m));
      else rows.push(['pytorch', m, fmt(r.seconds, 3), fmt((r.seconds / Math.ceil(60000 / BATCH_SIZE)) * 1000, 1), Math.round(r.examplesPerSec),
        `${fmt(r.peakRssMb, 0)} MB`, '', ...cores(r), fmt(r.trainLoss, 3), fmt(r.trainAcc, 3)]);
    }
  }
  console.log(table(rows));
  console.log(`  cores used: CPU seconds per wall second of the timed epoch; others: cores other processes kept busy meanwhile` +
    ` (* above ${NOISY}: that number is disturbed)`);
  for (const [b, run] of Object.entries(runs)) {
    if (run.device) console.log(`  ${b}: ${run.device}${run.threads ? `, ${run.threads} thread${run.threads === 1 ? '' : 's'}` : ''}`);
    for (const [m, r] of Object.entries(run.results)) if (r.error) console.log(`  ${b} ${m} failed: ${r.error}`);
  }
  if (!torch.skipped) console.log(`  pytorch: torch ${torch.torch}, ${torch.threads} threads (${torch.python})`);
  if ((o.rounds ?? 1) > 1) {
    const each = (r) => (r.roundSeconds ?? []).map((x) => fmt(x)).join('/');
    console.log(`  s/epoch of each round (the median counts): ${[...cells.filter((c) => !c.r.error).map((c) => `${c.backend} ${c.model} ${each(c.r)}`),
      ...Object.entries(torch.results ?? {}).filter(([, r]) => !r.error).map(([m, r]) => `pytorch ${m} ${each(r)}`)].join('; ')}`);
  }
  const lenets = Object.entries(runs).filter(([, run]) => run.results.lenet && !run.results.lenet.error);
  if (lenets.length) {
    console.log(`  lenet s/epoch is trainCh6's training time; with its test evaluation: ${lenets.map(([b, run]) => `${b} ${fmt(run.results.lenet.wallSeconds)} s`).join(', ')}`);
  }

  console.log(`\nTargets: d2l-ts s/epoch ÷ ${refName} s/epoch${torch.skipped ? ` (${Object.entries(TORCH_RECORDED).map(([m, s]) => `${m} ${s}`).join(', ')} s)` : ''}\n`);
  const trows = [['backend', 'model', 'd2l-ts s', 'pytorch s', 'ratio', 'target', 'result']];
  for (const c of cells) {
    trows.push([c.backend, c.model, c.r.error ? 'FAILED' : fmt(c.r.seconds), fmt(c.ref, 3), c.ratio === null ? '-' : `${fmt(c.ratio, 1)}x`,
      c.target === null ? '-' : `<= ${c.target}x`, c.verdict]);
  }
  console.log(table(trows));
  const noisy = [...cells.filter((c) => !c.r.error && c.r.otherCores > NOISY).map((c) => `${c.backend} ${c.model}`),
    ...Object.entries(torch.results ?? {}).filter(([, r]) => r.otherCores > NOISY).map(([m]) => `pytorch ${m}`)];
  console.log(`\nload average (1/5/15 min, includes this bench): ${loadStart} at start, ${loadEnd} at end; highest 1-min seen ${loadMax.toFixed(2)}`);
  if (noisy.length) console.log(`other processes competed during: ${noisy.join(', ')} — those numbers are pessimistic (PyTorch's especially); rerun when idle`);
  if (kernel) {
    console.log(kernel.error ? `\nkernel: FAILED ${kernel.error}` : `\nkernel (npm run bench:kernel for the full set): start → first result ${kernel.firstResultMs} ms ` +
      `(median of ${kernel.starts}), trivial cell round trip ${kernel.roundTripMs} ms (median of ${kernel.trips})`);
  }
  if (lessons) {
    console.log(`lessons (npm run lessons, every notebook, full epochs): ${fmt(lessons.seconds, 0)} s, ${lessons.ok ? 'all passed' : `FAILED: ${lessons.error}`}`);
  }
  console.log(`total bench time ${fmt(totalSeconds, 1)} s (a benchmark: exit status 0 whatever the results)`);
}

main().catch((e) => { console.error(`bench/epochs.js: ${e.stack || e.message}`); process.exit(1); });
