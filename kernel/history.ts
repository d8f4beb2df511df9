/**
 * Input history kept across kernel restarts, like IPython's history.sqlite: a learner who restarts the kernel
 * (or reopens the notebook tomorrow) can still reach yesterday's cells through the front end's history
 * (`history_request`: JupyterLab's console ↑, `%history`-style tools, jupyter_client's `history()`).
 *
 * The store is one JSON line per record in a per-user file, append-only:
 *   {"session":7,"id":"3f9c…","start":"2026-12-02T21:00:00.000Z"}   a kernel started (session 7)
 *   {"session":7,"line":3,"source":"const lr = 0.1"}                 cell In[3] of session 7
 * Where: $D2L_HISTORY_FILE, else $XDG_DATA_HOME/d2l-ts/history.jsonl (default ~/.local/share/d2l-ts/…).
 * Off: D2L_HISTORY=0 — nothing is read or written, and history_request answers from this session's memory.
 *
 * Several kernels append at once (two notebooks open) without a lock:
 *  - Each record is one write(2) on a descriptor opened with O_APPEND. POSIX makes the move to the end and the
 *    write one step, and write() on a regular file atomic with respect to other write()s (Linux holds the
 *    inode lock for the whole call), so whole records never interleave — whatever their size, as long as the
 *    write is not short. Linux writes short to a local file only when the disk or quota fills up, or past
 *    0x7ffff000 bytes; records are capped at MAX_RECORD (1 MiB; a longer cell is not recorded, with a note)
 *    and a short write turns the store off for this kernel. Not safe on NFS, which emulates O_APPEND: put
 *    D2L_HISTORY_FILE on a local disk there.
 *  - Session numbers: a starting kernel claims "largest in the file + 1" with a header line carrying a random
 *    id, then reads the file back. Two kernels starting together may claim the same number; the file order
 *    settles it: a header's number is max(claimed, largest number before it in the file + 1), so every reader derives
 *    the same distinct numbers from the same bytes and a kernel learns its own from its header. Cells are
 *    written with that settled number.
 *
 * Readers skip lines that do not parse (a record cut by a crash or a full disk costs that record only).
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** One executed cell: [session, line (execution_count), source], the shape history_reply uses. */
export type HistoryEntry = [session: number, line: number, source: string];

/** Longest record written (bytes); see the header. */
export const MAX_RECORD = 1 << 20;

/** Where the history goes for this environment, or undefined when it is switched off. */
export function historyFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (/^(0|false|off|no)$/i.test((env.D2L_HISTORY ?? '').trim())) return undefined;
  if (env.D2L_HISTORY_FILE) return path.resolve(env.D2L_HISTORY_FILE);
  const data = env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(data, 'd2l-ts', 'history.jsonl');
}

/** What history_request asks for (Jupyter messaging spec, "History"). */
export interface HistoryQuery {
  hist_access_type?: string;
  n?: number | null;
  session?: number;
  start?: number;
  stop?: number | null;
  pattern?: string;
  unique?: boolean;
}

export class HistoryStore {
  /** This kernel's session number (1 when history lives in memory only). */
  readonly session: number = 1;
  /** This session's cells, always kept in memory: they stay answerable if the file fails later. */
  private readonly own: HistoryEntry[] = [];
  /** Cells read from the file, all sessions (this session's too: `query` takes those from `own`). */
  private fromFile: HistoryEntry[] = [];
  /** Bytes of the file parsed so far; later bytes are other kernels' (and our own) appends. */
  private offset = 0;
  /** Largest session number seen while parsing (headers as settled, cells as written). */
  private maxSession = 0;
  /** Settled session numbers of the headers seen, by id. */
  private readonly ids = new Map<string, number>();
  private fd: number | undefined;

  /**
   * Opens the history file (creating it and its folder, private to the user) and starts a new session in it.
   * With `file` undefined, or when the file cannot be used (a note goes to `warn`), history lives in memory.
   */
  constructor(readonly file: string | undefined, private warn: (msg: string) => void = () => {}) {
    if (!file) return;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
      this.refresh();
      const id = randomBytes(8).toString('hex');
      this.append({ session: this.maxSession + 1, id, start: new Date().toISOString() });
      this.refresh();
      const mine = this.ids.get(id);
      if (mine === undefined) throw new Error('our session header is not in the file after writing it');
      this.session = mine;
    } catch (e) {
      this.disable(`history file ${file} unusable (${(e as Error).message}); this session's history is kept in memory only`);
    }
  }

  /** Whether cells go to the file (false: switched off, or the file failed). */
  get persistent(): boolean {
    return this.fd !== undefined;
  }

  /** Records cell `line` of this session. */
  record(line: number, source: string): void {
    this.own.push([this.session, line, source]);
    if (this.fd === undefined) return;
    try {
      this.append({ session: this.session, line, source });
    } catch (e) {
      this.disable(`cannot write the history file ${this.file} (${(e as Error).message}); the rest of this session is kept in memory only`);
    }
  }

  /** history_request's answer: [session, line, source] entries in (session, line) order. */
  query(q: HistoryQuery): HistoryEntry[] {
    this.refresh();
    const all = [...this.fromFile.filter(([s]) => s !== this.session), ...this.own].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const last = (h: HistoryEntry[], n: number | null | undefined) => (n == null ? h : n > 0 ? h.slice(-n) : []);
    switch (q.hist_access_type) {
      case 'range': {
        // Session 0 is the current one, negative numbers count back from it (IPython's get_range).
        const s = (q.session ?? 0) <= 0 ? this.session + (q.session ?? 0) : q.session!;
        const start = q.start ?? 0;
        return all.filter(([sess, n]) => sess === s && n >= start && (q.stop == null || n < q.stop));
      }
      case 'search': {
        const re = globToRegExp(q.pattern ?? '*');
        let h = all.filter(([, , src]) => re.test(src));
        if (q.unique) {
          // The latest occurrence of each source (IPython groups by source).
          const seen = new Set<string>();
          h = h.reverse().filter(([, , src]) => !seen.has(src) && !!seen.add(src)).reverse();
        }
        return last(h, q.n);
      }
      default: // 'tail'; IPython's get_tail defaults to 10
        return last(all, q.n ?? 10);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
    this.fd = undefined;
  }

  /** One record, one write(2). A record over MAX_RECORD is not written (with a note). */
  private append(record: object): void {
    const buf = Buffer.from(JSON.stringify(record) + '\n');
    if (buf.length > MAX_RECORD) {
      this.warn(`a cell of ${buf.length} bytes is over the history's record limit (${MAX_RECORD}) and is not written to ${this.file}`);
      return;
    }
    const n = fs.writeSync(this.fd!, buf, 0, buf.length, null);
    if (n !== buf.length) throw new Error(`short write (${n} of ${buf.length} bytes)`);
  }

  /** Parses what was appended to the file since the last call (complete lines only). */
  private refresh(): void {
    if (this.fd === undefined || !this.file) return;
    let data: Buffer;
    try {
      const rfd = fs.openSync(this.file, 'r');
      try {
        const size = fs.fstatSync(rfd).size;
        if (size < this.offset) this.reset(); // truncated or replaced: read it again from the start
        data = Buffer.alloc(size - this.offset);
        let got = 0;
        while (got < data.length) {
          const n = fs.readSync(rfd, data, got, data.length - got, this.offset + got);
          if (n === 0) break;
          got += n;
        }
        data = data.subarray(0, got);
      } finally {
        fs.closeSync(rfd);
      }
    } catch (e) {
      this.disable(`cannot read the history file ${this.file} (${(e as Error).message}); the rest of this session is kept in memory only`);
      return;
    }
    const end = data.lastIndexOf(0x0a) + 1; // a record being written right now is read next time
    this.offset += end;
    for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
      if (line) this.parseLine(line);
    }
  }

  private parseLine(line: string): void {
    let r: any;
    try {
      r = JSON.parse(line);
    } catch {
      return; // a record cut short: skip it
    }
    if (!r || typeof r !== 'object' || !Number.isInteger(r.session) || r.session < 1) return;
    if (typeof r.id === 'string') {
      const settled = Math.max(r.session, this.maxSession + 1);
      if (!this.ids.has(r.id)) this.ids.set(r.id, settled);
      this.maxSession = settled;
    } else if (Number.isInteger(r.line) && typeof r.source === 'string') {
      this.fromFile.push([r.session, r.line, r.source]);
      this.maxSession = Math.max(this.maxSession, r.session);
    }
  }

  private reset(): void {
    this.offset = 0;
    this.maxSession = 0;
    this.ids.clear();
    this.fromFile = [];
  }

  /** From now on this kernel keeps history in memory: this session's cells stay answerable. */
  private disable(msg: string): void {
    this.warn(msg);
    this.close();
    this.fromFile = [];
  }
}

/** A glob (`*` any run of characters, `?` one character, everything else literal) as a whole-string RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}
