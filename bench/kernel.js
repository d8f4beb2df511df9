#!/usr/bin/env node
/**
 * Kernel benchmark (not a test: it prints numbers, ratios and PASS/MISS against targets,
 * and exits 0 unless a kernel fails to start or to answer correctly).
 *
 *   node bench/kernel.js                  # table
 *   node bench/kernel.js --json           # one JSON line with every number
 *   node bench/kernel.js --compare-stock  # also measure stock tslab (1. and 2.) and print ours/stock
 *
 * Other knobs (defaults are the benchmark's definition; change them only for quick runs):
 *   --starts=N (5)  --warmup=N (5)  --trips=N (100)  --soak=N (1000; 0 skips it)  --no-startup-breakdown
 *
 * What is measured, through the Jupyter protocol client of dist/jupyter/client.js (outputs: dist/runner/outputs.js):
 *  1. start -> first result, median of N fresh kernels: "start-to-ready" is KernelClient.start()
 *     (spawn, kernel_info_reply and iopub connected), "ready-to-first-result" is from sending
 *     `1 + 1` to the arrival of its result (execute_result; stock tslab: the stdout stream).
 *  2. round trip of `1 + 1` (execute_request sent -> execute_reply and status idle received),
 *     median and p90 of N after W warm-up executes.
 *  3. soak on a fresh kernel: N cells in a row, cell i is `const v${i} = ${i}`, every 10th cell also
 *     ends with the expression `v${i} + 1` (checked); round-trip median of the first 100 cells vs the
 *     last 100, and the kernel's VmRSS (/proc/<pid>/status) before and right after (the target as
 *     specified), plus VmRSS after the kernel idled until V8's memory reducer ran (up to 30 s) and
 *     the live JS heap after a forced full GC (a cell in the kernel), which tell a leak apart from
 *     garbage that V8 had not collected yet in a busy process.
 *  Start-up breakdown (informational): a separate `node` process times, in the order the kernel
 *  does them, Node boot, require of zeromq / TypeScript / tslab / the kernel modules,
 *  createConverter (CellExecutor.init) and the first compiles.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const CLIENT = path.join(ROOT, 'dist', 'jupyter', 'client.js');
const OUTPUTS = path.join(ROOT, 'dist', 'runner', 'outputs.js');
const MAIN = path.join(ROOT, 'dist', 'kernel', 'main.js');
const NOTEBOOKS = path.join(ROOT, 'notebooks');
const STOCK_BIN = path.join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab');

// ---------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const num = (name, def, min = 1) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  if (!a) return def;
  const n = Number(a.slice(name.length + 3));
  if (!Number.isInteger(n) || n < min) usage(`--${name} needs an integer >= ${min}`);
  return n;
};
function usage(msg) {
  console.error(`bench/kernel.js: ${msg}\nusage: node bench/kernel.js [--json] [--compare-stock] [--starts=N] [--warmup=N] [--trips=N] [--soak=N] [--no-startup-breakdown]`);
  process.exit(2);
}
const KNOWN = ['json', 'compare-stock', 'no-startup-breakdown', 'help', 'starts', 'warmup', 'trips', 'soak'];
for (const a of argv) {
  const name = a.replace(/^--/, '').replace(/=.*$/, '');
  if (!a.startsWith('--') || !KNOWN.includes(name)) usage(`unknown argument ${a}`);
}
if (flag('help')) usage('help');
const OPT = {
  json: flag('json'),
  compareStock: flag('compare-stock'),
  breakdown: !flag('no-startup-breakdown'),
  starts: num('starts', 5),
  warmup: num('warmup', 5),
  trips: num('trips', 100),
  soak: num('soak', 1000, 0), // 0: no soak (npm run bench's quick kernel numbers)
};

const TARGET = { firstResultMs: 2000, roundTripMs: 30, soakRatio: 2, rssGrowthMB: 100 };
const STOCK_REF = { firstResultMs: 4300, roundTripMs: 80 }; // measured earlier, for the table's notes

const unbuilt = [CLIENT, OUTPUTS, MAIN].find((f) => !fs.existsSync(f));
if (unbuilt) {
  console.error(`bench/kernel.js: the kernel is not built (${path.relative(ROOT, unbuilt)} is missing).\nRun \`npm run build\` in ${ROOT} first.`);
  process.exit(1);
}
const { KernelClient } = require(CLIENT);
const { executeCell } = require(OUTPUTS);

// ---------------------------------------------------------------------------
// Helpers

const now = () => performance.now();
const log = (s) => { if (!OPT.json) process.stderr.write(s + '\n'); };

function quantile(xs, q) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

function rssKB(pid, field = 'VmRSS') {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

class BenchFailure extends Error {}

const KERNELS = {
  ours: {
    label: 'd2l-ts',
    argv: [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'],
    // Our kernel answers with an execute_result.
    resultOf: (msg) => (msg.header.msg_type === 'execute_result' ? String(msg.content.data?.['text/plain'] ?? '') : undefined),
    stop: (kc) => kc.shutdown(),
  },
  stock: {
    label: 'stock tslab',
    argv: [process.execPath, STOCK_BIN, 'kernel', '--config-path', '{connection_file}'],
    // Stock tslab console.logs the last expression: a stdout stream, no execute_result.
    resultOf: (msg) => (msg.header.msg_type === 'stream' && msg.content.name === 'stdout' ? String(msg.content.text).trim() : undefined),
    // It handles shutdown_request only on shell, so a control shutdown would just time out: kill it.
    stop: (kc) => kc.kill(),
  },
};

async function startKernel(kind) {
  const k = KERNELS[kind];
  try {
    // D2L_HISTORY=0: benchmark cells stay out of the user's input history.
    return await KernelClient.start({ argv: k.argv, cwd: NOTEBOOKS, startTimeoutMs: 60000, env: { ...process.env, D2L_HISTORY: '0' } });
  } catch (e) {
    throw new BenchFailure(`${k.label} kernel failed to start: ${e.message}`);
  }
}

/**
 * Stock tslab sends without awaiting (zeromq 6 allows one pending send per socket), so now and then
 * it drops an iopub message (seen: the `status: idle` after ~240 executes; its reply still comes).
 * kc.execute would then wait for ever, so for stock tslab we track the reply, the result and idle
 * ourselves and accept a missing idle/result 1 s after the reply (counted in `lostMessages`).
 */
const STOCK_GRACE_MS = 1000;
let stockLostMessages = 0;
function executeLoose(kc, kind, code, timeoutMs) {
  const k = KERNELS[kind];
  const { msgId, frames } = kc.encode('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  return new Promise((resolve, reject) => {
    const t0 = now();
    let reply, idleAt, resultAt, result, grace;
    let finished = false;
    const timer = setTimeout(() => done(new BenchFailure(`${k.label} did not answer ${JSON.stringify(code)} within ${timeoutMs} ms`)), timeoutMs);
    const off = kc.onMessage((m) => {
      if (m.parent_header?.msg_id !== msgId) return;
      const t = now();
      if (m.channel === 'shell' && m.header.msg_type === 'execute_reply') reply = { msg: m, t };
      if (m.channel === 'iopub') {
        const v = k.resultOf(m);
        if (v !== undefined && resultAt === undefined) [resultAt, result] = [t, v];
        if (m.header.msg_type === 'status' && m.content.execution_state === 'idle') idleAt = t;
      }
      if (reply && idleAt !== undefined) done();
      else if (reply && !grace) grace = setTimeout(() => { stockLostMessages++; done(); }, STOCK_GRACE_MS);
    });
    kc.waitForExit().then(() => done(new BenchFailure(`${k.label} exited while running ${JSON.stringify(code)}`)));
    kc.sendRaw('shell', frames).catch((e) => done(new BenchFailure(`${k.label}: send failed: ${e.message}`)));
    function done(err) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(grace);
      off();
      if (err) return reject(err);
      // With a lost idle, the reply's arrival stands in for it (idle follows the reply immediately).
      const end = Math.max(reply.t, idleAt ?? reply.t, resultAt ?? 0);
      resolve({ reply: reply.msg, ms: end - t0, resultMs: (resultAt ?? reply.t) - t0, result });
    }
  });
}

/**
 * Executes `code`; resolves with the round trip (send -> reply + idle), the arrival time of the
 * result relative to the send, and the result text. Throws BenchFailure on an error reply or a
 * wrong result.
 */
async function run(kc, kind, code, expect) {
  const k = KERNELS[kind];
  if (kind === 'stock') {
    const r = await executeLoose(kc, kind, code, 60000);
    const c = r.reply.content;
    if (c.status !== 'ok') throw new BenchFailure(`${k.label}: ${JSON.stringify(code)} -> ${c.status} ${c.ename ?? ''}: ${c.evalue ?? ''}`);
    if (expect !== undefined && r.result === undefined) stockLostMessages++;
    if (expect !== undefined && r.result !== undefined && r.result !== expect) {
      throw new BenchFailure(`${k.label}: ${JSON.stringify(code)} gave ${JSON.stringify(r.result)}, expected ${JSON.stringify(expect)}`);
    }
    return r;
  }
  let resultAt;
  let result;
  const t0 = now();
  let r;
  try {
    r = await kc.execute(code, {
      timeoutMs: 60000,
      onIopub: (msg) => {
        if (resultAt !== undefined) return;
        const v = k.resultOf(msg);
        if (v !== undefined) {
          resultAt = now();
          result = v;
        }
      },
    });
  } catch (e) {
    throw new BenchFailure(`${k.label} did not answer ${JSON.stringify(code)}: ${e.message}`);
  }
  const t1 = now();
  const c = r.reply.content;
  if (c.status !== 'ok') throw new BenchFailure(`${k.label}: ${JSON.stringify(code)} -> ${c.status} ${c.ename ?? ''}: ${c.evalue ?? ''}`);
  if (expect !== undefined && result !== expect) {
    throw new BenchFailure(`${k.label}: ${JSON.stringify(code)} gave ${JSON.stringify(result)}, expected ${JSON.stringify(expect)}`);
  }
  return { ms: t1 - t0, resultMs: resultAt === undefined ? undefined : resultAt - t0 };
}

// ---------------------------------------------------------------------------
// 1. start -> first result

async function measureStart(kind) {
  const rows = [];
  for (let i = 0; i < OPT.starts; i++) {
    const t0 = now();
    const kc = await startKernel(kind);
    const ready = now() - t0;
    try {
      const r = await run(kc, kind, '1 + 1', '2');
      rows.push({ startToReadyMs: ready, readyToFirstResultMs: r.resultMs, totalMs: ready + r.resultMs });
      log(`  [${KERNELS[kind].label}] start ${i + 1}/${OPT.starts}: ready ${ready.toFixed(0)} ms + first result ${r.resultMs.toFixed(0)} ms`);
    } finally {
      await KERNELS[kind].stop(kc);
    }
  }
  return {
    runs: rows.map((r) => ({ startToReadyMs: round(r.startToReadyMs), readyToFirstResultMs: round(r.readyToFirstResultMs), totalMs: round(r.totalMs) })),
    startToReadyMs: round(median(rows.map((r) => r.startToReadyMs))),
    readyToFirstResultMs: round(median(rows.map((r) => r.readyToFirstResultMs))),
    // The median of the per-kernel sums (not the sum of the medians).
    totalMs: round(median(rows.map((r) => r.totalMs))),
  };
}

// ---------------------------------------------------------------------------
// 2. round trip of a trivial cell

async function measureRoundTrip(kind) {
  const kc = await startKernel(kind);
  try {
    for (let i = 0; i < OPT.warmup; i++) await run(kc, kind, '1 + 1', '2');
    const ms = [];
    for (let i = 0; i < OPT.trips; i++) ms.push((await run(kc, kind, '1 + 1', '2')).ms);
    log(`  [${KERNELS[kind].label}] ${OPT.trips} round trips: median ${median(ms).toFixed(1)} ms, p90 ${quantile(ms, 0.9).toFixed(1)} ms`);
    return {
      n: ms.length,
      medianMs: round(median(ms)),
      p90Ms: round(quantile(ms, 0.9)),
      minMs: round(Math.min(...ms)),
      maxMs: round(Math.max(...ms)),
      rssMB: round(rssKB(kc.pid) / 1024),
    };
  } finally {
    await KERNELS[kind].stop(kc);
  }
}

// ---------------------------------------------------------------------------
// 3. soak

/**
 * A cell that forces a full GC in the kernel (--expose-gc switched on at run time) and returns
 * process.memoryUsage(): tells live memory apart from garbage V8 has not collected yet.
 */
const MEMORY_CELL = `(() => {
  require('v8').setFlagsFromString('--expose-gc');
  const gc = require('vm').runInNewContext('gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return [m.rss, m.heapTotal, m.heapUsed, m.external].join(' ');
})()`;

async function kernelMemory(kc) {
  const r = await executeCell(kc, MEMORY_CELL, { timeoutMs: 60000 });
  const out = r.outputs.find((o) => o.output_type === 'execute_result');
  const text = String(out?.data?.['text/plain'] ?? '').replace(/^'|'$/g, '');
  const [rss, heapTotal, heapUsed, external] = text.split(' ').map((x) => round(Number(x) / 1048576));
  if (r.reply.content.status !== 'ok' || !Number.isFinite(heapUsed)) {
    log(`  [soak] memory cell failed: ${r.reply.content.evalue ?? text}`);
    return undefined;
  }
  return { rssMB: rss, heapTotalMB: heapTotal, heapUsedMB: heapUsed, externalMB: external };
}

/**
 * V8 collects lazily while a process is busy and its memory reducer shrinks the heap only after
 * some idle seconds (about 5-10 s here). Polls VmRSS each second for up to `maxS` seconds and
 * returns once it has dropped and held still for 3 polls, or at the limit.
 */
async function settledRssKB(pid, maxS = 30) {
  const start = rssKB(pid);
  let prev = start;
  let still = 0;
  for (let s = 0; s < maxS; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    const cur = rssKB(pid);
    still = Math.abs(cur - prev) < 2048 ? still + 1 : 0;
    prev = cur;
    if (cur < start * 0.95 && still >= 3) return { kb: cur, waitedS: s + 1 };
  }
  return { kb: prev, waitedS: maxS };
}

async function measureSoak() {
  const kind = 'ours';
  const kc = await startKernel(kind);
  try {
    for (let i = 0; i < OPT.warmup; i++) await run(kc, kind, '1 + 1', '2');
    const rssBefore = rssKB(kc.pid);
    const memBefore = await kernelMemory(kc);
    const ms = [];
    const checkpoints = [];
    const window = Math.min(100, Math.max(1, Math.floor(OPT.soak / 2)));
    const t0 = now();
    for (let i = 0; i < OPT.soak; i++) {
      const last = i % 10 === 9;
      const code = `const v${i} = ${i}` + (last ? `\nv${i} + 1` : '');
      ms.push((await run(kc, kind, code, last ? String(i + 1) : undefined)).ms);
      if ((i + 1) % 100 === 0 || i + 1 === OPT.soak) {
        const chunk = ms.slice(-Math.min(100, ms.length));
        checkpoints.push({ cells: i + 1, medianMs: round(median(chunk)), rssMB: round(rssKB(kc.pid) / 1024) });
        log(`  [soak] ${i + 1}/${OPT.soak} cells: median of last ${chunk.length} ${median(chunk).toFixed(1)} ms, RSS ${(rssKB(kc.pid) / 1024).toFixed(0)} MB`);
      }
    }
    const totalS = (now() - t0) / 1000;
    const rssAfter = rssKB(kc.pid);
    const rssPeak = rssKB(kc.pid, 'VmHWM');
    log('  [soak] waiting for the kernel to settle (V8 memory reducer)...');
    const settled = await settledRssKB(kc.pid);
    const memAfter = await kernelMemory(kc);
    const first = median(ms.slice(0, window));
    const lastMed = median(ms.slice(-window));
    return {
      cells: OPT.soak,
      window,
      totalS: round(totalS, 2),
      firstMedianMs: round(first),
      lastMedianMs: round(lastMed),
      ratio: round(lastMed / first, 2),
      rssBeforeMB: round(rssBefore / 1024),
      rssAfterMB: round(rssAfter / 1024),
      rssGrowthMB: round((rssAfter - rssBefore) / 1024),
      rssPeakMB: round(rssPeak / 1024),
      rssSettledMB: round(settled.kb / 1024),
      rssSettledGrowthMB: round((settled.kb - rssBefore) / 1024),
      settleWaitS: settled.waitedS,
      // After a forced full GC, before the soak and after it (and after the settle wait).
      liveBefore: memBefore,
      liveAfter: memAfter,
      liveHeapGrowthMB: memBefore && memAfter ? round(memAfter.heapUsedMB - memBefore.heapUsedMB) : undefined,
      checkpoints,
    };
  } finally {
    await KERNELS[kind].stop(kc);
  }
}

// ---------------------------------------------------------------------------
// Start-up breakdown: the kernel's start-up steps, timed in a separate process

const BREAKDOWN_SCRIPT = String.raw`
const t = [['node boot (process start -> first line)', performance.now()]];
let last = performance.now();
const step = (name, fn) => { const r = fn(); const n = performance.now(); t.push([name, n - last]); last = n; return r; };
const root = process.argv[1];
step('require zeromq', () => require('zeromq'));
step('require @tslab/typescript-for-tslab', () => require('@tslab/typescript-for-tslab'));
step('require tslab converter+executor', () => { require('tslab/dist/converter'); require('tslab/dist/executor'); });
const { CellExecutor } = step('require dist/kernel (server, executor, display)', () => { require(root + '/dist/kernel/server.js'); require(root + '/dist/kernel/display.js'); return require(root + '/dist/kernel/executor.js'); });
const { DISPLAY_DECLARATIONS } = require(root + '/dist/kernel/display.js');
const ex = new CellExecutor(process.cwd(), DISPLAY_DECLARATIONS, {});
const ts = require('@tslab/typescript-for-tslab');
ts.performance.enable();
step('createConverter (CellExecutor.init)', () => ex.init());
t.push(['  of which TypeScript parse (lib + @types)', ts.performance.getDuration('Parse')]);
t.push(['  of which TypeScript bind', ts.performance.getDuration('Bind')]);
t.push(['  of which module/type resolution', ts.performance.getDuration('ResolveModule') + ts.performance.getDuration('ResolveTypeReference')]);
ts.performance.disable();
(async () => {
  let a = performance.now();
  const r1 = await ex.execute('1 + 1', 1);
  t.push(['first compile+run of 1 + 1', performance.now() - a]);
  a = performance.now();
  await ex.execute('1 + 1', 2);
  t.push(['second compile+run of 1 + 1', performance.now() - a]);
  a = performance.now();
  await ex.execute('const x: number = 3; x * 2', 3);
  t.push(['third cell (declaration)', performance.now() - a]);
  process.stdout.write(JSON.stringify({ steps: t, ok: r1.status === 'ok' && r1.value === 2 }) + '\n');
  ex.close();
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

function measureBreakdown() {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['-e', BREAKDOWN_SCRIPT, ROOT], { cwd: NOTEBOOKS, encoding: 'utf8', timeout: 120000 });
    const line = (r.stdout || '').trim().split('\n').pop();
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      log(`  [breakdown] failed (exit ${r.status}): ${(r.stderr || '').trim().slice(-500)}`);
      return undefined;
    }
    runs.push(parsed.steps);
  }
  // Per-step median over the runs.
  return runs[0].map(([name], j) => ({ step: name, ms: round(median(runs.map((s) => s[j][1]))) }));
}

// ---------------------------------------------------------------------------
// Report

function table(rows) {
  const head = ['metric', 'value', 'target', 'result'];
  const all = [head, ...rows.map((r) => [r[0], r[1], r[2] ?? '', r[3] ?? ''])];
  const w = head.map((_, j) => Math.max(...all.map((r) => String(r[j]).length)));
  const line = (r) => r.map((c, j) => String(c).padEnd(w[j])).join('  ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...all.slice(1).map(line)].join('\n');
}
const verdict = (ok) => (ok ? 'PASS' : 'MISS');

async function main() {
  const cpus = require('os').cpus();
  const result = {
    machine: { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model ?? '' },
    options: OPT,
    targets: TARGET,
  };
  log(`kernel benchmark: node ${process.version}, ${cpus.length} cores (${cpus[0]?.model ?? '?'})`);

  log('1. start -> first result');
  result.start = await measureStart('ours');
  log('2. round trip of 1 + 1');
  result.roundTrip = await measureRoundTrip('ours');
  if (OPT.soak > 0) {
    log(`3. soak (${OPT.soak} cells)`);
    result.soak = await measureSoak();
  }
  if (OPT.breakdown) {
    log('start-up breakdown');
    result.startupBreakdown = measureBreakdown();
  }
  if (OPT.compareStock) {
    if (!fs.existsSync(STOCK_BIN)) {
      log(`stock tslab not found at ${STOCK_BIN}; skipping --compare-stock`);
    } else {
      log('4. stock tslab');
      const start = await measureStart('stock');
      const roundTrip = await measureRoundTrip('stock');
      result.stock = {
        start,
        roundTrip,
        lostMessages: stockLostMessages,
        ratio: {
          firstResult: round(result.start.totalMs / start.totalMs, 2),
          startToReady: round(result.start.startToReadyMs / start.startToReadyMs, 2),
          roundTripMedian: round(result.roundTrip.medianMs / roundTrip.medianMs, 2),
          roundTripP90: round(result.roundTrip.p90Ms / roundTrip.p90Ms, 2),
        },
      };
    }
  }

  const s = result.start;
  const rt = result.roundTrip;
  const sk = result.soak;
  result.verdicts = {
    firstResult: s.totalMs <= TARGET.firstResultMs,
    roundTrip: rt.medianMs <= TARGET.roundTripMs,
    ...(sk ? {
      soakRatio: sk.ratio <= TARGET.soakRatio,
      rssGrowth: sk.rssGrowthMB <= TARGET.rssGrowthMB,
      rssSettledGrowth: sk.rssSettledGrowthMB <= TARGET.rssGrowthMB,
    } : {}),
  };

  if (OPT.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const ms = (x) => `${x} ms`;
  const rows = [
    [`start -> ready (median of ${OPT.starts})`, ms(s.startToReadyMs)],
    ['ready -> first result of 1 + 1', ms(s.readyToFirstResultMs)],
    ['start -> first result (sum)', ms(s.totalMs), `<= ${TARGET.firstResultMs} ms (stock ~${STOCK_REF.firstResultMs})`, verdict(result.verdicts.firstResult)],
    [`round trip 1 + 1, median of ${rt.n}`, ms(rt.medianMs), `<= ${TARGET.roundTripMs} ms (stock ~${STOCK_REF.roundTripMs})`, verdict(result.verdicts.roundTrip)],
    ['round trip 1 + 1, p90', ms(rt.p90Ms)],
    ['round trip 1 + 1, min / max', `${rt.minMs} / ${rt.maxMs} ms`],
  ];
  if (sk) rows.push(
    [`soak: ${sk.cells} cells, total`, `${sk.totalS} s`],
    [`soak: median first ${sk.window} / last ${sk.window}`, `${sk.firstMedianMs} / ${sk.lastMedianMs} ms`],
    ['soak: slowdown last/first', `${sk.ratio}x`, `<= ${TARGET.soakRatio}x`, verdict(result.verdicts.soakRatio)],
    ['soak: kernel RSS before -> after', `${sk.rssBeforeMB} -> ${sk.rssAfterMB} MB (peak ${sk.rssPeakMB})`],
    ['soak: RSS growth, right after the last cell', `${sk.rssGrowthMB} MB`, `<= ${TARGET.rssGrowthMB} MB`, verdict(result.verdicts.rssGrowth)],
    [`soak: RSS growth after ${sk.settleWaitS} s idle`, `${sk.rssSettledGrowthMB} MB (RSS ${sk.rssSettledMB} MB)`, `<= ${TARGET.rssGrowthMB} MB`, verdict(result.verdicts.rssSettledGrowth)],
  );
  if (sk?.liveBefore && sk.liveAfter) {
    rows.push(['soak: live JS heap after full GC, before -> after', `${sk.liveBefore.heapUsedMB} -> ${sk.liveAfter.heapUsedMB} MB (+${sk.liveHeapGrowthMB})`]);
  }
  if (result.stock) {
    const st = result.stock;
    rows.push(
      ['stock: start -> ready', ms(st.start.startToReadyMs)],
      ['stock: ready -> first result', ms(st.start.readyToFirstResultMs)],
      ['stock: start -> first result (sum)', ms(st.start.totalMs)],
      ['stock: round trip median / p90', `${st.roundTrip.medianMs} / ${st.roundTrip.p90Ms} ms`],
      ['stock: iopub messages it dropped', String(st.lostMessages)],
      ['ours/stock: start -> first result', `${st.ratio.firstResult}x`],
      ['ours/stock: round trip median / p90', `${st.ratio.roundTripMedian}x / ${st.ratio.roundTripP90}x`],
    );
  }
  console.log(`\nd2l-ts kernel benchmark (node ${process.version}, ${cpus.length} cores)\n`);
  console.log(table(rows));
  if (sk) console.log(`\nsoak trend (median of each 100 cells, kernel RSS):`);
  if (sk) console.log('  ' + sk.checkpoints.map((c) => `${c.cells}: ${c.medianMs} ms/${c.rssMB} MB`).join(', '));
  if (result.startupBreakdown) {
    console.log('\nstart-up breakdown (separate process, steps in kernel order, median of 3):');
    const w = Math.max(...result.startupBreakdown.map((b) => b.step.length));
    for (const b of result.startupBreakdown) console.log(`  ${b.step.padEnd(w)}  ${String(b.ms).padStart(7)} ms`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench/kernel.js: ${e instanceof BenchFailure ? e.message : e?.stack ?? e}`);
    process.exit(1);
  },
);
