import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { KernelClient, KernelError } from '../../jupyter/client';
import { OutputTracker, coalesceStreams, executeCell, toNotebookOutputs, type IopubLike } from '../../runner/outputs';

const ROOT = path.resolve(__dirname, '../..');

/** A fake iopub message (only what the conversion reads). */
const m = (msg_type: string, content: Record<string, any> = {}): IopubLike => ({ header: { msg_type }, content });
const stream = (name: string, text: string) => m('stream', { name, text });
const display = (data: Record<string, unknown>, displayId?: string, type = 'display_data') =>
  m(type, { data, metadata: {}, ...(displayId ? { transient: { display_id: displayId } } : {}) });
const idle = m('status', { execution_state: 'idle' });

describe('output conversion (nbclient semantics)', () => {
  it('converts each output type to its nbformat dict', () => {
    const outs = toNotebookOutputs([
      m('status', { execution_state: 'busy' }),
      m('execute_input', { code: 'x', execution_count: 4 }),
      display({ 'text/plain': 'd' }),
      m('execute_result', { execution_count: 4, data: { 'text/plain': '3' }, metadata: { a: 1 } }),
      m('error', { ename: 'TypeError', evalue: 'bad', traceback: ['l1', 'l2'] }),
      m('comm_open', { comm_id: 'c', target_name: 't', data: {} }),
      m('some_unknown_type', {}),
      idle,
    ]);
    expect(outs).toEqual([
      { output_type: 'display_data', data: { 'text/plain': 'd' }, metadata: {} },
      { output_type: 'execute_result', execution_count: 4, data: { 'text/plain': '3' }, metadata: { a: 1 } },
      { output_type: 'error', ename: 'TypeError', evalue: 'bad', traceback: ['l1', 'l2'] },
    ]);
  });

  it('merges consecutive streams of the same name only', () => {
    const outs = toNotebookOutputs([
      stream('stdout', 'a\n'),
      stream('stdout', 'b\n'),
      stream('stderr', 'e\n'),
      stream('stdout', 'c'),
      display({ 'text/plain': 'x' }),
      stream('stdout', 'd'),
      stream('stdout', 'e'),
    ]);
    expect(outs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'a\nb\n' },
      { output_type: 'stream', name: 'stderr', text: 'e\n' },
      { output_type: 'stream', name: 'stdout', text: 'c' },
      { output_type: 'display_data', data: { 'text/plain': 'x' }, metadata: {} },
      { output_type: 'stream', name: 'stdout', text: 'de' },
    ]);
  });

  it('ignores messages after status idle and tracks execution_count', () => {
    const tracker = new OutputTracker();
    const cell = tracker.startCell();
    for (const msg of [m('execute_input', { execution_count: 7 }), stream('stdout', 'a'), idle, stream('stdout', 'late')]) cell.handle(msg);
    expect(cell.done).toBe(true);
    expect(cell.executionCount).toBe(7);
    expect(cell.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'a' }]);
  });

  it('update_display_data rewrites outputs with that display_id, in this and earlier cells', () => {
    const tracker = new OutputTracker();
    const first = toNotebookOutputs([display({ 'text/plain': 'v1' }, 'D'), display({ 'text/plain': 'other' }, 'E')], tracker);
    const second = toNotebookOutputs(
      [
        stream('stdout', 's'),
        m('update_display_data', { data: { 'text/plain': 'v2' }, metadata: { m: 1 }, transient: { display_id: 'D' } }),
        // An update for an id nobody displayed is dropped, and is not an output itself.
        m('update_display_data', { data: { 'text/plain': 'zz' }, metadata: {}, transient: { display_id: 'nope' } }),
      ],
      tracker,
    );
    expect(first).toEqual([
      { output_type: 'display_data', data: { 'text/plain': 'v2' }, metadata: { m: 1 } },
      { output_type: 'display_data', data: { 'text/plain': 'other' }, metadata: {} },
    ]);
    expect(second).toEqual([{ output_type: 'stream', name: 'stdout', text: 's' }]);

    // A new display_data with an existing id updates the old ones and is appended too.
    const third = toNotebookOutputs([display({ 'text/plain': 'v3' }, 'D')], tracker);
    expect(first[0]).toMatchObject({ data: { 'text/plain': 'v3' } });
    expect(third).toEqual([{ output_type: 'display_data', data: { 'text/plain': 'v3' }, metadata: {} }]);
    // execute_result can carry a display_id as well.
    const fourth = toNotebookOutputs(
      [display({ 'text/plain': 'r1' }, 'R', 'execute_result'), m('update_display_data', { data: { 'text/plain': 'r2' }, metadata: {}, transient: { display_id: 'R' } })],
      tracker,
    );
    expect(fourth).toEqual([{ output_type: 'execute_result', execution_count: null, data: { 'text/plain': 'r2' }, metadata: {} }]);
  });

  it('tolerates transient: null', () => {
    expect(toNotebookOutputs([m('display_data', { data: { a: 1 }, metadata: {}, transient: null })])).toHaveLength(1);
  });

  it('clear_output clears now, or before the next output with wait=true', () => {
    expect(toNotebookOutputs([stream('stdout', 'a'), m('clear_output', { wait: false }), stream('stdout', 'b')])).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'b' },
    ]);
    // wait=true: nothing is cleared until a real output arrives; non-outputs do not trigger it.
    expect(toNotebookOutputs([stream('stdout', 'a'), m('clear_output', { wait: true }), m('execute_input', {}), m('bogus', {})])).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'a' },
    ]);
    // The deferred clear happens first, so the new stream is not merged into the old one.
    expect(toNotebookOutputs([stream('stdout', 'a'), m('clear_output', { wait: true }), stream('stdout', 'b'), stream('stdout', 'c')])).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'bc' },
    ]);
  });

  it('clear_output forgets only that cell\'s display_id entries', () => {
    const tracker = new OutputTracker();
    const a = toNotebookOutputs([display({ v: 'a1' }, 'D')], tracker);
    const cell = tracker.startCell();
    cell.handle(display({ v: 'b1' }, 'D'));
    const cleared = cell.outputs[0];
    cell.handle(m('clear_output', {}));
    cell.handle(m('update_display_data', { data: { v: 'a2' }, metadata: {}, transient: { display_id: 'D' } }));
    expect(a[0]).toMatchObject({ data: { v: 'a2' } }); // the other cell is still tracked
    expect(cleared).toMatchObject({ data: { v: 'b1' } }); // the cleared output no longer is
    expect(cell.outputs).toEqual([]);
  });

  it('coalesceStreams does what nbclient coalesce_streams does', () => {
    const outs = coalesceStreams(
      toNotebookOutputs([
        stream('stdout', 'progress 10%\rprogress 50%\rprogress 100%\n'),
        stream('stderr', 'warn\n'),
        stream('stdout', 'done\r\n'),
        display({ 'text/plain': 'x' }),
        stream('stderr', 'again\n'),
      ]),
    );
    expect(outs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'progress 100%\ndone\r\n' },
      { output_type: 'stream', name: 'stderr', text: 'warn\nagain\n' },
      { output_type: 'display_data', data: { 'text/plain': 'x' }, metadata: {} },
    ]);
    // stderr directly followed by stdout is swapped.
    expect(coalesceStreams(toNotebookOutputs([stream('stderr', 'e'), stream('stdout', 'o')])).map((o) => (o as any).name)).toEqual([
      'stdout',
      'stderr',
    ]);
  });
});

// ---------------------------------------------------------------------------
// A scripted fake kernel (plain Node + zeromq) to exercise the client end to end
// without depending on any real kernel's quirks.

const FAKE_KERNEL = String.raw`
const zmq = require('zeromq');
const crypto = require('crypto');
const fs = require('fs');
const cfg = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const DELIM = Buffer.from('<IDS|MSG>');
const sign = (parts) => { const h = crypto.createHmac('sha256', cfg.key); parts.forEach((p) => h.update(p)); return h.digest('hex'); };
const url = (p) => 'tcp://' + cfg.ip + ':' + p;
const iopub = new zmq.Publisher(), shell = new zmq.Router(), control = new zmq.Router(), hb = new zmq.Reply();
let count = 0, badSignatures = 0;
const chains = new Map();
function send(sock, ids, parent, msg_type, content, badSig) {
  const header = { msg_id: crypto.randomUUID(), username: 'k', session: 'fake', date: new Date().toISOString(), msg_type, version: '5.3' };
  const parts = [header, parent, {}, content].map((x) => JSON.stringify(x));
  const frames = [...ids, DELIM, badSig ? 'f'.repeat(64) : sign(parts), ...parts];
  const next = (chains.get(sock) || Promise.resolve()).then(() => sock.send(frames));
  chains.set(sock, next);
  return next;
}
function parse(frames) {
  const i = frames.findIndex((f) => f.equals(DELIM));
  const parts = frames.slice(i + 2, i + 6).map(String);
  if (frames[i + 1].toString() !== sign(parts)) { badSignatures++; return null; }
  return { ids: frames.slice(0, i), header: JSON.parse(parts[0]), content: JSON.parse(parts[3]) };
}
const pub = (parent, type, content, bad) => send(iopub, [Buffer.from('kernel.fake.' + type)], parent, type, content, bad);
async function onShell(frames) {
  const req = parse(frames);
  if (!req) return;
  const p = req.header;
  await pub(p, 'status', { execution_state: 'busy' });
  if (p.msg_type === 'kernel_info_request') {
    await send(shell, req.ids, p, 'kernel_info_reply', { status: 'ok', protocol_version: '5.3', implementation: 'fake', language_info: { name: 'fake' } });
  } else if (p.msg_type === 'execute_request') {
    const n = ++count;
    const code = req.content.code;
    await pub(p, 'execute_input', { code, execution_count: n });
    if (code === 'die') { process.stderr.write('fake kernel dying\n'); process.exit(3); }
    if (code.startsWith('sleep:')) await new Promise((r) => setTimeout(r, Number(code.slice(6))));
    else if (code === 'badsig') { await pub(p, 'stream', { name: 'stdout', text: 'forged\n' }, true); await pub(p, 'stream', { name: 'stdout', text: 'real\n' }); }
    else if (code === 'badcount') await pub(p, 'stream', { name: 'stdout', text: String(badSignatures) });
    else for (const [type, content] of JSON.parse(code)) await pub(p, type, content);
    // Reply before idle, as real kernels usually do; the client must wait for both.
    await send(shell, req.ids, p, 'execute_reply', { status: 'ok', execution_count: n, user_expressions: {} });
  }
  await pub(p, 'status', { execution_state: 'idle' });
}
async function onControl(frames) {
  const req = parse(frames);
  if (!req) return;
  const p = req.header;
  if (p.msg_type === 'interrupt_request') await send(control, req.ids, p, 'interrupt_reply', { status: 'ok' });
  if (p.msg_type === 'shutdown_request') {
    await send(control, req.ids, p, 'shutdown_reply', { status: 'ok', restart: req.content.restart });
    for (const s of [iopub, shell, control, hb]) s.close();
  }
}
(async () => {
  await Promise.all([iopub.bind(url(cfg.iopub_port)), shell.bind(url(cfg.shell_port)), control.bind(url(cfg.control_port)), hb.bind(url(cfg.hb_port))]);
  (async () => { for await (const f of shell) onShell(f); })();
  (async () => { for await (const f of control) onControl(f); })();
  (async () => { for await (const f of hb) await hb.send(f); })();
})();
`;

const fakeArgv = [process.execPath, '-e', FAKE_KERNEL, '{connection_file}'];

describe('KernelClient against a scripted fake kernel', () => {
  let client: KernelClient;
  beforeAll(async () => {
    client = await KernelClient.start({ argv: fakeArgv, cwd: ROOT, startTimeoutMs: 20000, onProtocolError: () => {} });
  }, 30000);
  afterAll(async () => {
    await client?.kill();
  });

  it('starts with a connection file and kernel_info', () => {
    expect(client.kernelInfo.header.msg_type).toBe('kernel_info_reply');
    expect(client.kernelInfo.content.language_info.name).toBe('fake');
    const conn = JSON.parse(fs.readFileSync(client.connectionFile, 'utf8'));
    expect(conn).toMatchObject({ transport: 'tcp', ip: '127.0.0.1', signature_scheme: 'hmac-sha256' });
    expect(conn.key).toMatch(/^[0-9a-f]{64}$/);
    const ports = [conn.shell_port, conn.iopub_port, conn.stdin_port, conn.control_port, conn.hb_port];
    expect(new Set(ports).size).toBe(5);
  });

  it('executes and collects outputs, execution count and raw messages', async () => {
    const seen: string[] = [];
    const script = [
      ['stream', { name: 'stdout', text: 'a\n' }],
      ['stream', { name: 'stdout', text: 'b\n' }],
      ['display_data', { data: { 'text/plain': 'p1' }, metadata: {}, transient: { display_id: 'bar' } }],
      ['execute_result', { execution_count: 99, data: { 'text/plain': '3' }, metadata: {} }],
    ];
    const r = await executeCell(client, JSON.stringify(script), { onIopub: (msg) => seen.push(msg.header.msg_type) });
    expect(r.reply.content.status).toBe('ok');
    expect(r.executionCount).toBe(99);
    expect(r.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'a\nb\n' },
      { output_type: 'display_data', data: { 'text/plain': 'p1' }, metadata: {} },
      { output_type: 'execute_result', execution_count: 99, data: { 'text/plain': '3' }, metadata: {} },
    ]);
    expect(seen[0]).toBe('status');
    expect(seen.at(-1)).toBe('status');
    expect(r.messages.map((x) => x.header.msg_type)).toEqual(seen);

    // A later execute updates the earlier display.
    const r2 = await executeCell(
      client,
      JSON.stringify([['update_display_data', { data: { 'text/plain': 'p2' }, metadata: {}, transient: { display_id: 'bar' } }]]),
    );
    expect(r2.outputs).toEqual([]);
    expect(r.outputs[1]).toMatchObject({ data: { 'text/plain': 'p2' } });
    expect(r2.executionCount).toBe(r.reply.content.execution_count + 1);
  });

  it('drops wrongly signed messages from the kernel', async () => {
    const r = await executeCell(client, 'badsig');
    expect(r.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'real\n' }]);
    expect(client.protocolErrors.map((e) => e.message)).toEqual(['iopub: invalid signature on a message']);
    client.protocolErrors.length = 0;
  });

  it('sendRaw sends frames untouched (a wrong signature is rejected by the kernel)', async () => {
    const { frames } = client.encode('kernel_info_request', {}, { signature: '0'.repeat(64) });
    await client.sendRaw('shell', frames);
    const r = await executeCell(client, 'badcount');
    expect(r.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '1' }]);
  });

  it('request, interrupt, heartbeat and waitForMessage', async () => {
    const info = await client.request('shell', 'kernel_info_request', {});
    expect(info.header.msg_type).toBe('kernel_info_reply');
    expect((await client.interrupt()).content.status).toBe('ok');
    expect(await client.heartbeat()).toBe(true);
    const busy = client.waitForMessage((x) => x.channel === 'iopub' && x.content.execution_state === 'busy');
    await client.execute('[]');
    expect((await busy).header.msg_type).toBe('status');
  });

  it('times out with a KernelError', async () => {
    const err = await client.execute('sleep:2000', { timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.reason).toBe('timeout');
    // The kernel is still usable afterwards.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await client.execute('[]')).reply.content.status).toBe('ok');
  });

  it('shuts down cleanly', async () => {
    const reply = await client.shutdown();
    expect(reply?.content).toMatchObject({ status: 'ok', restart: false });
    expect(client.isAlive).toBe(false);
    expect(fs.existsSync(client.connectionFile)).toBe(false);
    await expect(client.execute('[]')).rejects.toMatchObject({ reason: 'closed' });
  });
});

describe('KernelClient failure modes', () => {
  it('rejects pending work with the kernel stderr when the kernel dies', async () => {
    const client = await KernelClient.start({ argv: fakeArgv, cwd: ROOT, startTimeoutMs: 20000 });
    try {
      const err = await client.execute('die').catch((e) => e);
      expect(err).toBeInstanceOf(KernelError);
      expect(err.reason).toBe('dead');
      expect(err.message).toContain('exited with code 3');
      expect(err.message).toContain('fake kernel dying');
    } finally {
      await client.shutdown();
    }
  }, 30000);

  it('fails start with the kernel stderr when the process exits', async () => {
    const err = await KernelClient.start({
      argv: [process.execPath, '-e', 'console.error("no such kernel: " + process.argv[1]); process.exit(2)', '{connection_file}'],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.message).toContain('exited with code 2');
    expect(err.message).toMatch(/no such kernel: .*connection\.json/);
  });

  it('fails start on timeout when nothing answers', async () => {
    const err = await KernelClient.start({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], startTimeoutMs: 500 }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.reason).toBe('timeout');
    expect(err.message).toContain('did not answer kernel_info_request within 500 ms');
  });

  it('fails start when the command does not exist', async () => {
    const err = await KernelClient.start({ argv: ['/nonexistent/kernel-binary'] }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.message).toContain('failed to start');
  });
});

// ---------------------------------------------------------------------------
// Stock tslab (the kernel we build on), as a real-world check of the client.

describe('KernelClient against stock tslab', () => {
  let client: KernelClient;
  beforeAll(async () => {
    client = await KernelClient.start({
      argv: [process.execPath, 'node_modules/tslab/bin/tslab', 'kernel', '--config-path', '{connection_file}'],
      cwd: ROOT,
      startTimeoutMs: 60000,
    });
  }, 90000);
  afterAll(async () => {
    await client?.kill();
  });

  it('answers kernel_info', async () => {
    const info = await client.request('shell', 'kernel_info_request', {});
    // (Stock tslab omits content.status, which protocol 5.1+ requires.)
    expect(info.content).toMatchObject({ protocol_version: '5.3', language_info: { name: 'typescript' } });
    expect(client.kernelInfo.content.implementation).toBe('tslab');
    expect(await client.heartbeat()).toBe(true);
  });

  it('ignores interrupt_request on control (stock limitation): the request times out', async () => {
    const err = await client.interrupt({ timeoutMs: 500 }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.reason).toBe('timeout');
    expect(client.stderrText).toContain('unknown msg_type: interrupt_request');
  });

  it('streams console.log', async () => {
    const r = await executeCell(client, "console.log('hi')", { timeoutMs: 60000 });
    expect(r.reply.content.status).toBe('ok');
    expect(r.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'hi\n' }]);
  }, 70000);

  it('prints the value of an expression to stdout (stock bug: no execute_result)', async () => {
    const r = await executeCell(client, '1+2', { timeoutMs: 60000 });
    expect(r.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '3\n' }]);
  }, 70000);

  it('reports errors in the reply without rejecting', async () => {
    const r = await executeCell(client, 'throw new Error("boom")', { timeoutMs: 60000 });
    expect(r.reply.content.status).toBe('error');
    expect(JSON.stringify(r.outputs)).toContain('boom');
  }, 70000);

  it('shuts down and exits', async () => {
    const reply = await client.shutdown();
    expect(reply?.header.msg_type).toBe('shutdown_reply');
    expect(client.isAlive).toBe(false);
    expect(client.protocolErrors).toEqual([]);
  }, 20000);
});
