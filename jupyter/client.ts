/**
 * A small Jupyter messaging-protocol (v5.3) client over ZeroMQ.
 *
 * It starts a kernel process itself (like `jupyter_client`'s KernelManager) and
 * talks to it on the shell, control, iopub and stdin channels. It is shared by the
 * kernel's protocol tests, the headless lessons runner and the kernel benchmark,
 * so it favours strictness (signatures are verified, replies are matched by
 * `parent_header.msg_id`) and clean teardown (no handles left open).
 *
 * It is jupyter_client's part only: turning iopub messages into notebook outputs is
 * nbclient's, in runner/outputs.ts.
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as zmq from 'zeromq';
import { makeHeader, parse, serialize, SignatureError, type ConnectionInfo, type Header, type Message } from './protocol';

export type { ConnectionInfo };

// ---------------------------------------------------------------------------
// Types

/**
 * The channels this client is connected to. stdin carries the kernel's input_request for an execute that
 * passed {@link ExecuteOptions.onInputRequest}; without one, `allow_stdin` is false (as nbconvert sends).
 */
export type Channel = 'shell' | 'control' | 'iopub' | 'stdin';
type SendChannel = Exclude<Channel, 'iopub'>;

/** A decoded Jupyter message. `content` is loosely typed on purpose: tests poke at arbitrary fields. */
export interface JupyterMessage<C = Record<string, any>> {
  /** The channel it arrived on. */
  channel: Channel;
  /** ZeroMQ routing prefix (iopub: the topic). */
  identities: Buffer[];
  header: Header;
  /** `{}` for messages without a parent. */
  parent_header: Partial<Header>;
  metadata: Record<string, any>;
  content: C;
  buffers: Buffer[];
}

/** Why a client operation failed: it timed out, the kernel process died, or the client was closed. */
export class KernelError extends Error {
  constructor(
    message: string,
    readonly reason: 'timeout' | 'dead' | 'closed',
  ) {
    super(message);
    this.name = 'KernelError';
  }
}

// ---------------------------------------------------------------------------
// Wire format: signing, framing and verification are the kernel's own (./protocol).

/** Decodes raw frames; throws on a missing delimiter, bad JSON or a wrong signature. */
function decode(channel: Channel, key: string, frames: Buffer[]): JupyterMessage {
  let msg: ReturnType<typeof parse>;
  try {
    msg = parse(key, frames);
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err; // bad JSON
    const what = err.message.startsWith('malformed') ? `${err.message} (${frames.length} frames)` : 'invalid signature on a message';
    throw new Error(`${channel}: ${what}`, { cause: err });
  }
  return { channel, ...msg, buffers: msg.buffers ?? [] };
}

// ---------------------------------------------------------------------------
// Small async helpers

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Races `p` against a timer that is always cleared (a pending timer would keep the process alive). */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KernelError(`${what} timed out after ${ms} ms`, 'timeout')), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Finds `n` distinct free TCP ports by binding them all at once, then releasing them. */
export async function findFreePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, host, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---------------------------------------------------------------------------
// The client

/** Options of {@link KernelClient.start}. */
export interface KernelStartOptions {
  /** Command line; every occurrence of `{connection_file}` is replaced by the connection file's path. */
  argv: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the first `kernel_info_reply` plus an iopub message (default 30000). */
  startTimeoutMs?: number;
  /** Copy the kernel's stdout/stderr to our stderr as they arrive (they are captured either way). */
  forwardStderr?: boolean;
  /** Called for undecodable or wrongly signed incoming messages (which are dropped); default: log to stderr. */
  onProtocolError?: (err: Error) => void;
}

/** Options of {@link KernelClient.execute}. */
export interface ExecuteOptions {
  /** Overall limit for the reply and `status: idle` (default 60000). */
  timeoutMs?: number;
  /** Sees every iopub message of this request (before conversion); a throw fails the execute. */
  onIopub?: (msg: JupyterMessage) => void;
  /** `stop_on_error` of the request (default true, as Jupyter frontends send). */
  stopOnError?: boolean;
  /** `store_history` (default true). */
  storeHistory?: boolean;
  /** `silent` (default false). */
  silent?: boolean;
  /**
   * Answers the kernel's `input_request`s of this execute (a person at a front end would type the value).
   * Given: the request says `allow_stdin: true` and the returned value goes back as `input_reply` on stdin.
   * Absent: `allow_stdin: false` (the lessons runner's and nbconvert's setting). A throw fails the execute
   * (and sends no reply: the kernel keeps waiting until it is interrupted).
   */
  onInputRequest?: (request: JupyterMessage<{ prompt: string; password: boolean }>) => string | Promise<string>;
}

/** What {@link KernelClient.execute} resolves to. */
export interface ExecuteResult {
  /** The `execute_reply`. Its `content.status` is 'ok' | 'error' | 'aborted'; errors do not reject. */
  reply: JupyterMessage;
  /** From iopub (execute_input / execute_result), else the reply's `execution_count`, else null. */
  executionCount: number | null;
  /** Every iopub message of this request up to and including `status: idle`, in arrival order. */
  messages: JupyterMessage[];
}

const STDIO_CAP = 1 << 20; // keep the last 1 MiB of kernel stdout/stderr

/**
 * A connection to one kernel process that this client started.
 *
 * Always end with {@link shutdown} or {@link kill}: until then the child process
 * and the sockets keep the Node event loop alive. (If our process exits first,
 * the kernel is SIGKILLed so it is not orphaned.)
 */
export class KernelClient {
  /** The kernel_info_reply received during startup. */
  kernelInfo!: JupyterMessage;
  /** Incoming messages that were dropped (bad signature, malformed). Tests assert this stays empty. */
  readonly protocolErrors: Error[] = [];
  /** Our session id (header.session of every message we send). */
  readonly session = randomUUID();

  // The kernel sends input_request to the shell identity of the execute_request's sender, so the stdin socket
  // must have the same routing id as the shell socket (jupyter_client gives both the session id).
  private readonly shell = new zmq.Dealer({ linger: 0, routingId: this.session });
  private readonly control = new zmq.Dealer({ linger: 0 });
  private readonly stdin = new zmq.Dealer({ linger: 0, routingId: this.session });
  private readonly iopub = new zmq.Subscriber({ linger: 0 });
  private readonly sendChains: Record<SendChannel, Promise<unknown>> = { shell: Promise.resolve(), control: Promise.resolve(), stdin: Promise.resolve() };
  /** Pending replies by request msg_id. */
  private readonly replies = new Map<string, Deferred<JupyterMessage>>();
  /** iopub routing by parent msg_id (running executes). */
  private readonly iopubRoutes = new Map<string, (msg: JupyterMessage) => void>();
  /** stdin (input_request) routing by parent msg_id (running executes with onInputRequest). */
  private readonly stdinRoutes = new Map<string, (msg: JupyterMessage) => void>();
  /** Everything that must be rejected if the kernel dies or the client is closed. */
  private readonly waiters = new Set<Deferred<any>>();
  private readonly listeners = new Set<(msg: JupyterMessage) => void>();
  private stdout = '';
  private stderr = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  private readonly exited = deferred<void>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly killOnExit = () => {
    // The parent is exiting without a shutdown: do not leave an orphan kernel.
    if (!this.exitInfo) this.child.kill('SIGKILL');
  };

  private constructor(
    /** The kernel process. */
    readonly child: ChildProcess,
    /** The connection info written for the kernel. */
    readonly connection: ConnectionInfo,
    /** Path of the connection file (removed on close). */
    readonly connectionFile: string,
    private readonly opts: KernelStartOptions,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      this.stdout = (this.stdout + s).slice(-STDIO_CAP);
      if (opts.forwardStderr) process.stderr.write(s);
    });
    child.stderr?.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDIO_CAP);
      if (opts.forwardStderr) process.stderr.write(s);
    });
    const onGone = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (this.exitInfo) return;
      this.exitInfo = { code, signal, error };
      this.exited.resolve();
      // 'exit' can precede the last stderr chunk; wait for the pipes ('close'), but not
      // forever (a grandchild may hold them), so the error below includes the crash output.
      let timer: NodeJS.Timeout | undefined;
      const fail = () => {
        clearTimeout(timer);
        this.failAll(new KernelError(`kernel process ${this.describeExit()}${this.stderrTail()}`, 'dead'));
      };
      if (error) return fail();
      timer = setTimeout(fail, 200);
      child.once('close', fail);
    };
    child.once('exit', (code, signal) => onGone(code, signal));
    child.once('error', (err) => onGone(null, null, err));
    process.once('exit', this.killOnExit);

    const url = (port: number) => `tcp://${connection.ip}:${port}`;
    this.shell.connect(url(connection.shell_port));
    this.control.connect(url(connection.control_port));
    this.iopub.connect(url(connection.iopub_port));
    this.iopub.subscribe(); // all topics
    this.stdin.connect(url(connection.stdin_port));
    void this.readLoop('shell', this.shell);
    void this.readLoop('control', this.control);
    void this.readLoop('iopub', this.iopub);
    void this.readLoop('stdin', this.stdin);
  }

  /**
   * Starts a kernel: picks 5 free ports, writes a connection file to a fresh temp
   * dir, spawns `argv`, connects, and resolves once the kernel answered
   * `kernel_info_request` on shell and we saw its iopub status for it (so the
   * late-joining SUB socket is known to be connected). Rejects with the kernel's
   * stderr if it exits first or `startTimeoutMs` passes.
   */
  static async start(opts: KernelStartOptions): Promise<KernelClient> {
    if (!opts.argv.length) throw new Error('KernelClient.start: empty argv');
    const [shell_port, iopub_port, stdin_port, control_port, hb_port] = await findFreePorts(5);
    const connection: ConnectionInfo = {
      transport: 'tcp',
      ip: '127.0.0.1',
      shell_port,
      iopub_port,
      stdin_port,
      control_port,
      hb_port,
      signature_scheme: 'hmac-sha256',
      key: randomBytes(32).toString('hex'),
    };
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'd2l-ts-kernel-'));
    const file = path.join(dir, 'connection.json');
    await fs.promises.writeFile(file, JSON.stringify(connection, null, 2), { mode: 0o600 });
    const argv = opts.argv.map((a) => a.split('{connection_file}').join(file));
    const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const client = new KernelClient(child, connection, file, opts);
    try {
      await client.waitReady(opts.startTimeoutMs ?? 30000);
    } catch (err) {
      await client.kill();
      if (err instanceof KernelError && err.reason === 'timeout') {
        err.message = `kernel did not answer kernel_info_request within ${opts.startTimeoutMs ?? 30000} ms${client.stderrTail()}`;
      }
      throw err;
    }
    return client;
  }

  /** The kernel's stderr so far (last 1 MiB). */
  get stderrText(): string {
    return this.stderr;
  }

  /** The kernel's stdout so far (last 1 MiB); kernels should not write there, but some do. */
  get stdoutText(): string {
    return this.stdout;
  }

  /** The kernel's pid. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the kernel process has exited. */
  get isAlive(): boolean {
    return !this.exitInfo;
  }

  /** Resolves with the exit code/signal once the kernel process has exited. */
  async waitForExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.exited.promise;
    return { code: this.exitInfo!.code, signal: this.exitInfo!.signal };
  }

  /**
   * Builds a signed message without sending it. `signature` overrides the HMAC
   * (for tests of the kernel's signature check). Frames for a DEALER socket.
   */
  encode(
    msgType: string,
    content: object,
    opts: { signature?: string; metadata?: object; parentHeader?: object } = {},
  ): { msgId: string; header: Header; frames: Array<string | Buffer> } {
    const header: Header = makeHeader(msgType, this.session);
    const msg: Message = {
      header,
      parent_header: (opts.parentHeader ?? {}) as Message['parent_header'],
      metadata: (opts.metadata ?? {}) as Message['metadata'],
      content,
    };
    // No identities (DEALER), so the frames are: <IDS|MSG>, signature, the four JSON frames.
    const frames = serialize(this.connection.key, msg);
    if (opts.signature !== undefined) frames[1] = opts.signature;
    return { msgId: header.msg_id, header, frames };
  }

  /** Sends raw frames on shell, control or stdin, as they are (e.g. a message with a wrong signature). */
  async sendRaw(channel: SendChannel, frames: Array<string | Buffer>): Promise<void> {
    if (this.closed) throw new KernelError('client is closed', 'closed');
    const sock = this[channel];
    // zeromq allows one pending send per socket; chain them.
    const next = this.sendChains[channel].then(() => sock.send(frames));
    this.sendChains[channel] = next.catch(() => undefined);
    await next;
  }

  /** Sends a request and resolves with the reply whose `parent_header.msg_id` matches (default timeout 30 s). */
  async request(
    channel: 'shell' | 'control',
    msgType: string,
    content: object = {},
    opts: { timeoutMs?: number } = {},
  ): Promise<JupyterMessage> {
    const { msgId, frames } = this.encode(msgType, content);
    const reply = this.expectReply(msgId);
    try {
      await this.sendRaw(channel, frames);
      return await withTimeout(reply.promise, opts.timeoutMs ?? 30000, `${msgType} on ${channel}`);
    } finally {
      this.replies.delete(msgId);
      this.waiters.delete(reply);
    }
  }

  /**
   * Runs `code` and collects its iopub messages (runner/outputs.ts turns them into nbformat outputs the way
   * nbclient does). Resolves once
   * both the `execute_reply` and the `status: idle` for this request arrived.
   * An error in the code is not a rejection: see `reply.content.status`.
   * Rejects with {@link KernelError} on timeout, kernel death or close.
   */
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecuteResult> {
    const { msgId, frames } = this.encode('execute_request', {
      code,
      silent: opts.silent ?? false,
      store_history: opts.storeHistory ?? true,
      user_expressions: {},
      allow_stdin: !!opts.onInputRequest,
      stop_on_error: opts.stopOnError ?? true,
    });
    const messages: JupyterMessage[] = [];
    let done = false; // after `status: idle`, later messages are not this request's (as nbclient)
    let iopubCount: number | null = null;
    const idle = deferred<void>();
    this.waiters.add(idle);
    this.iopubRoutes.set(msgId, (msg) => {
      if (done) return;
      messages.push(msg);
      try {
        opts.onIopub?.(msg);
      } catch (err) {
        idle.reject(err);
        return;
      }
      if (msg.content && 'execution_count' in msg.content) iopubCount = msg.content.execution_count;
      if (msg.header.msg_type === 'status' && msg.content.execution_state === 'idle') {
        done = true;
        idle.resolve();
      }
    });
    const answer = opts.onInputRequest;
    if (answer) {
      this.stdinRoutes.set(msgId, (msg) => {
        if (msg.header.msg_type !== 'input_request') return;
        void (async () => {
          const value = await answer(msg as JupyterMessage<{ prompt: string; password: boolean }>);
          await this.sendRaw('stdin', this.encode('input_reply', { value: String(value) }, { parentHeader: msg.header }).frames);
        })().catch((err) => idle.reject(err));
      });
    }
    const reply = this.expectReply(msgId);
    try {
      await this.sendRaw('shell', frames);
      const [replyMsg] = await withTimeout(Promise.all([reply.promise, idle.promise]), opts.timeoutMs ?? 60000, 'execute_request');
      const executionCount = iopubCount ?? replyMsg.content.execution_count ?? null;
      return { reply: replyMsg, executionCount, messages };
    } finally {
      this.iopubRoutes.delete(msgId);
      this.stdinRoutes.delete(msgId);
      this.replies.delete(msgId);
      this.waiters.delete(reply);
      this.waiters.delete(idle);
      // Avoid an unhandled rejection when the other half of Promise.all failed first.
      reply.promise.catch(() => undefined);
      idle.promise.catch(() => undefined);
    }
  }

  /**
   * Subscribes to every decoded incoming message on all channels (including
   * replies and iopub messages that nobody waits for). Returns an unsubscribe function.
   */
  onMessage(listener: (msg: JupyterMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the next incoming message that satisfies `predicate` (default timeout 10 s). */
  async waitForMessage(predicate: (msg: JupyterMessage) => boolean, timeoutMs = 10000): Promise<JupyterMessage> {
    const d = deferred<JupyterMessage>();
    this.waiters.add(d);
    const off = this.onMessage((m) => {
      if (predicate(m)) d.resolve(m);
    });
    try {
      return await withTimeout(d.promise, timeoutMs, 'waitForMessage');
    } finally {
      off();
      this.waiters.delete(d);
    }
  }

  /** Sends `interrupt_request` on control and resolves with the `interrupt_reply`. */
  interrupt(opts: { timeoutMs?: number } = {}): Promise<JupyterMessage> {
    return this.request('control', 'interrupt_request', {}, { timeoutMs: opts.timeoutMs ?? 10000 });
  }

  /** Interrupts the kernel the `interrupt_mode: "signal"` way: SIGINT to its process. */
  signalInterrupt(): void {
    if (this.exitInfo) throw new KernelError('kernel process has exited', 'dead');
    this.child.kill('SIGINT');
  }

  /**
   * Pings the heartbeat channel (REQ socket, `hb_port`); resolves true when the
   * kernel echoes the bytes back within `timeoutMs`.
   */
  async heartbeat(timeoutMs = 2000): Promise<boolean> {
    const req = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
    try {
      req.connect(`tcp://${this.connection.ip}:${this.connection.hb_port}`);
      const ping = randomBytes(8).toString('hex');
      await req.send(ping);
      const [pong] = await req.receive();
      return pong.toString() === ping;
    } catch {
      return false;
    } finally {
      req.close();
    }
  }

  /**
   * Sends `shutdown_request` on control, waits up to `timeoutMs` (default 3000)
   * for the process to exit, SIGKILLs it otherwise, then closes the client.
   * Resolves with the `shutdown_reply` if one arrived. `restart` is only passed
   * to the kernel: this client does not respawn it.
   */
  async shutdown(opts: { restart?: boolean; timeoutMs?: number } = {}): Promise<JupyterMessage | undefined> {
    const limit = opts.timeoutMs ?? 3000;
    const deadline = Date.now() + limit;
    let reply: JupyterMessage | undefined;
    if (this.isAlive && !this.closing) {
      try {
        reply = await this.request('control', 'shutdown_request', { restart: opts.restart ?? false }, { timeoutMs: limit });
      } catch {
        // No reply (dead, or a kernel that exits before replying): the exit wait below decides.
      }
      try {
        await withTimeout(this.exited.promise, Math.max(1, deadline - Date.now()), 'kernel exit');
      } catch {
        this.child.kill('SIGKILL');
      }
    }
    await this.close();
    return reply;
  }

  /** SIGKILLs the kernel (if still running) and releases the client. Safe to call more than once. */
  kill(): Promise<void> {
    return this.close();
  }

  /**
   * Releases everything once the process is gone (SIGKILLs it if it is still
   * running): closes the sockets, destroys the stdio pipes, removes the
   * connection file and rejects pending operations. Idempotent; used by
   * {@link shutdown} and {@link kill}.
   */
  private close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.isAlive) this.child.kill('SIGKILL');
    await this.exited.promise;
    this.closed = true;
    process.removeListener('exit', this.killOnExit);
    this.failAll(new KernelError('client closed', 'closed'));
    for (const s of [this.shell, this.control, this.stdin, this.iopub]) s.close();
    // A grandchild holding the pipes open would otherwise keep our event loop alive.
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    await fs.promises.rm(path.dirname(this.connectionFile), { recursive: true, force: true });
  }

  // -------------------------------------------------------------------------

  private expectReply(msgId: string): Deferred<JupyterMessage> {
    const d = deferred<JupyterMessage>();
    if (this.exitInfo || this.closed) {
      d.reject(this.closed ? new KernelError('client is closed', 'closed') : new KernelError(`kernel process ${this.describeExit()}`, 'dead'));
    } else {
      this.replies.set(msgId, d);
      this.waiters.add(d);
    }
    return d;
  }

  private failAll(err: KernelError): void {
    for (const w of this.waiters) w.reject(err);
    this.waiters.clear();
    this.replies.clear();
  }

  private async readLoop(channel: Channel, sock: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of sock) this.dispatch(channel, frames);
    } catch (err) {
      if (!this.closed) this.protocolError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private dispatch(channel: Channel, frames: Buffer[]): void {
    let msg: JupyterMessage;
    try {
      msg = decode(channel, this.connection.key, frames);
    } catch (err) {
      this.protocolError(err as Error);
      return;
    }
    for (const l of [...this.listeners]) {
      try {
        l(msg);
      } catch (err) {
        // A failing listener must not stop the read loop.
        process.stderr.write(`[kernel client] message listener threw: ${(err as Error)?.stack ?? err}\n`);
      }
    }
    const parentId = msg.parent_header?.msg_id;
    if (!parentId) return;
    if (channel === 'iopub') {
      this.iopubRoutes.get(parentId)?.(msg);
    } else if (channel === 'stdin') {
      this.stdinRoutes.get(parentId)?.(msg);
    } else {
      const d = this.replies.get(parentId);
      if (d) {
        this.replies.delete(parentId);
        d.resolve(msg);
      }
    }
  }

  private protocolError(err: Error): void {
    this.protocolErrors.push(err);
    if (this.opts.onProtocolError) this.opts.onProtocolError(err);
    else process.stderr.write(`[kernel client] dropped message: ${err.message}\n`);
  }

  /** kernel_info until a shell reply arrives and an iopub message for one of our requests shows SUB is connected. */
  private async waitReady(timeoutMs: number): Promise<void> {
    const sent = new Set<string>();
    let info: JupyterMessage | undefined;
    let iopubSeen = false;
    const ready = deferred<void>();
    this.waiters.add(ready);
    const off = this.onMessage((m) => {
      const parent = m.parent_header?.msg_id;
      if (!parent || !sent.has(parent)) return;
      if (m.channel === 'shell' && m.header.msg_type === 'kernel_info_reply') info ??= m;
      if (m.channel === 'iopub') iopubSeen = true;
      if (info && iopubSeen) ready.resolve();
    });
    const send = () => {
      const { msgId, frames } = this.encode('kernel_info_request', {});
      sent.add(msgId);
      this.sendRaw('shell', frames).catch((e) => ready.reject(e));
    };
    // DEALER queues the first request until the kernel binds, so it is re-sent only
    // after a reply proves shell works but the SUB socket may have missed the status.
    const ticker = setInterval(() => {
      if (info && !iopubSeen) send();
    }, 200);
    try {
      send();
      await withTimeout(ready.promise, timeoutMs, 'kernel start');
      this.kernelInfo = info!;
    } finally {
      clearInterval(ticker);
      off();
      this.waiters.delete(ready);
    }
  }

  private describeExit(): string {
    const e = this.exitInfo;
    if (!e) return 'is running';
    if (e.error) return `failed to start: ${e.error.message}`;
    return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  }

  private stderrTail(): string {
    const tail = this.stderr.trim().slice(-4000);
    return tail ? `\n--- kernel stderr ---\n${tail}` : '';
  }
}
