/**
 * The input history kept across kernel restarts (kernel/history.ts): through the Jupyter protocol with real
 * kernel processes, plus the file-level guarantees (concurrent appends, session numbers) that the protocol
 * tests cannot force. Every kernel here gets its own D2L_HISTORY_FILE in a temporary folder.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KernelClient } from '../../jupyter/client';
import { executeCell } from '../../runner/outputs';
import { HistoryStore, historyFile, MAX_RECORD } from '../../kernel/history';

const ROOT = path.resolve(__dirname, '../..');
const ARGV = [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'];
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-ts-history-test-'));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));
let n = 0;
/** A fresh folder under TMP. */
const fresh = () => { const d = path.join(TMP, String(++n)); fs.mkdirSync(d); return d; };

const start = (env: NodeJS.ProcessEnv) =>
  KernelClient.start({ argv: ARGV, cwd: path.join(ROOT, 'notebooks'), env: { ...process.env, ...env }, startTimeoutMs: 30000 });
const history = async (kc: KernelClient, content: object) => {
  const r = await kc.request('shell', 'history_request', { output: false, raw: true, ...content });
  expect(r.content.status).toBe('ok');
  return r.content.history as [number, number, any][];
};
const ok = async (kc: KernelClient, code: string) => {
  const r = await executeCell(kc, code, { timeoutMs: 20000 });
  expect(r.reply.content.status, JSON.stringify(r.reply.content)).toBe('ok');
  return r;
};
/** Every line of a history file, parsed (a line that is not JSON fails the test). */
const records = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('history across kernel restarts', () => {
  it('a new kernel answers tail, range and search with the previous kernel\'s session', async () => {
    const file = path.join(fresh(), 'sub', 'history.jsonl'); // the folder is created too
    const k1 = await start({ D2L_HISTORY_FILE: file });
    let s1: number;
    try {
      await ok(k1, 'const a = 1');
      await ok(k1, 'a + 41');
      await ok(k1, "'first kernel'");
      const tail = await history(k1, { hist_access_type: 'tail', n: 3 });
      s1 = tail[0][0];
      expect(tail).toEqual([[s1, 1, 'const a = 1'], [s1, 2, 'a + 41'], [s1, 3, "'first kernel'"]]);
    } finally {
      await k1.shutdown();
    }
    const k2 = await start({ D2L_HISTORY_FILE: file });
    try {
      await ok(k2, 'const b = 2');
      await ok(k2, 'b * 21');
      const s2 = s1 + 1;
      expect(await history(k2, { hist_access_type: 'tail', n: 3 })).toEqual([[s1, 3, "'first kernel'"], [s2, 1, 'const b = 2'], [s2, 2, 'b * 21']]);
      // range: 0 = this session, -1 = the one before, or the number itself; stop is exclusive
      expect(await history(k2, { hist_access_type: 'range', session: 0, start: 1, stop: null })).toEqual([[s2, 1, 'const b = 2'], [s2, 2, 'b * 21']]);
      expect(await history(k2, { hist_access_type: 'range', session: -1, start: 1, stop: 3 })).toEqual([[s1, 1, 'const a = 1'], [s1, 2, 'a + 41']]);
      expect(await history(k2, { hist_access_type: 'range', session: s1, start: 2 })).toEqual([[s1, 2, 'a + 41'], [s1, 3, "'first kernel'"]]);
      // search: a glob over whole sources, across sessions; n keeps the latest matches; unique the latest of each
      expect(await history(k2, { hist_access_type: 'search', pattern: 'const ? = ?' })).toEqual([[s1, 1, 'const a = 1'], [s2, 1, 'const b = 2']]);
      expect(await history(k2, { hist_access_type: 'search', pattern: '* 4*' })).toEqual([[s1, 2, 'a + 41']]);
      expect(await history(k2, { hist_access_type: 'search', pattern: 'const*', n: 1 })).toEqual([[s2, 1, 'const b = 2']]);
      await ok(k2, 'b * 21');
      expect(await history(k2, { hist_access_type: 'search', pattern: 'b \\* 21', unique: false })).toEqual([]); // only * and ? are special
      expect(await history(k2, { hist_access_type: 'search', pattern: 'b ? 21', unique: true })).toEqual([[s2, 3, 'b * 21']]);
      expect(await history(k2, { hist_access_type: 'search', pattern: 'b ? 21' })).toHaveLength(2);
      // output=true: [source, output]; outputs are not kept
      expect(await history(k2, { hist_access_type: 'tail', n: 1, output: true })).toEqual([[s2, 3, ['b * 21', null]]]);
    } finally {
      await k2.shutdown();
    }
    const recs = records(file);
    expect(recs.filter((r) => r.id).map((r) => r.session)).toEqual([s1, s1 + 1]);
    expect(recs.filter((r) => !r.id)).toHaveLength(6);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  }, 90000);

  it('two kernels appending at once leave a valid file and distinct sessions', async () => {
    const file = path.join(fresh(), 'history.jsonl');
    const [ka, kb] = await Promise.all([start({ D2L_HISTORY_FILE: file }), start({ D2L_HISTORY_FILE: file })]);
    const CELLS = 12;
    // Long cells (a 64 KiB comment each): records far larger than a pipe's atomic size, written at once.
    const cell = (tag: string, i: number) => `// ${tag.repeat(64 * 1024)}\n'${tag}${i}'`;
    const sessions: number[] = [];
    try {
      await Promise.all([ka, kb].map(async (kc, k) => {
        for (let i = 1; i <= CELLS; i++) await ok(kc, cell('ab'[k], i));
        sessions[k] = (await history(kc, { hist_access_type: 'range', session: 0 }))[0][0];
      }));
    } finally {
      await Promise.all([ka.shutdown(), kb.shutdown()]);
    }
    expect(sessions[0]).not.toBe(sessions[1]);
    const recs = records(file);
    expect(recs.filter((r) => r.id)).toHaveLength(2);
    for (const [k, tag] of ['a', 'b'].entries()) {
      const mine = recs.filter((r) => r.session === sessions[k] && !r.id);
      expect(mine.map((r) => r.line)).toEqual(Array.from({ length: CELLS }, (_, i) => i + 1));
      expect(mine.every((r, i) => r.source === cell(tag, i + 1))).toBe(true);
    }
  }, 90000);

  it('D2L_HISTORY=0 reads and writes nothing; history_request answers from this session', async () => {
    const dir = fresh();
    const file = path.join(dir, 'history.jsonl');
    fs.writeFileSync(file, JSON.stringify({ session: 4, line: 1, source: 'old cell' }) + '\n');
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    const kc = await start({ D2L_HISTORY: '0', D2L_HISTORY_FILE: file, HOME: home, XDG_DATA_HOME: path.join(home, 'data') });
    try {
      await ok(kc, "'kept in memory'");
      expect(await history(kc, { hist_access_type: 'tail', n: 10 })).toEqual([[1, 1, "'kept in memory'"]]);
      expect(await history(kc, { hist_access_type: 'search', pattern: 'old*' })).toEqual([]);
    } finally {
      await kc.shutdown();
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(JSON.stringify({ session: 4, line: 1, source: 'old cell' }) + '\n');
    expect(fs.existsSync(path.join(home, 'data'))).toBe(false);
    expect(fs.existsSync(path.join(home, '.local'))).toBe(false);
  }, 60000);

  it('the lessons runner asks nobody (allow_stdin false) and leaves no history', () => {
    const dir = fresh();
    const file = path.join(dir, 'history.jsonl');
    const nb = {
      nbformat: 4, nbformat_minor: 5,
      metadata: { kernelspec: { name: 'd2l-ts', display_name: 'TypeScript (d2l-ts)', language: 'typescript' } },
      cells: [
        { id: 'c1', cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: '6 * 7' },
        { id: 'c2', cell_type: 'code', execution_count: null, metadata: { tags: ['raises-exception'] }, outputs: [], source: "await input('lr? ')" },
        { id: 'c3', cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: "'after'" },
      ],
    };
    fs.writeFileSync(path.join(dir, 'asks.ipynb'), JSON.stringify(nb));
    const run = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'd2l-ts.js'), 'lessons', '--dir', dir, '--out', path.join(dir, 'out'), '--report', 'none'], {
      cwd: ROOT, encoding: 'utf8', timeout: 60000, env: { ...process.env, D2L_HISTORY_FILE: file },
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const out = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'asks.ipynb'), 'utf8'));
    expect(out.cells[1].outputs[0]).toMatchObject({ output_type: 'error', ename: 'StdinNotImplementedError' });
    expect(out.cells[1].outputs[0].evalue).toContain('allow_stdin is false');
    expect([out.cells[2].outputs[0].data['text/plain']].flat().join('')).toBe("'after'"); // nbformat may split text into lines
    expect(fs.existsSync(file)).toBe(false);
  }, 70000);
});

describe('the history file', () => {
  it('is D2L_HISTORY_FILE, else under XDG_DATA_HOME, else ~/.local/share; D2L_HISTORY=0 turns it off', () => {
    expect(historyFile({ D2L_HISTORY_FILE: '/x/h.jsonl', XDG_DATA_HOME: '/data' })).toBe('/x/h.jsonl');
    expect(historyFile({ XDG_DATA_HOME: '/data', HOME: '/home/me' })).toBe('/data/d2l-ts/history.jsonl');
    expect(historyFile({ HOME: '/home/me' })).toBe('/home/me/.local/share/d2l-ts/history.jsonl');
    for (const off of ['0', 'off', 'false', 'no']) expect(historyFile({ D2L_HISTORY: off, D2L_HISTORY_FILE: '/x/h.jsonl' })).toBeUndefined();
    expect(historyFile({ D2L_HISTORY: '1', HOME: '/h' })).toBe('/h/.local/share/d2l-ts/history.jsonl');
  });

  it('settles two kernels that claimed the same session number by file order', () => {
    const file = path.join(fresh(), 'history.jsonl');
    // Kernels x and y both read "largest 2" and claimed 3; x's header landed first.
    const lines = [
      { session: 2, id: 'w', start: '' }, { session: 2, line: 1, source: 'w1' },
      { session: 3, id: 'x', start: '' }, { session: 3, id: 'y', start: '' },
    ];
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    const store = new HistoryStore(file);
    try {
      expect(store.session).toBe(5); // x is 3, y is settled to 4
    } finally {
      store.close();
    }
  });

  it('skips a torn line, keeps going, and does not write a record over MAX_RECORD', () => {
    const file = path.join(fresh(), 'history.jsonl');
    fs.writeFileSync(file, '{"session":1,"id":"a","start":""}\n{"session":1,"line":1,"source":"ok"}\n{"session":1,"line":2,"sou\n');
    const notes: string[] = [];
    const store = new HistoryStore(file, (m) => notes.push(m));
    try {
      expect(store.session).toBe(2);
      store.record(1, 'x'.repeat(MAX_RECORD));
      store.record(2, 'small');
      expect(notes.join('\n')).toContain('not written');
      expect(store.query({ hist_access_type: 'tail', n: 10 }).map(([s, l, src]) => [s, l, src.length])).toEqual([[1, 1, 2], [2, 1, MAX_RECORD], [2, 2, 5]]);
    } finally {
      store.close();
    }
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines.filter((l) => l.includes('"small"'))).toHaveLength(1);
    expect(lines.some((l) => l.length > MAX_RECORD)).toBe(false);
  });

  it('many processes appending at once never interleave records', async () => {
    const file = path.join(fresh(), 'history.jsonl');
    const script = `
      const { HistoryStore } = require(${JSON.stringify(path.join(ROOT, 'dist', 'kernel', 'history.js'))});
      const store = new HistoryStore(process.argv[1]);
      const tag = process.argv[2];
      for (let i = 1; i <= 40; i++) store.record(i, tag.repeat(100000 + i));
      store.close();
      console.log(store.session);`;
    const run = (tag: string) => new Promise<number>((resolve, reject) => {
      const p = spawn(process.execPath, ['-e', script, file, tag], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`writer ${tag} exited ${code}`))));
    });
    const sessions = await Promise.all(['p', 'q', 'r', 's'].map(run));
    expect(new Set(sessions).size).toBe(4);
    const recs = records(file); // every line parses
    expect(recs).toHaveLength(4 + 4 * 40);
    for (const [k, tag] of ['p', 'q', 'r', 's'].entries()) {
      const mine = recs.filter((r) => r.session === sessions[k] && !r.id);
      expect(mine.map((r) => r.line)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(mine.every((r, i) => r.source === tag.repeat(100000 + i + 1))).toBe(true);
    }
  }, 30000);
});
