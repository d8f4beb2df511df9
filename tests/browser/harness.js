'use strict';
// Helpers of tests/browser/run.js: pass/fail bookkeeping, child processes, a private kernelspec and Jupyter
// config, a token-less Jupyter server, and headless Chromium (playwright-core) with the network cut off.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');

// ---- results ---------------------------------------------------------------------------------------------------

const results = { passed: 0, failed: 0, failures: [] };

/** Records one check: prints `ok  name` or `FAIL name: detail`. Returns cond. */
function check(name, cond, detail) {
  if (cond) {
    results.passed++;
    console.log(`  ok    ${name}`);
  } else {
    results.failed++;
    results.failures.push(name);
    console.log(`  FAIL  ${name}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
  }
  return !!cond;
}

/** Runs fn as a named stage; an exception fails the stage (one failure) and the run goes on. */
async function stage(name, fn) {
  const t0 = Date.now();
  console.log(`\n== ${name}`);
  try {
    await fn();
  } catch (e) {
    check(`${name}: ran to the end`, false, (e && e.stack) || String(e));
  }
  console.log(`   (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

// ---- processes -------------------------------------------------------------------------------------------------

/** Runs a command to completion; resolves {code, out} (stdout+stderr). */
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { out += `\n[killed after ${opts.timeoutMs} ms]`; child.kill('SIGKILL'); }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: -1, out: out + String(e) }); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

/** The jupyter command: $D2L_JUPYTER, else the repo's .venv, else PATH. */
function jupyterBin() {
  if (process.env.D2L_JUPYTER) return process.env.D2L_JUPYTER;
  const venv = path.join(ROOT, '.venv', 'bin', 'jupyter');
  return fs.existsSync(venv) ? venv : 'jupyter';
}

/**
 * A scratch area for one run: a kernelspec d2l-ts for THIS checkout (found first through JUPYTER_PATH, so a
 * stale user kernelspec pointing at another clone cannot interfere), runtime dir, and config dirs.
 */
function makeWorkspace() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-browser-'));
  const prefix = path.join(tmp, 'prefix');
  const { install } = require(path.join(ROOT, 'dist', 'kernel', 'kernelspec.js'));
  install(ROOT, { kind: 'prefix', dir: prefix });
  const jupyterPath = [path.join(prefix, 'share', 'jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  const venvBin = path.join(ROOT, '.venv', 'bin');
  /** Environment for a jupyter command using config dir `name` (created empty). */
  const env = (name) => {
    const config = path.join(tmp, `config-${name}`);
    fs.mkdirSync(config, { recursive: true });
    return {
      ...process.env,
      PATH: fs.existsSync(venvBin) ? `${venvBin}${path.delimiter}${process.env.PATH}` : process.env.PATH,
      JUPYTER_PATH: jupyterPath,
      JUPYTER_CONFIG_DIR: config,
      JUPYTER_RUNTIME_DIR: path.join(tmp, 'runtime'),
      D2L_HISTORY_FILE: path.join(tmp, 'history.jsonl'), // kernels run here stay out of the user's input history
      PYDEVD_DISABLE_FILE_VALIDATION: '1',
    };
  };
  return { tmp, env, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `jupyter lab` (which also serves Notebook 7 at /notebooks/) token-less on 127.0.0.1, with user
 * settings that keep the fixture unchanged and the page quiet: no autosave, no news/update checks, every
 * cell rendered (no windowing), the app reachable as window.jupyterapp.
 */
async function startJupyter(ws, name, { disabledExtensions = [] } = {}) {
  const env = ws.env(name);
  const settings = path.join(env.JUPYTER_CONFIG_DIR, 'lab', 'user-settings');
  const put = (plugin, file, value) => {
    const dir = path.join(settings, plugin);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${file}.jupyterlab-settings`), JSON.stringify(value));
  };
  put('@jupyterlab/docmanager-extension', 'plugin', { autosave: false, confirmClosingDocument: false });
  put('@jupyterlab/apputils-extension', 'notification', { fetchNews: 'false', checkForUpdates: false });
  put('@jupyterlab/notebook-extension', 'tracker', { windowingMode: 'none' });
  // The venv's own labconfig must not change (the default level of `labextension disable` writes there).
  const sysPageConfig = path.join(path.dirname(path.dirname(jupyterBin())), 'etc', 'jupyter', 'labconfig', 'page_config.json');
  const before = fs.existsSync(sysPageConfig) ? fs.readFileSync(sysPageConfig, 'utf8') : null;
  for (const ext of disabledExtensions) {
    // --level=user: into JUPYTER_CONFIG_DIR (ours). The default level is sys_prefix, the venv itself.
    const r = await run(jupyterBin(), ['labextension', 'disable', '--level=user', ext], { env, timeoutMs: 60_000 });
    const pageConfig = path.join(env.JUPYTER_CONFIG_DIR, 'labconfig', 'page_config.json');
    let disabled = {};
    try { disabled = JSON.parse(fs.readFileSync(pageConfig, 'utf8')).disabledExtensions ?? {}; } catch { /* none */ }
    if (r.code !== 0 || !disabled[ext]) throw new Error(`jupyter labextension disable --level=user ${ext} did not write ${pageConfig}:\n${r.out}`);
  }
  const after = fs.existsSync(sysPageConfig) ? fs.readFileSync(sysPageConfig, 'utf8') : null;
  if (after !== before) {
    if (before === null) fs.rmSync(sysPageConfig); else fs.writeFileSync(sysPageConfig, before);
    throw new Error(`${sysPageConfig} was changed (restored)`);
  }
  const [port] = await require(path.join(ROOT, 'dist', 'jupyter', 'client.js')).findFreePorts(1); // the kernel client's own port finder
  const args = [
    'lab', '--no-browser', `--port=${port}`, '--ServerApp.ip=127.0.0.1', '--ServerApp.port_retries=0',
    '--IdentityProvider.token=', '--ServerApp.password=', '--ServerApp.disable_check_xsrf=True', `--ServerApp.root_dir=${ROOT}`,
    '--LabApp.extension_manager=readonly', ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    '--LabApp.expose_app_in_browser=True', '--JupyterNotebookApp.expose_app_in_browser=True',
    `--LabApp.workspaces_dir=${path.join(ws.tmp, `workspaces-${name}`)}`,
  ];
  const child = spawn(jupyterBin(), args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jupyter lab exited (${child.exitCode}):\n${log.slice(-3000)}`);
    try {
      const r = await fetch(`${base}/api/status`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() - t0 > 60_000) throw new Error(`jupyter lab did not answer on ${base} within 60 s:\n${log.slice(-3000)}`);
    await sleep(250);
  }
  const api = async (method, p) => {
    const r = await fetch(`${base}${p}`, { method });
    return r.status === 204 ? null : r.json();
  };
  return {
    base,
    port,
    log: () => log,
    /** Shuts down every session and kernel (kernels run in their own process groups). */
    async shutdownKernels() {
      for (const s of (await api('GET', '/api/sessions')) ?? []) await api('DELETE', `/api/sessions/${s.id}`);
      for (const k of (await api('GET', '/api/kernels')) ?? []) await api('DELETE', `/api/kernels/${k.id}`);
    },
    async stop() {
      try { await this.shutdownKernels(); } catch { /* already down */ }
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    },
  };
}

// ---- browser ---------------------------------------------------------------------------------------------------

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

/**
 * Headless Chromium with a fresh user-data-dir. Every http(s) request not to an `allowed` origin is aborted
 * and recorded in `blocked` (file:, data: and blob: pass).
 */
async function launchBrowser(ws, viewport = { width: 1280, height: 1960 }) {
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(ws.tmp, 'chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.D2L_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    deviceScaleFactor: 1,
  });
  const network = { allowed: new Set(), blocked: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(https?|wss?):/i.test(url) && !network.allowed.has(new URL(url).origin)) {
      network.blocked.push(url);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  return { context, network, close: () => context.close() };
}

/**
 * Uncaught errors thrown by the front end's own code (JupyterLab's and Notebook 7's core bundles under
 * /static/lab/ and /static/notebook/), not by the outputs, are printed as notes and not counted: Notebook 7.6
 * throws "Cannot read properties of undefined (reading 'schema')" on every page load, JupyterLab's debugger
 * extension "No active debugger session" for kernels without debugger support. Errors from output scripts
 * (inline in the page) or from the plotly renderer extension count.
 */
function isFrontEndNoise(e) {
  const frame = /\bat .*?(https?:\/\/[^\s)]+)/.exec(e.stack || '');
  if (frame) return /\/static\/(lab|notebook)\//.test(frame[1]);
  return /^(No active debugger session|Command '[^']+' not registered\.)$/.test(e.message);
}

/** A new page that logs page errors (prefixed with `tag`) into the returned list. */
async function newPage(browser, tag) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => {
    if (isFrontEndNoise(e)) console.log(`   note: ${tag} front end's own error: ${e.message}`);
    else errors.push(`${tag}: ${e.message}`);
  });
  return { page, errors };
}

module.exports = {
  ROOT, results, check, stage, run, jupyterBin, makeWorkspace, startJupyter, launchBrowser, newPage, sleep,
};
