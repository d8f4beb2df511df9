#!/usr/bin/env node
'use strict';
/**
 * The hub test (issue 20, `npm run test:hub`, a stage of .ci/run): a class of learners on one machine, served the
 * way a course serves them — JupyterHub, not anything of our own. The stack tested is Debian's `jupyterhub` 3.0
 * (apt, runs under /usr/bin/python3) with Debian's `configurable-http-proxy` and the classic Notebook 6.4 server as
 * `jupyterhub-singleuser`. For each N of `--learners` (default 4):
 *
 *   hub        a fresh JupyterHub in a temporary directory: DummyAuthenticator (one password), SimpleLocalProcessSpawner
 *              (no system users; homes under the temp dir), the sqlite db, cookie secret and pid files there too,
 *              free ports, and a service token whose role may create users, tokens and servers. The d2l-ts
 *              kernelspec is installed into the temp dir and found by the single-user servers through JUPYTER_PATH,
 *              so the machine's Jupyter dirs are not touched. Spawner environment: D2L_SCHEDULE=short, D2L_DATA =
 *              this machine's data dir (the offline Fashion-MNIST cache a course image ships).
 *   learners   N users created through the hub's REST API, one API token each, every single-user server started
 *              through the API. Then, all learners at once and exactly as a browser does: upload the lecture
 *              notebook (PUT /user/NAME/api/contents), open a session with a d2l-ts kernel (POST …/api/sessions),
 *              open the kernel's WebSocket (…/api/kernels/ID/channels) and run the code cells one by one
 *              (execute_request on the shell channel; iopub outputs collected into the notebook with the runner's
 *              nbclient rules, runner/outputs.ts), save the notebook back, close the session. Lectures 09 and 23,
 *              short schedule. Every executed notebook is checked against tests/golden (runner/golden.ts).
 *   kill       with N >= 2, learner 1's kernel is SIGKILLed while it trains LeNet (the lecture-23 cell that calls
 *              trainCh6): that run is reported as killed (expected, not a failure). (N = 1 has no other learner to
 *              protect and is the capacity table's baseline, so it runs every lecture to the end.) The kernel is restarted through the REST API
 *              (POST …/api/kernels/ID/restart), a new WebSocket is opened and a cell runs again on the new process
 *              (its output is checked); every other learner's golden checks must still pass.
 *
 * Measured per learner and lecture: wall time (session start to the last cell's reply), the kernel's peak RSS
 * (VmHWM of the kernel process, found by its connection file `kernel-ID.json` in /proc), its peak PSS (sampled
 * each second: shared pages such as libtensorflow's split among the kernels) and the single-user server's VmHWM. Printed as a table per N
 * (mean/max over learners), written to out/hub.json; executed notebooks in out/hub/nN/learnerK/. Ends with
 * `P passed, F failed`; exit code 1 on any failure, 2 on bad usage.
 *
 * Usage: node tests/hub/run.js [--learners N[,N…]] [--lectures 09,23] [--timeout SEC] [--time-limit SEC] [--no-kill] [--keep]
 *   --learners 1,2,4,8 runs one hub per N in sequence (the capacity table).
 * Env: D2L_JUPYTERHUB (default /usr/bin/jupyterhub, else PATH); jupyterhub-singleuser and configurable-http-proxy
 * are taken from the same folder, else PATH.
 * Needs the build (`npm run build`). Every process started here (hub, proxy, servers, kernels) is stopped at
 * the end, also on Ctrl-C / SIGTERM; the temp dir is removed (kept with --keep).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');

// ---- WebSocket: `ws` (a devDependency, what the issue asks for); without it (a production install) the WHATWG
// WebSocket built into Node (Node 20: behind --experimental-websocket, so the script re-runs itself with that flag).
// Both are used through the WHATWG API.
let WebSocketImpl;
try {
  WebSocketImpl = require('ws');
} catch {
  WebSocketImpl = globalThis.WebSocket;
}
if (!WebSocketImpl && process.execArgv.includes('--experimental-websocket')) {
  console.error('hub test: no WebSocket client: install `ws` (npm) or use Node >= 22');
  process.exit(2);
}
/** Node 20 without `ws`: this script again with --experimental-websocket; signals are passed on (its cleanup). */
function reexec() {
  const child = spawn(process.execPath, ['--experimental-websocket', ...process.execArgv, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const dist = (p) => require(path.join(ROOT, 'dist', p));
let golden, notebook, outputs, execute, kernelspec, client;
try {
  golden = dist('runner/golden.js');
  notebook = dist('runner/notebook.js');
  outputs = dist('runner/outputs.js');
  execute = dist('runner/execute.js');
  kernelspec = dist('kernel/kernelspec.js');
  client = dist('jupyter/client.js');
} catch (e) {
  console.error(`hub test: not built (${e.message.split('\n')[0]}); run \`npm run build\``);
  process.exit(2);
}

const USAGE = `usage: node tests/hub/run.js [--learners N[,N...]] [--lectures 09,23] [--timeout SEC] [--time-limit SEC] [--no-kill] [--keep]
  --learners   concurrent learners; a list runs one hub per N in sequence (default 4; e.g. 1,2,4,8)
  --lectures   lecture notebooks to run, by file-name prefix, in this order (default 09,23)
  --timeout    per-cell limit in seconds (default 600)
  --time-limit stop the whole run after SEC seconds (everything cleaned up, counted as a failure)
  --no-kill    do not kill learner 1's kernel (it is killed in lecture 23 when N >= 2)
  --keep       keep the temporary hub directory (logs, homes) for inspection`;
const OUT = path.join(ROOT, 'out');
const MAX_LEARNERS = 64;
/** The cell of lecture 23 during which learner 1's kernel is killed: the training run. */
const KILL_LECTURE = '23';
const KILL_CELL = /\btrainCh6\(/;
const KILL_AFTER_MS = 1500;
/** What runs on the restarted kernel, and what it must show. */
const RESTART_CELL = "import * as tf from '@tensorflow/tfjs';\nimport * as d2l from 'd2l-ts';\nawait d2l.initBackend();\ntf.tensor([1, 2, 3, 4]).square().sum().arraySync()";
const RESTART_RESULT = '30';

// ---- arguments --------------------------------------------------------------------------------------------------

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { learners: [4], lectures: ['09', '23'], timeoutSec: 600, timeLimitSec: null, keep: false, kill: true };
  const value = (i, name) => {
    if (i >= argv.length || argv[i].startsWith('--')) throw new UsageError(`${name}: expected a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    let [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const v = () => inline ?? value(++i, flag);
    if (flag === '--learners') {
      const s = v();
      const list = s.split(',').map((x) => x.trim());
      if (!list.length || list.some((x) => !/^[0-9]+$/.test(x) || +x < 1 || +x > MAX_LEARNERS)) {
        throw new UsageError(`--learners: expected positive integers up to ${MAX_LEARNERS}, comma-separated (e.g. 4 or 1,2,4,8), got ${JSON.stringify(s)}`);
      }
      o.learners = list.map(Number);
    } else if (flag === '--lectures') {
      const s = v();
      o.lectures = s.split(',').map((x) => x.trim()).filter(Boolean);
      if (!o.lectures.length) throw new UsageError(`--lectures: expected notebook name prefixes such as 09,23, got ${JSON.stringify(s)}`);
    } else if (flag === '--timeout') {
      const s = v();
      if (!/^[0-9]+$/.test(s) || +s < 1) throw new UsageError(`--timeout: expected a positive number of seconds, got ${JSON.stringify(s)}`);
      o.timeoutSec = +s;
    } else if (flag === '--time-limit') {
      const s = v();
      if (!/^[0-9]+$/.test(s) || +s < 1) throw new UsageError(`--time-limit: expected a positive number of seconds, got ${JSON.stringify(s)}`);
      o.timeLimitSec = +s;
    } else if (flag === '--no-kill' && inline === undefined) {
      o.kill = false;
    } else if (flag === '--keep' && inline === undefined) {
      o.keep = true;
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  o.notebooks = o.lectures.map((prefix) => {
    const dir = path.join(ROOT, 'notebooks');
    const hits = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb') && f.startsWith(prefix));
    if (hits.length !== 1) throw new UsageError(`--lectures: ${JSON.stringify(prefix)} matches ${hits.length ? hits.join(', ') : 'no notebook'} in notebooks/, expected exactly one`);
    return path.join(dir, hits[0]);
  });
  return o;
}

// ---- results ----------------------------------------------------------------------------------------------------

// pass/fail bookkeeping as the browser checks keep it (`  ok    name` / `  FAIL  name: detail`)
const { results, check, sleep } = require('../browser/harness');
const mib = (kb) => (kb == null ? null : Math.round(kb / 1024));

// ---- processes --------------------------------------------------------------------------------------------------

/** /proc/PID/status fields in kB (VmHWM, VmRSS), or null when the process is gone. */
function procMemory(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => { const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')); return m ? +m[1] : null; };
    return { hwm: kb('VmHWM'), rss: kb('VmRSS'), ppid: +(s.match(/^PPid:\s+(\d+)/m) ?? [0, 0])[1] };
  } catch {
    return null;
  }
}

/**
 * Proportional set size in kB (/proc/PID/smaps_rollup): resident memory with each shared page divided among the
 * processes that map it — what one more learner costs, since N kernels share libtensorflow's and Node's pages.
 */
function procPss(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
    return m ? +m[1] : null;
  } catch {
    return null;
  }
}

/**
 * Start time (clock ticks since boot) of a running process: with the pid, it names the process (pids are
 * reused). null when the process is gone or a zombie (exited, waiting for its parent to reap it).
 */
function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? null : fields[19];
  } catch {
    return null;
  }
}

function pids() {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

function cmdline(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch { return ''; }
}

/** The kernel process of kernel `id`: the one whose command line names its connection file kernel-ID.json. */
function kernelPid(id) {
  const needle = `kernel-${id}.json`;
  return pids().find((p) => cmdline(p).includes(needle)) ?? null;
}

/**
 * Every process this run started, remembered with its start time: the hub's descendants (the hub starts the
 * servers in new sessions and they start kernels in new process groups, so one process group does not hold them).
 */
class ProcessTracker {
  constructor(tmp) {
    this.tmp = tmp;
    this.known = new Map(); // pid -> start time
    this.roots = new Set();
  }
  add(pid) {
    const st = startTime(pid);
    if (st) { this.known.set(pid, st); this.roots.add(pid); }
  }
  /** Records the current descendants of the known processes and every process whose command line names the temp dir. */
  scan() {
    const parent = new Map();
    for (const p of pids()) {
      const m = procMemory(p);
      if (m) parent.set(p, m.ppid);
    }
    let grew = true;
    while (grew) {
      grew = false;
      for (const [p, pp] of parent) {
        if (!this.known.has(p) && this.known.has(pp) && this.known.get(pp) === startTime(pp)) {
          const st = startTime(p);
          if (st) { this.known.set(p, st); grew = true; }
        }
      }
    }
    for (const p of parent.keys()) {
      if (!this.known.has(p) && p !== process.pid && cmdline(p).includes(this.tmp)) {
        const st = startTime(p);
        if (st) this.known.set(p, st);
      }
    }
  }
  /** The remembered processes that still run (same pid and start time). */
  alive() {
    return [...this.known].filter(([p, st]) => startTime(p) === st).map(([p]) => p);
  }
  killAll(signal = 'SIGKILL') {
    const left = this.alive();
    for (const p of left) { try { process.kill(p, signal); } catch { /* gone */ } }
    return left;
  }
}

// ---- the hub ----------------------------------------------------------------------------------------------------

/** jupyterhub, jupyterhub-singleuser and configurable-http-proxy; throws naming the apt package when missing. */
function findHub() {
  const which = (name) => {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const f = path.join(dir, name);
      try { fs.accessSync(f, fs.constants.X_OK); return f; } catch { /* next */ }
    }
    return null;
  };
  const hub = process.env.D2L_JUPYTERHUB || (fs.existsSync('/usr/bin/jupyterhub') ? '/usr/bin/jupyterhub' : which('jupyterhub'));
  if (!hub || !fs.existsSync(hub)) {
    throw new Error('jupyterhub not found: install Debian\'s JupyterHub with `apt-get install jupyterhub` (it brings configurable-http-proxy and the classic Notebook server), or set D2L_JUPYTERHUB');
  }
  const sibling = (name) => { const f = path.join(path.dirname(hub), name); return fs.existsSync(f) ? f : which(name); };
  const singleuser = sibling('jupyterhub-singleuser');
  const proxy = sibling('configurable-http-proxy');
  if (!singleuser) throw new Error(`jupyterhub-singleuser not found next to ${hub} or on PATH: \`apt-get install jupyterhub\``);
  if (!proxy) throw new Error(`configurable-http-proxy not found next to ${hub} or on PATH: \`apt-get install configurable-http-proxy\` (a dependency of Debian's jupyterhub)`);
  return { hub, singleuser, proxy };
}

const py = (v) => JSON.stringify(v); // JSON strings, lists and dicts of strings are Python literals

/** Starts JupyterHub in `tmp`; resolves an API client once the hub answers. */
async function startHub(tmp, bins, tracker, { dataDir }) {
  const [port, hubPort, proxyApiPort] = await client.findFreePorts(3);
  const serviceToken = crypto.randomBytes(32).toString('hex');
  const password = crypto.randomBytes(12).toString('hex');
  const prefix = path.join(tmp, 'prefix');
  kernelspec.install(ROOT, { kind: 'prefix', dir: prefix });
  const environment = {
    JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
    D2L_SCHEDULE: 'short',
    D2L_DATA: dataDir,
    TF_CPP_MIN_LOG_LEVEL: '2',
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
  };
  const config = `# written by tests/hub/run.js for one run
c = get_config()  # noqa
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = ${port}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${hubPort}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${proxyApiPort}'
c.ConfigurableHTTPProxy.command = [${py(bins.proxy)}]
c.ConfigurableHTTPProxy.pid_file = ${py(path.join(tmp, 'proxy.pid'))}
c.JupyterHub.db_url = ${py(`sqlite:///${path.join(tmp, 'jupyterhub.sqlite')}`)}
c.JupyterHub.cookie_secret_file = ${py(path.join(tmp, 'cookie_secret'))}
c.JupyterHub.pid_file = ${py(path.join(tmp, 'jupyterhub.pid'))}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = 'dummy'
c.DummyAuthenticator.password = ${py(password)}
c.JupyterHub.spawner_class = 'simple'
c.SimpleLocalProcessSpawner.home_dir_template = ${py(path.join(tmp, 'home', '{username}'))}
c.Spawner.cmd = [${py(bins.singleuser)}]
c.Spawner.args = ${process.getuid?.() === 0 ? "['--allow-root']" : '[]'}
c.Spawner.environment = ${py(environment)}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.JupyterHub.services = [{'name': 'd2l-hub-test', 'api_token': ${py(serviceToken)}}]
c.JupyterHub.load_roles = [{
    'name': 'd2l-hub-test',
    'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers', 'read:users', 'list:users'],
    'services': ['d2l-hub-test'],
}]
`;
  const configFile = path.join(tmp, 'jupyterhub_config.py');
  fs.writeFileSync(configFile, config);
  const logFile = path.join(tmp, 'jupyterhub.log');
  const logFd = fs.openSync(logFile, 'a');
  // The hub's own environment: no venv of ours (the hub and its servers are Debian's /usr/bin/python3).
  const env = { ...process.env };
  delete env.VIRTUAL_ENV;
  delete env.JUPYTER_PATH;
  delete env.JUPYTER_CONFIG_DIR;
  delete env.JUPYTER_DATA_DIR;
  // Debian's configurable-http-proxy is a node script whose dependencies live in /usr/share/nodejs, a folder
  // Debian's own nodejs searches by default but a Node from elsewhere (nodesource, nvm) does not: name it.
  const proxyModules = path.dirname(path.dirname(path.dirname(fs.realpathSync(bins.proxy))));
  env.NODE_PATH = [proxyModules, process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
  const child = spawn(bins.hub, ['-f', configFile], { cwd: tmp, env, stdio: ['ignore', logFd, logFd], detached: true });
  fs.closeSync(logFd);
  tracker.add(child.pid);
  const base = `http://127.0.0.1:${port}`;
  const log = () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } };
  const api = async (method, p, body, token = serviceToken) => {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: { Authorization: `token ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status} ${text.slice(0, 500)}`);
    return json;
  };
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jupyterhub exited (${child.exitCode}):\n${log().slice(-3000)}`);
    try {
      await api('GET', '/hub/api/users');
      break;
    } catch { /* not up yet */ }
    if (Date.now() - t0 > 90_000) throw new Error(`jupyterhub did not answer on ${base} within 90 s:\n${log().slice(-3000)}`);
    await sleep(300);
  }
  const version = (await api('GET', '/hub/api/'))?.version;
  return { base, child, api, log, logFile, version, startMs: Date.now() - t0 };
}

/** Stops every server through the API, then the hub (SIGTERM, then SIGKILL), then whatever is left. */
async function stopHub(hub, users, tracker) {
  if (hub) {
    await Promise.all(users.map((u) => hub.api('DELETE', `/hub/api/users/${u}/server`).catch(() => {})));
    const t0 = Date.now();
    while (Date.now() - t0 < 15_000) {
      const left = await Promise.all(users.map((u) => hub.api('GET', `/hub/api/users/${u}`).then((m) => Object.keys(m?.servers ?? {}).length, () => 0)));
      if (left.every((n) => n === 0)) break;
      await sleep(300);
    }
    tracker.scan();
    try { process.kill(-hub.child.pid, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 100 && hub.child.exitCode === null && hub.child.signalCode === null; i++) await sleep(100);
  }
  tracker.scan();
  const left = tracker.killAll('SIGKILL');
  return left;
}

// ---- a learner's browser side -----------------------------------------------------------------------------------

/** The kernel WebSocket of one session: JSON messages with a `channel` field (Notebook 6's default protocol). */
class KernelSocket {
  constructor(url, username) {
    this.url = url;
    this.username = username;
    this.session = crypto.randomUUID();
    this.pending = new Map(); // msg_id -> {onMessage, reject}
    this.closed = null;
    this.statusListeners = new Set();
  }
  open(timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocketImpl(`${this.url}${this.url.includes('?') ? '&' : '?'}session_id=${this.session}`);
      this.ws = ws;
      const timer = setTimeout(() => { reject(new Error(`WebSocket ${this.url}: not open after ${timeoutMs} ms`)); try { ws.close(); } catch { /* */ } }, timeoutMs);
      ws.onopen = () => { clearTimeout(timer); resolve(); };
      ws.onerror = (e) => { clearTimeout(timer); reject(new Error(`WebSocket ${this.url}: ${e?.message ?? 'error'}`)); };
      ws.onclose = (e) => {
        this.closed = `closed (${e?.code ?? '?'})`;
        for (const p of this.pending.values()) p.reject(Object.assign(new Error(`kernel WebSocket ${this.closed}`), { reason: 'closed' }));
        this.pending.clear();
      };
      ws.onmessage = (e) => this.dispatch(typeof e.data === 'string' ? e.data : Buffer.from(e.data).toString('utf8'));
    });
  }
  dispatch(raw) {
    let msg;
    try { msg = JSON.parse(raw); } catch { return; } // binary-framed messages (buffers) are not used by d2l-ts
    if (msg.channel === 'iopub' && msg.header?.msg_type === 'status' && ['restarting', 'dead'].includes(msg.content?.execution_state)) {
      const state = msg.content.execution_state;
      for (const l of this.statusListeners) l(state);
      for (const p of this.pending.values()) p.reject(Object.assign(new Error(`kernel ${state}`), { reason: state }));
      this.pending.clear();
      return;
    }
    const parent = msg.parent_header?.msg_id;
    const p = parent && this.pending.get(parent);
    if (p) p.onMessage(msg);
  }
  send(channel, msgType, content) {
    const header = { msg_id: crypto.randomUUID(), username: this.username, session: this.session, msg_type: msgType, version: '5.3', date: new Date().toISOString() };
    this.ws.send(JSON.stringify({ header, parent_header: {}, metadata: {}, content, channel, buffers: [] }));
    return header.msg_id;
  }
  /** Sends a request; resolves {reply, messages} once the shell reply and iopub `idle` for it have both arrived. */
  request(msgType, content, { timeoutMs = 60_000, onIopub } = {}) {
    if (this.closed) return Promise.reject(Object.assign(new Error(`kernel WebSocket ${this.closed}`), { reason: 'closed' }));
    return new Promise((resolve, reject) => {
      const messages = [];
      let reply = null;
      let idle = false;
      let id;
      const timer = setTimeout(() => { this.pending.delete(id); reject(Object.assign(new Error(`${msgType}: no reply within ${timeoutMs / 1000} s`), { reason: 'timeout', messages })); }, timeoutMs);
      const done = () => { if (reply && idle) { clearTimeout(timer); this.pending.delete(id); resolve({ reply, messages }); } };
      const entry = {
        onMessage: (msg) => {
          if (msg.channel === 'shell') reply = msg;
          else if (msg.channel === 'iopub') {
            messages.push(msg);
            try { onIopub?.(msg); } catch (e) { clearTimeout(timer); this.pending.delete(id); reject(e); return; }
            if (msg.header.msg_type === 'status' && msg.content.execution_state === 'idle') idle = true;
          }
          done();
        },
        reject: (e) => { clearTimeout(timer); e.messages = messages; reject(e); },
      };
      id = this.send('shell', msgType, content);
      this.pending.set(id, entry);
    });
  }
  execute(code, opts) {
    return this.request('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, opts);
  }
  close() {
    try { this.ws.close(); } catch { /* closed */ }
  }
}

/** One learner: a hub user with a token and a running single-user server. */
class Learner {
  constructor(hub, name, token, wsBase) {
    this.hub = hub;
    this.name = name;
    this.token = token;
    this.wsBase = wsBase;
  }
  /** A request to the learner's own server through the proxy, with the learner's token (as a logged-in browser). */
  async api(method, p, body) {
    const r = await fetch(`${this.hub.base}/user/${this.name}${p}`, {
      method,
      headers: { Authorization: `token ${this.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} /user/${this.name}${p}: HTTP ${r.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  }
  socket(kernelId) {
    return new KernelSocket(`${this.wsBase}/user/${this.name}/api/kernels/${kernelId}/channels?token=${this.token}`, this.name);
  }
}

/**
 * Runs one lecture as a learner's browser would. Returns {name, ms, peakRssKb, serverRssKb, file, killed,
 * error, restart}. `kill`: {afterMs} kills the kernel during the KILL_CELL cell, then restarts it through the API.
 */
async function runLecture(learner, nbFile, outDir, opts, kill) {
  const name = path.basename(nbFile);
  const nb = notebook.readNotebook(nbFile);
  const res = { learner: learner.name, lecture: notebook.notebookName(nbFile), ms: null, peakRssKb: null, peakPssKb: null, serverRssKb: null, cells: 0, killed: false, error: null, restart: null };
  const t0 = Date.now();
  await learner.api('PUT', `/api/contents/${name}`, { type: 'notebook', format: 'json', content: nb });
  const session = await learner.api('POST', '/api/sessions', { path: name, name, type: 'notebook', kernel: { name: 'd2l-ts' } });
  const kernelId = session.kernel.id;
  let pid = null;
  const sample = () => {
    pid ??= kernelPid(kernelId);
    const m = pid && procMemory(pid);
    if (m) {
      res.peakRssKb = Math.max(res.peakRssKb ?? 0, m.hwm ?? 0);
      res.peakPssKb = Math.max(res.peakPssKb ?? 0, procPss(pid) ?? 0);
      const s = procMemory(m.ppid); // the single-user server started the kernel
      if (s) res.serverRssKb = Math.max(res.serverRssKb ?? 0, s.hwm ?? 0);
    }
  };
  const sampler = setInterval(sample, 1000);
  let ks = learner.socket(kernelId);
  try {
    await ks.open();
    const info = await ks.request('kernel_info_request', {}, { timeoutMs: 120_000 });
    if (info.reply.content.language_info) nb.metadata.language_info = info.reply.content.language_info;
    const todo = notebook.codeCells(nb).filter((c) => notebook.isExecutable(c.cell));
    for (const c of todo) { c.cell.outputs = []; c.cell.execution_count = null; }
    const tracker = new outputs.OutputTracker();
    for (const { cell, pos } of todo) {
      const out = tracker.startCell();
      let killTimer;
      const src = notebook.text(cell.source);
      if (kill && KILL_CELL.test(src)) {
        killTimer = setTimeout(() => {
          sample();
          const p = kernelPid(kernelId);
          if (p) { res.killed = { pid: p, cell: cell.id ?? `cell ${pos}` }; process.kill(p, 'SIGKILL'); }
        }, kill.afterMs);
      }
      try {
        const r = await ks.execute(src, { timeoutMs: opts.timeoutSec * 1000, onIopub: (m) => out.handle(m) });
        cell.outputs = outputs.coalesceStreams(out.outputs);
        cell.execution_count = out.executionCount ?? r.reply.content.execution_count ?? null;
        cell.metadata = { ...cell.metadata, execution: execute.timing(r.messages, r.reply) };
        res.cells++;
        sample();
        if (r.reply.content.status !== 'ok' && !(cell.metadata?.tags ?? []).includes('raises-exception')) {
          res.error = `cell ${cell.id ?? pos}: ${r.reply.content.ename ?? r.reply.content.status}: ${r.reply.content.evalue ?? ''}`;
          break;
        }
      } catch (e) {
        cell.outputs = outputs.coalesceStreams(out.outputs);
        if (res.killed && (e.reason === 'restarting' || e.reason === 'dead' || e.reason === 'closed')) {
          // What a front end shows: the cell's run ended with the kernel.
          cell.outputs.push({ output_type: 'error', ename: 'DeadKernelError', evalue: `Kernel died while executing the cell (SIGKILL by the hub test): ${e.message}`, traceback: [] });
          break;
        }
        res.error = `cell ${cell.id ?? pos}: ${e.message}`;
        break;
      } finally {
        clearTimeout(killTimer);
      }
    }
    res.ms = Date.now() - t0;
    if (kill && !res.killed) res.error ??= `the kernel was not killed: no cell of ${name} matches ${KILL_CELL}`;
    if (res.killed) res.restart = await restartAndRun(learner, kernelId, ks, res.killed.pid);
    sample();
  } finally {
    clearInterval(sampler);
    ks.close();
  }
  if (res.restart?.socket) { res.restart.socket.close(); delete res.restart.socket; }
  nb.metadata.d2l = { ...(nb.metadata.d2l ?? {}), schedule: 'short' };
  // Saved back as the learner's front end would, and locally for the golden checker.
  await learner.api('PUT', `/api/contents/${name}`, { type: 'notebook', format: 'json', content: nb }).catch((e) => { res.error ??= `saving: ${e.message}`; });
  await learner.api('DELETE', `/api/sessions/${session.id}`).catch(() => {});
  fs.mkdirSync(outDir, { recursive: true });
  res.file = path.join(outDir, name);
  notebook.writeNotebook(res.file, nb);
  return res;
}

/**
 * After the kill: wait for the server's restarter to bring up a kernel process, restart the kernel through the
 * REST API, open a new WebSocket (as JupyterLab does after a restart) and run RESTART_CELL.
 */
async function restartAndRun(learner, kernelId, oldSocket, killedPid) {
  const r = { ok: false, newPid: null, result: null, executionCount: null, error: null };
  try {
    const t0 = Date.now();
    while (!(kernelPid(kernelId) && kernelPid(kernelId) !== killedPid)) {
      if (Date.now() - t0 > 60_000) break; // no auto-restart: the API restart below starts it
      await sleep(250);
    }
    r.autoRestartMs = Date.now() - t0;
    oldSocket.close();
    await learner.api('POST', `/api/kernels/${kernelId}/restart`);
    const ks = learner.socket(kernelId);
    r.socket = ks;
    await ks.open();
    r.kernelInfoAttempts = await awaitKernelInfo(ks, 120_000);
    r.newPid = kernelPid(kernelId);
    const out = toOutputs();
    const x = await ks.execute(RESTART_CELL, { timeoutMs: 120_000, onIopub: (m) => out.handle(m) });
    const result = out.outputs.find((o) => o.output_type === 'execute_result');
    r.result = result ? notebook.text(result.data['text/plain']) : null;
    r.executionCount = out.executionCount ?? x.reply.content.execution_count;
    r.status = x.reply.content.status;
    r.ok = x.reply.content.status === 'ok' && r.result === RESTART_RESULT;
  } catch (e) {
    r.error = e.message;
  }
  return r;
}

/**
 * Sends kernel_info_request until one is answered (returns the number sent). Right after a restart a request
 * can reach the kernel process that the restart is replacing and never be answered; front ends ask again
 * (jupyter_server's `nudge` does the same on a new connection).
 */
async function awaitKernelInfo(ks, totalMs) {
  const t0 = Date.now();
  for (let n = 1; ; n++) {
    try {
      await ks.request('kernel_info_request', {}, { timeoutMs: 5000 });
      return n;
    } catch (e) {
      if (e.reason !== 'timeout' || Date.now() - t0 > totalMs) throw e;
    }
  }
}

const toOutputs = () => new outputs.OutputTracker().startCell();

// ---- one N ------------------------------------------------------------------------------------------------------

/** Mean and max of the non-null numbers. */
function stats(xs) {
  const v = xs.filter((x) => typeof x === 'number');
  if (!v.length) return { mean: null, max: null };
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, max: Math.max(...v) };
}

async function runN(n, opts, bins, state) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-hub-'));
  const tracker = new ProcessTracker(tmp);
  state.current = { tmp, tracker, hub: null, users: [], keep: opts.keep };
  const summary = { learners: n, lectures: {}, runs: [], failures: [], hubVersion: null };
  const users = Array.from({ length: n }, (_, i) => `learner${i + 1}`);
  const outRoot = path.join(OUT, 'hub', `n${n}`);
  fs.rmSync(outRoot, { recursive: true, force: true });
  const scanner = setInterval(() => tracker.scan(), 2000);
  let hub;
  const tag = `N=${n}`;
  try {
    hub = await startHub(tmp, bins, tracker, { dataDir: process.env.D2L_DATA || path.join(os.homedir(), '.cache', 'd2l-ts') });
    state.current.hub = hub;
    summary.hubVersion = hub.version;
    check(`${tag}: JupyterHub ${hub.version} answers (${(hub.startMs / 1000).toFixed(1)} s)`, true);

    await hub.api('POST', '/hub/api/users', { usernames: users });
    state.current.users = users;
    const t0 = Date.now();
    const learners = await Promise.all(users.map(async (u) => {
      const { token } = await hub.api('POST', `/hub/api/users/${u}/tokens`, { note: 'd2l-ts hub test', expires_in: 3600 });
      // A plain home with no node_modules: the lectures' `import 'd2l-ts'` must resolve from the kernel's own
      // install (kernel/modules.ts), as in a learner's home on a real hub.
      const home = path.join(tmp, 'home', u);
      fs.mkdirSync(home, { recursive: true });
      await hub.api('POST', `/hub/api/users/${u}/server`);
      const t = Date.now();
      for (;;) {
        const m = await hub.api('GET', `/hub/api/users/${u}`);
        const s = m?.servers?.[''];
        if (s?.ready) break;
        if (!s?.pending && !s?.ready && Date.now() - t > 5000) throw new Error(`${u}: server neither pending nor ready: ${JSON.stringify(m?.servers)}\n${hub.log().slice(-3000)}`);
        if (Date.now() - t > 180_000) throw new Error(`${u}: server not ready after 180 s\n${hub.log().slice(-3000)}`);
        await sleep(500);
      }
      return new Learner(hub, u, token, hub.base.replace(/^http/, 'ws'));
    }));
    summary.serversStartMs = Date.now() - t0;
    check(`${tag}: ${n} users created with tokens, ${n} single-user servers started through the hub API (${(summary.serversStartMs / 1000).toFixed(1)} s)`, true);

    // All learners at once; each runs the lectures in order.
    const perLearner = await Promise.all(learners.map(async (l, i) => {
      const runs = [];
      for (const nbFile of opts.notebooks) {
        const kill = opts.kill && n >= 2 && i === 0 && path.basename(nbFile).startsWith(KILL_LECTURE) ? { afterMs: KILL_AFTER_MS } : null;
        try {
          runs.push(await runLecture(l, nbFile, path.join(outRoot, l.name), opts, kill));
        } catch (e) {
          runs.push({ learner: l.name, lecture: notebook.notebookName(nbFile), ms: null, peakRssKb: null, killed: false, error: e.message });
        }
      }
      return runs;
    }));
    const runs = perLearner.flat();

    // Checks: golden files for every run that was not killed; the killed run, its restart, no cross-learner damage.
    for (const r of runs) {
      const what = `${tag} ${r.learner} ${r.lecture}`;
      if (r.killed) {
        check(`${what}: kernel (pid ${r.killed.pid}) SIGKILLed during ${r.killed.cell} — reported as killed, expected`, true);
        const rs = r.restart ?? {};
        check(`${what}: restart through POST /api/kernels/ID/restart runs a cell again on a new kernel process (pid ${rs.newPid}): ${JSON.stringify(rs.result)}`,
          rs.ok && rs.newPid && rs.newPid !== r.killed.pid, rs);
        check(`${what}: the restarted kernel is fresh (execution count 1)`, rs.executionCount === 1, rs.executionCount);
        r.status = 'killed';
        continue;
      }
      if (!check(`${what}: ran (${r.cells ?? 0} cells, ${r.ms != null ? (r.ms / 1000).toFixed(1) + ' s' : 'no time'})`, !r.error, r.error)) {
        r.status = 'failed';
      }
      if (r.file) {
        const g = golden.checkFile(r.file, { schedule: 'short' });
        const bad = golden.failureMessages(g);
        r.golden = { passed: g.passed, failed: g.failed, failures: bad };
        if (!check(`${what}: golden checks ${g.passed} passed, ${g.failed} failed`, g.failed === 0, bad.slice(0, 8).join('\n        '))) r.status = 'failed';
      }
      r.status ??= 'passed';
    }
    const killed = runs.filter((r) => r.killed);
    if (opts.kill && n >= 2 && opts.notebooks.some((f) => path.basename(f).startsWith(KILL_LECTURE))) {
      check(`${tag}: exactly one kernel was killed`, killed.length === 1, killed.map((r) => `${r.learner} ${r.lecture}`));
      const others = runs.filter((r) => r.learner !== 'learner1');
      check(`${tag}: no cross-learner failure: the other ${n - 1} learners' lectures all passed after the kill`, others.every((r) => r.status === 'passed'),
        others.filter((r) => r.status !== 'passed').map((r) => `${r.learner} ${r.lecture}`));
    }
    for (const r of runs) if (r.status !== 'passed' && r.status !== 'killed') summary.failures.push(`${r.learner} ${r.lecture}${r.error ? ': ' + r.error : ''}`);
    for (const f of opts.notebooks) {
      const lecture = notebook.notebookName(f);
      const rs = runs.filter((r) => r.lecture === lecture);
      const done = rs.filter((r) => !r.killed);
      summary.lectures[lecture] = {
        seconds: stats(done.map((r) => (r.ms == null ? null : r.ms / 1000))),
        kernelPeakRssMiB: stats(done.map((r) => mib(r.peakRssKb))),
        kernelPeakPssMiB: stats(done.map((r) => mib(r.peakPssKb))),
        serverPeakRssMiB: stats(done.map((r) => mib(r.serverRssKb))),
        killed: rs.filter((r) => r.killed).length,
        failed: rs.filter((r) => r.status === 'failed').length,
      };
    }
    summary.runs = runs.map(({ restart, ...r }) => ({ ...r, file: r.file ? path.relative(ROOT, r.file) : undefined, restart }));
  } catch (e) {
    check(`${tag}: ran to the end`, false, (e && e.stack) || String(e));
    summary.failures.push(String(e && e.message));
  } finally {
    clearInterval(scanner);
    const left = await stopHub(hub, state.current.users, tracker);
    // The hub stops its servers and they stop their kernels; anything we had to kill is a leak worth knowing.
    check(`${tag}: hub, proxy, servers and kernels stopped${left.length ? ` (killed ${left.length} left over: ${left.map((p) => p).join(' ')})` : ''}`, true);
    await sleep(300);
    tracker.scan();
    const still = tracker.alive();
    check(`${tag}: no process left behind`, still.length === 0, still.map((p) => `${p} ${cmdline(p).slice(0, 120)}`));
    if (opts.keep) console.log(`  (kept ${tmp})`);
    else fs.rmSync(tmp, { recursive: true, force: true });
    if (hub && results.failed && opts.keep === false) {
      // Keep the hub's log next to the executed notebooks for a failed run.
      try { fs.mkdirSync(outRoot, { recursive: true }); fs.writeFileSync(path.join(outRoot, 'jupyterhub.log'), hub.log()); } catch { /* gone */ }
    }
    state.current = null;
  }
  return summary;
}

// ---- report -----------------------------------------------------------------------------------------------------

function table(summaries) {
  const f = (x, d = 1) => (x == null ? '-' : x.toFixed(d));
  const rows = [['N', 'lecture', 's/lecture mean', 'max', 'kernel peak RSS MiB mean', 'max', 'PSS max', 'server MiB', 'killed', 'failed']];
  for (const s of summaries) {
    for (const [lecture, v] of Object.entries(s.lectures)) {
      rows.push([String(s.learners), lecture, f(v.seconds.mean), f(v.seconds.max), f(v.kernelPeakRssMiB.mean, 0), f(v.kernelPeakRssMiB.max, 0), f(v.kernelPeakPssMiB.max, 0), f(v.serverPeakRssMiB.max, 0), String(v.killed), String(v.failed)]);
    }
    if (!Object.keys(s.lectures).length) rows.push([String(s.learners), '(did not run)', '-', '-', '-', '-', '-', '-', '-', String(s.failures.length || 1)]);
  }
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ')).join('\n');
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`hub test: ${e.message}\n${USAGE}`);
    return 2;
  }
  let bins;
  try {
    bins = findHub();
  } catch (e) {
    console.error(`hub test: ${e.message}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  const state = { current: null };
  const onSignal = (why) => {
    // Ctrl-C / CI timeout: stop everything this run started before going.
    const c = state.current;
    if (c) {
      c.tracker.scan();
      try { process.kill(-c.hub?.child.pid, 'SIGTERM'); } catch { /* gone */ }
      c.tracker.killAll('SIGKILL');
      if (!c.keep) fs.rmSync(c.tmp, { recursive: true, force: true });
    }
    console.log(`\nhub test: stopped by ${why}\n${results.passed} passed, ${results.failed + 1} failed`);
    process.exit(1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (opts.timeLimitSec) setTimeout(() => onSignal(`--time-limit (${opts.timeLimitSec} s)`), opts.timeLimitSec * 1000).unref();

  const cores = os.availableParallelism?.() ?? os.cpus().length;
  console.log(`hub test: ${bins.hub}, learners ${opts.learners.join(',')}, lectures ${opts.notebooks.map((f) => path.basename(f)).join(' ')}, short schedule, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
  const summaries = [];
  for (const n of opts.learners) {
    const t0 = Date.now();
    console.log(`\n== N=${n} concurrent learners`);
    summaries.push(await runN(n, opts, bins, state));
    console.log(`   (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(`\n${table(summaries)}`);
  console.log('(s/lecture: a learner\'s wall time from opening the session to the last cell\'s reply; RSS: VmHWM of each kernel process / of the single-user server; PSS: peak sampled each second, shared pages split among the kernels; the killed run is left out of both)');
  fs.mkdirSync(OUT, { recursive: true });
  const report = {
    stack: { jupyterhub: summaries[0]?.hubVersion ?? null, hub: bins.hub, singleuser: bins.singleuser, proxy: bins.proxy },
    machine: { cores, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version },
    schedule: 'short',
    lectures: opts.notebooks.map((f) => notebook.notebookName(f)),
    results: summaries,
    passed: results.passed,
    failed: results.failed,
  };
  fs.writeFileSync(path.join(OUT, 'hub.json'), JSON.stringify(report, null, 1) + '\n');
  console.log(`report: out/hub.json, executed notebooks: out/hub/`);
  console.log(`${results.passed} passed, ${results.failed} failed`);
  return results.failed ? 1 : 0;
}

if (!WebSocketImpl) reexec();
else main().then((code) => { process.exitCode = code; }, (e) => {
  console.error(e && e.stack ? e.stack : e);
  console.log(`${results.passed} passed, ${results.failed + 1} failed`);
  process.exitCode = 1;
});
