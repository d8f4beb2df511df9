/**
 * The kernel's protocol side: ZeroMQ sockets, message dispatch, the execute queue, streams and display,
 * the stdin channel (input(), in stdin.ts) and the input history (history.ts).
 * It knows nothing about TypeScript: cells go to CellExecutor, values become mime bundles in display.ts.
 */
import * as fs from 'fs';
import { randomUUID } from 'crypto';
import * as zmq from 'zeromq';
import { createDisplayApi, DisplayContent, DISPLAY_DECLARATIONS, toDisplayContent } from './display';
import { CellExecutor, type Outcome } from './executor';
import { CommManager } from './comms';
import { COMM_HOOK } from '../common/comm';
import { lateErrorText } from './errors';
import { HistoryQuery, HistoryStore, historyFile } from './history';
import { rawTimers } from './interrupt';
import { createStdinApi, inputInterrupted, STDIN_DECLARATIONS, StdinBroker } from './stdin';
import { type ConnectionInfo, makeHeader, Message, parse, PROTOCOL_VERSION, Received, serialize, SignatureError } from '../jupyter/protocol';

/** Sends on one socket in order; zeromq.js allows only one pending send per socket. */
class Sender {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  constructor(private sock: zmq.Writable) {}
  send(frames: (Buffer | string)[]): void {
    if (this.pending === 0) {
      this.pending++;
      this.tail = this.sock.send(frames).catch(logSendError).finally(() => { this.pending--; });
    } else {
      this.pending++;
      this.tail = this.tail.then(() => this.sock.send(frames)).catch(logSendError).finally(() => { this.pending--; });
    }
  }
  flushed(): Promise<void> {
    return this.tail;
  }
}
const logSendError = (e: unknown) => { realStderr(`d2l-ts kernel: send failed: ${(e as Error)?.message ?? e}\n`); };
const origStdoutWrite = process.stdout.write.bind(process.stdout);
const origStderrWrite = process.stderr.write.bind(process.stderr);
const realStderr = (s: string) => { origStderrWrite(s); };

/** Heap growth (bytes) between cells that triggers a collection; see KernelServer.collectGarbage. */
const GC_GROWTH = 64 * 1024 * 1024;
/** V8's gc(), reachable without starting node with --expose-gc. */
const forceGc: (() => void) | undefined = (() => {
  try {
    require('v8').setFlagsFromString('--expose-gc');
    return require('vm').runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

/** How often streamed output is flushed to the front end while a cell runs (ipykernel uses 200 ms). */
const STREAM_FLUSH_MS = 50;

export class KernelServer {
  private readonly session = randomUUID();
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly send = { shell: new Sender(this.shell), control: new Sender(this.control), stdin: new Sender(this.stdin), iopub: new Sender(this.iopub) };
  private readonly executor: CellExecutor;
  private readonly comms: CommManager;
  private readonly queue: { msg: Received; sock: 'shell' | 'control' }[] = [];
  private running = false;
  private executionCount = 0;
  /** Opened in start(): a kernel that only answers kernel_info (a failed start) should not begin a session. */
  private history?: HistoryStore;
  /** The request that outputs belong to: the running cell, or the last one (for late async output). */
  private parent?: Received;
  /** The execute_request whose cell is running; input() asks its sender. */
  private executing?: Received;
  private readonly stdinBroker = new StdinBroker({
    running: () => this.executing,
    request: (parent, content) => {
      this.flushStream(); // the prompt comes after what the cell printed before asking
      const msg: Message = { header: makeHeader('input_request', this.session), parent_header: parent.header, metadata: {}, content };
      this.send.stdin.send(serialize(this.conn.key, msg, parent.identities));
      return msg.header.msg_id;
    },
  });
  private stream = { name: '', text: '', last: 0, timer: undefined as NodeJS.Timeout | undefined };
  private closing = false;
  private heapAfterGc = 0;

  constructor(private conn: ConnectionInfo, cwd: string, private version: string) {
    const api = {
      ...createDisplayApi({
        publish: (c, update) => this.publishDisplay(c, update),
        clearOutput: (wait) => { this.flushStream(); this.pub('clear_output', { wait }); },
      }),
      ...createStdinApi(this.stdinBroker),
    };
    // Globals for cells (typed by the declarations) and for the lib, which must not import the kernel.
    Object.assign(globalThis, api);
    this.comms = new CommManager({
      publish: (type, content, metadata) => { this.flushStream(); this.pub(type, content, this.parent, metadata); },
      reportError: (where, e) => this.reportLate(`Error in ${where}`, e),
    }, safeDisplayContent);
    // The lib's widgets find the comms here (common/comm.ts), as they find `display` above.
    (globalThis as unknown as Record<symbol, unknown>)[COMM_HOOK] = this.comms.hook();
    this.executor = new CellExecutor(cwd, DISPLAY_DECLARATIONS + STDIN_DECLARATIONS, api);
    // tslab's own `require('tslab').display.*` keeps working through its module-global hook.
    require('tslab/dist/jupyter').lastWriteDisplayData = (d: DisplayContent & { transient?: any }, update: boolean) =>
      this.publishDisplay({ data: d.data, metadata: d.metadata ?? {}, transient: d.transient ?? {} }, update);
  }

  /** Binds the sockets, starts serving, then warms up the TypeScript converter. */
  async start(): Promise<void> {
    const url = (port: number) => `${this.conn.transport}://${this.conn.ip}:${port}`;
    await Promise.all([
      this.shell.bind(url(this.conn.shell_port)),
      this.control.bind(url(this.conn.control_port)),
      this.stdin.bind(url(this.conn.stdin_port)),
      this.iopub.bind(url(this.conn.iopub_port)),
      this.hb.bind(url(this.conn.hb_port)),
    ]);
    this.history = new HistoryStore(historyFile(), (m) => realStderr(`d2l-ts kernel: ${m}\n`));
    this.captureStdio();
    this.serve(this.shell, 'shell');
    this.serve(this.control, 'control');
    this.serve(this.stdin, 'stdin');
    void (async () => {
      try { for await (const frames of this.hb) await this.hb.send(frames); } catch { /* closed */ }
    })();
    process.on('SIGINT', () => this.interrupt());
    // A promise rejected with no handler, or a throw inside a timer callback, must not end the kernel
    // (Node's default): report it in the output of the cell it belongs to and carry on.
    // Its trace is filtered like a cell's traceback: the cell's frames, not the kernel's or Node's.
    process.on('unhandledRejection', (e) => this.reportLate('Unhandled promise rejection', e));
    process.on('uncaughtException', (e) => this.reportLate('Uncaught exception', e));
    this.pub('status', { execution_state: 'starting' });
    rawTimers.setImmediate(() => this.executor.init());
  }

  private serve(sock: zmq.Router, name: 'shell' | 'control' | 'stdin'): void {
    void (async () => {
      try {
        for await (const raw of sock) {
          let msg: Received;
          try {
            msg = parse(this.conn.key, raw as Buffer[]);
          } catch (e) {
            // Never act on (or crash over) a message we cannot authenticate; say so on the kernel's log.
            realStderr(`d2l-ts kernel: dropped a message on ${name}: ${e instanceof SignatureError ? e.message : (e as Error).message}\n`);
            continue;
          }
          if (name === 'stdin') {
            if (msg.header.msg_type !== 'input_reply') realStderr(`d2l-ts kernel: unexpected ${msg.header.msg_type} on stdin\n`);
            else if (!this.stdinBroker.reply(msg)) realStderr('d2l-ts kernel: dropped an input_reply that answers no waiting input()\n');
            continue;
          }
          this.dispatch(msg, name).catch((e) => realStderr(`d2l-ts kernel: ${msg.header.msg_type} failed: ${e?.stack ?? e}\n`));
        }
      } catch (e) {
        if (!this.closing) realStderr(`d2l-ts kernel: ${name} socket closed: ${e}\n`);
      }
    })();
  }

  private async dispatch(msg: Received, sock: 'shell' | 'control'): Promise<void> {
    const type = msg.header.msg_type;
    if (type === 'execute_request') {
      this.queue.push({ msg, sock });
      if (!this.running) await this.pump();
      return;
    }
    const handlers: Record<string, () => unknown> = {
      kernel_info_request: () => this.kernelInfo(),
      complete_request: () => this.executor.complete(msg.content.code, msg.content.cursor_pos),
      inspect_request: () => this.executor.inspect(msg.content.code, msg.content.cursor_pos),
      is_complete_request: () => this.executor.isComplete(msg.content.code),
      history_request: () => this.historyReply(msg.content),
      comm_info_request: () => ({ status: 'ok', comms: this.comms.info(msg.content.target_name) }),
      interrupt_request: () => { this.interrupt(); return { status: 'ok' }; },
      shutdown_request: () => ({ status: 'ok', restart: !!msg.content.restart }),
    };
    if (type === 'comm_open' || type === 'comm_msg' || type === 'comm_close') {
      // No reply, as in ipykernel; busy/idle around the handlers, which may send comm messages of their own.
      this.pub('status', { execution_state: 'busy' }, msg);
      this.comms.handle(type, msg.content);
      this.flushStream(); // what the handlers printed belongs to the output it is parented to now, not the next cell's
      this.pub('status', { execution_state: 'idle' }, msg);
      return;
    }
    const handler = handlers[type];
    if (!handler) {
      realStderr(`d2l-ts kernel: unsupported message type ${type}\n`);
      return;
    }
    this.pub('status', { execution_state: 'busy' }, msg);
    let content: unknown;
    try {
      content = handler();
    } catch (e) {
      content = { status: 'error', ename: (e as Error).name ?? 'Error', evalue: String((e as Error).message ?? e), traceback: [] };
    }
    this.reply(msg, sock, type.replace(/_request$/, '_reply'), content);
    this.pub('status', { execution_state: 'idle' }, msg);
    if (type === 'shutdown_request') await this.shutdown();
  }

  /** Runs queued execute requests one at a time; after an error, aborts those queued with stop_on_error. */
  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        const { msg, sock } = this.queue.shift()!;
        const ok = await this.execute(msg, sock);
        if (!ok) {
          const keep = this.queue.filter((q) => q.msg.content.stop_on_error === false);
          for (const q of this.queue.filter((q) => q.msg.content.stop_on_error !== false)) {
            this.pub('status', { execution_state: 'busy' }, q.msg);
            this.reply(q.msg, q.sock, 'execute_reply', { status: 'aborted', execution_count: this.executionCount });
            this.pub('status', { execution_state: 'idle' }, q.msg);
          }
          this.queue.splice(0, this.queue.length, ...keep);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async execute(msg: Received, sock: 'shell' | 'control'): Promise<boolean> {
    const { code = '', silent = false } = msg.content;
    const storeHistory = msg.content.store_history ?? !silent;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    this.pub('status', { execution_state: 'busy' }, msg);
    if (!silent) this.pub('execute_input', { code, execution_count: count }, msg);
    this.parent = msg;
    if (storeHistory && String(code).trim()) this.history?.record(count, code);
    this.executing = msg;
    let outcome: Outcome;
    try {
      outcome = String(code).trim() ? await this.executor.execute(code, count) : { status: 'ok', hasValue: false };
    } finally {
      this.executing = undefined;
      // An input() the cell did not wait for must not answer (or ask) for the next cell.
      this.stdinBroker.cancel(new Error('input: the cell ended before the answer arrived'));
    }
    this.flushStream();
    let reply: Record<string, unknown>;
    if (outcome.status === 'ok') {
      if (outcome.hasValue && !silent) {
        const c = safeDisplayContent(outcome.value);
        if (c) this.pub('execute_result', { execution_count: count, ...c }, msg);
      }
      reply = { status: 'ok', execution_count: count, user_expressions: {}, payload: [] };
    } else {
      this.pub('error', outcome.error, msg);
      reply = { status: 'error', execution_count: count, ...outcome.error, user_expressions: {}, payload: [] };
    }
    this.reply(msg, sock, 'execute_reply', reply);
    this.pub('status', { execution_state: 'idle' }, msg);
    // Only once the reply and `idle` have left: a collection must never delay them.
    void Promise.all([this.send.iopub.flushed(), this.send[sock].flushed()]).then(() => rawTimers.setImmediate(() => this.collectGarbage()));
    return outcome.status === 'ok';
  }

  /**
   * Each cell makes the TypeScript compiler allocate a few MB that V8 collects lazily, so a long session
   * of small cells grows the process by hundreds of MB before V8 bothers. When the heap has grown by more
   * than GC_GROWTH since the last collection we collect between cells (a few tens of ms, while idle).
   */
  private collectGarbage(): void {
    const used = process.memoryUsage().heapUsed;
    if (used - this.heapAfterGc < GC_GROWTH) return;
    forceGc?.();
    this.heapAfterGc = process.memoryUsage().heapUsed;
  }

  /**
   * An error raised outside a cell's own run (a timer, an unhandled rejection, a comm handler): into the stderr of the
   * cell that ran last, its trace filtered like a cell's traceback; on the kernel's log when no cell has run.
   */
  private reportLate(kind: string, e: unknown): void {
    const text = lateErrorText(e, this.executor.cells);
    if (this.parent) this.writeStream('stderr', `${kind}: ${text}\n`);
    else realStderr(`d2l-ts kernel: ${kind}: ${text}\n`);
  }

  private kernelInfo() {
    return {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'd2l-ts',
      implementation_version: this.version,
      language_info: {
        name: 'typescript',
        version: require('@tslab/typescript-for-tslab').version,
        mimetype: 'text/typescript',
        file_extension: '.ts',
        pygments_lexer: 'typescript',
        // JupyterLab reads `mode`; classic Notebook needs name+typescript (tslab's finding).
        codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
      },
      banner: `d2l-ts ${this.version}: TypeScript for Dive into Deep Learning (tslab, Node ${process.version})`,
      help_links: [{ text: 'Dive into Deep Learning', url: 'https://d2l.ai' }],
      debugger: false,
    };
  }

  /** Stops the running cell; an input() it waits on is rejected too (after the cell ended as interrupted). */
  private interrupt(): void {
    this.executor.interrupt();
    this.stdinBroker.cancel(inputInterrupted());
  }

  /** history_request: [session, line, source] (with output: [session, line, [source, null]]; outputs are not kept). */
  private historyReply(c: HistoryQuery & { output?: boolean }) {
    const h = this.history?.query(c) ?? [];
    const history = c.output ? h.map(([s, n, src]) => [s, n, [src, null]]) : h;
    return { status: 'ok', history };
  }

  private publishDisplay(c: DisplayContent & { transient: { display_id?: string } }, update: boolean): void {
    this.flushStream();
    this.pub(update ? 'update_display_data' : 'display_data', c);
  }

  /** Routes process stdout/stderr into iopub streams, coalesced, flushed at least every STREAM_FLUSH_MS. */
  private captureStdio(): void {
    const hook = (name: 'stdout' | 'stderr') => (chunk: any, enc?: any, cb?: any) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8');
      if (!this.parent) {
        (name === 'stdout' ? origStdoutWrite : origStderrWrite)(text);
      } else {
        this.writeStream(name, text);
      }
      const done = typeof enc === 'function' ? enc : cb;
      if (typeof done === 'function') done();
      return true;
    };
    process.stdout.write = hook('stdout') as typeof process.stdout.write;
    process.stderr.write = hook('stderr') as typeof process.stderr.write;
  }

  private writeStream(name: string, text: string): void {
    const s = this.stream;
    if (s.name !== name) this.flushStream();
    s.name = name;
    s.text += text;
    if (Date.now() - s.last >= STREAM_FLUSH_MS) this.flushStream();
    else if (!s.timer) s.timer = rawTimers.setTimeout(() => this.flushStream(), STREAM_FLUSH_MS);
  }

  private flushStream(): void {
    const s = this.stream;
    if (s.timer) { rawTimers.clearTimeout(s.timer); s.timer = undefined; }
    s.last = Date.now();
    if (!s.text) return;
    const text = s.text;
    s.text = '';
    this.pub('stream', { name: s.name, text });
  }

  private pub(type: string, content: unknown, parent: Message | undefined = this.parent, metadata: Record<string, unknown> = {}): void {
    const msg: Message = { header: makeHeader(type, this.session), parent_header: parent?.header ?? {}, metadata, content };
    this.send.iopub.send(serialize(this.conn.key, msg, [Buffer.from(`kernel.${this.session}.${type}`)]));
  }

  private reply(parent: Received, sock: 'shell' | 'control', type: string, content: unknown): void {
    const msg: Message = { header: makeHeader(type, this.session), parent_header: parent.header, metadata: {}, content };
    this.send[sock].send(serialize(this.conn.key, msg, parent.identities));
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.flushStream();
    await Promise.race([Promise.all([this.send.iopub.flushed(), this.send.shell.flushed(), this.send.control.flushed()]), delay(500)]);
    await delay(50); // let libzmq hand the last frames to the transport
    this.executor.close();
    this.history?.close();
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
    process.exit(0);
  }
}

const delay = (ms: number) => new Promise<void>((r) => rawTimers.setTimeout(r, ms));

/** A value's bundle, never throwing: a failing display falls back to text. */
function safeDisplayContent(v: unknown): DisplayContent | undefined {
  try {
    return toDisplayContent(v);
  } catch (e) {
    return { data: { 'text/plain': `[could not display value: ${(e as Error)?.message ?? e}]` }, metadata: {} };
  }
}

/** Reads a connection file with a clear error when it is missing or malformed. */
export function readConnectionFile(path: string): ConnectionInfo {
  let info: ConnectionInfo;
  try {
    info = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read connection file ${path}: ${(e as Error).message}`);
  }
  for (const k of ['shell_port', 'iopub_port', 'control_port', 'stdin_port', 'hb_port'] as const) {
    if (!Number.isInteger(info[k])) throw new Error(`connection file ${path}: ${k} missing or not a port number`);
  }
  if (info.signature_scheme && info.signature_scheme !== 'hmac-sha256') {
    throw new Error(`connection file ${path}: unsupported signature_scheme ${info.signature_scheme} (only hmac-sha256)`);
  }
  return Object.assign({ transport: 'tcp', ip: '127.0.0.1', key: '' }, info);
}
