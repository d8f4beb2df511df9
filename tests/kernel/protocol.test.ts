/**
 * The real kernel process, spoken to over ZeroMQ the way Jupyter does (no Python needed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'path';
import { KernelClient, JupyterMessage } from '../../jupyter/client';
import { executeCell } from '../../runner/outputs';

const ROOT = path.resolve(__dirname, '../..');
const ARGV = [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'];
const start = () => KernelClient.start({ argv: ARGV, cwd: path.join(ROOT, 'notebooks'), startTimeoutMs: 30000 });
const text = (outputs: any[]) => outputs.map((o) => o.text ?? o.data?.['text/plain'] ?? '').join('');

describe('d2l-ts kernel over the Jupyter protocol', () => {
  let kc: KernelClient;
  beforeAll(async () => { kc = await start(); }, 40000);
  afterAll(async () => { await kc?.shutdown().catch(() => kc.kill()); });

  it('answers kernel_info with status and TypeScript language_info', () => {
    const c = kc.kernelInfo.content;
    expect(c.status).toBe('ok');
    expect(c.implementation).toBe('d2l-ts');
    expect(c.protocol_version).toBe('5.3');
    expect(c.language_info).toMatchObject({ name: 'typescript', file_extension: '.ts', mimetype: 'text/typescript' });
    expect(c.language_info.codemirror_mode.mode).toBe('typescript');
  });

  it('sends the last expression as execute_result with execution_count', async () => {
    const r = await executeCell(kc, 'const six = 6\nsix * 7');
    expect(r.reply.content.status).toBe('ok');
    const res = r.outputs.find((o) => o.output_type === 'execute_result') as any;
    expect(res.data['text/plain']).toBe('42');
    expect(res.execution_count).toBe(r.reply.content.execution_count);
    expect(r.messages.some((m) => m.header.msg_type === 'execute_input' && m.content.code.includes('six * 7'))).toBe(true);
    // undefined shows nothing
    expect((await executeCell(kc, 'let nothing: undefined = undefined\nnothing')).outputs).toEqual([]);
  });

  it('prints tfjs tensors like PyTorch, with an HTML table', async () => {
    const r = await executeCell(kc, "import * as tf from '@tensorflow/tfjs'\nawait tf.setBackend('cpu')\ntf.range(0, 6).reshape([2, 3])");
    const res = r.outputs.find((o) => o.output_type === 'execute_result') as any;
    expect(res.data['text/plain']).toBe('tensor([[0., 1., 2.],\n        [3., 4., 5.]])');
    expect(res.data['text/html']).toContain('<table');
  }, 30000);

  it('uses the rich-display method of an object', async () => {
    const r = await executeCell(kc, "({ [Symbol.for('jupyter.mimebundle')]: () => ({ 'text/html': '<b>rich</b>', 'text/plain': 'rich' }) })");
    expect((r.outputs[0] as any).data).toEqual({ 'text/html': '<b>rich</b>', 'text/plain': 'rich' });
  });

  it('display() returns a handle whose update rewrites the same output', async () => {
    const r = await executeCell(kc, "const h = display('first')\nh.update('second')\nconsole.log(h.displayId.length > 0)");
    const disp = r.messages.filter((m) => m.header.msg_type === 'display_data');
    const upd = r.messages.filter((m) => m.header.msg_type === 'update_display_data');
    expect(disp).toHaveLength(1);
    expect(upd).toHaveLength(1);
    expect(upd[0].content.transient.display_id).toBe(disp[0].content.transient.display_id);
    expect((r.outputs[0] as any).data['text/plain']).toBe("'second'");
    // a later cell can update it too (the live-plot case)
    await executeCell(kc, "h.update('third')");
    expect((r.outputs[0] as any).data['text/plain']).toBe("'third'");
  });

  it('reports runtime errors with ename, evalue and cell/line frames, and keeps state', async () => {
    await executeCell(kc, 'const kept = 5');
    const r = await executeCell(kc, "const a = 1\nthrow new RangeError('out of range ' + a)");
    expect(r.reply.content).toMatchObject({ status: 'error', ename: 'RangeError', evalue: 'out of range 1' });
    const err = r.outputs.find((o) => o.output_type === 'error') as any;
    expect(err.ename).toBe('RangeError');
    const tb = err.traceback.join('\n');
    expect(tb).toContain(`Cell In[${r.reply.content.execution_count}], line 2`);
    expect(tb).not.toMatch(/tslab[\\/]dist|node:internal|evalmachine/);
    // the next cell, sent the moment the error reply arrived, runs (no 200 ms abort as in stock tslab)
    const next = await executeCell(kc, 'kept + 1');
    expect(next.reply.content.status).toBe('ok');
    expect(text(next.outputs)).toBe('6');
  });

  it('names the defining cell and line for errors inside earlier functions, and keeps tfjs shape messages', async () => {
    const def = await executeCell(kc, 'function boom(n: number) {\n  if (n > 0) {\n    throw new TypeError(`bad ${n}`)\n  }\n}');
    const r = await executeCell(kc, 'boom(3)');
    const tb = r.reply.content.traceback.join('\n');
    expect(tb).toContain(`Cell In[${def.reply.content.execution_count}], line 3, in boom`);
    expect(tb).toContain(`Cell In[${r.reply.content.execution_count}], line 1`);
    const shape = await executeCell(kc, 'tf.ones([2, 3]).matMul(tf.ones([2, 3]))');
    expect(shape.reply.content.ename).toBe('Error');
    expect(shape.reply.content.evalue).toMatch(/inner shapes \(3\) and \(2\)/);
  });

  it('reports TypeScript diagnostics as CompileError with line:col', async () => {
    const r = await executeCell(kc, "let ok = 1\nconst bad: number = 'a'");
    expect(r.reply.content.ename).toBe('CompileError');
    expect(r.reply.content.evalue).toContain("line 2:7 - Type 'string' is not assignable to type 'number'");
    expect(r.reply.content.traceback.join('\n')).toMatch(/Cell In\[\d+\], line 2, col 7/);
  });

  it('streams console output while a cell runs', async () => {
    const times: Record<string, number> = {};
    const t0 = Date.now();
    const r = await executeCell(kc, "console.log('early')\nawait new Promise((r) => setTimeout(r, 600))\nconsole.error('late')", {
      onIopub: (m) => {
        if (m.header.msg_type === 'stream') times[m.content.text.trim()] = Date.now() - t0;
        if (m.header.msg_type === 'status' && m.content.execution_state === 'idle') times.idle = Date.now() - t0;
      },
    });
    expect(r.outputs.map((o: any) => [o.name, o.text])).toEqual([['stdout', 'early\n'], ['stderr', 'late\n']]);
    expect(times.idle - times.early).toBeGreaterThan(400);
  });

  it('aborts only requests already queued when an error happens (stop_on_error)', async () => {
    const failing = executeCell(kc, "await new Promise((r) => setTimeout(r, 300))\nthrow new Error('first fails')");
    const queued = executeCell(kc, "'never runs'");
    const independent = executeCell(kc, "'runs anyway'", { stopOnError: false });
    expect((await failing).reply.content.status).toBe('error');
    expect((await queued).reply.content.status).toBe('aborted');
    expect(text((await independent).outputs)).toBe("'runs anyway'");
  });

  it('stops an async loop on interrupt_request within 1 s, keeping earlier variables', async () => {
    await executeCell(kc, 'let ticks = 0');
    const loop = executeCell(kc, 'while (true) {\n  ticks++\n  await new Promise((r) => setTimeout(r, 5))\n}');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    const ir = await kc.interrupt();
    expect(ir.content.status).toBe('ok');
    const r = await loop;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    const a = Number(text((await executeCell(kc, 'ticks')).outputs));
    await new Promise((r) => setTimeout(r, 200));
    const b = Number(text((await executeCell(kc, 'ticks')).outputs));
    expect(a).toBeGreaterThan(0);
    expect(b).toBe(a); // the loop really stopped
    expect(text((await executeCell(kc, 'kept')).outputs)).toBe('5');
  });

  it('stops a training cell within 1 s on interrupt_request, compiled steps included (native TF: one TF call per step)', async () => {
    const setup = await executeCell(kc, [
      "import * as d2l from 'd2l-ts'",
      "import * as tf from '@tensorflow/tfjs'",
      'await d2l.initBackend()',
      'const W = tf.variable(tf.zeros([20, 4])), b = tf.variable(tf.zeros([4]))',
      'const [X, y] = d2l.syntheticData(tf.ones([20]), 0.5, 2048)',
      'const it = d2l.loadArray([X, tf.cast(tf.greater(tf.squeeze(y), 10), "int32")], 64)',
      'const net = (x: tf.Tensor) => tf.add(tf.matMul(x, W), b)',
      'const upd = (n: number, g: tf.NamedTensorMap) => d2l.sgd([W, b], g, 0.01, n)',
    ].join('\n'), { timeoutMs: 60000 });
    expect(setup.reply.content.status).toBe('ok');
    const train = executeCell(kc, 'for (let e = 0; e < 100000; e++) await d2l.trainEpochCh3(net, it, d2l.softmaxCrossEntropy, upd)');
    await new Promise((r) => setTimeout(r, 2000)); // well past the 3 eager calls: steps are compiled by now
    const t0 = Date.now();
    await kc.interrupt();
    const r = await train;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    expect(text((await executeCell(kc, 'W.shape')).outputs)).toContain('20'); // the net is still there
  }, 60000);

  it('stops a synchronous infinite loop on SIGINT (interrupt_mode signal)', async () => {
    const loop = executeCell(kc, 'let spins = 0\nwhile (true) { spins++ }');
    await new Promise((r) => setTimeout(r, 500));
    kc.signalInterrupt();
    const r = await loop;
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    expect(text((await executeCell(kc, 'kept * 2')).outputs)).toBe('10');
  });

  it('rejects wrongly signed and unsigned messages and stays alive', async () => {
    for (const sig of ['0'.repeat(64), '']) {
      const { msgId, frames } = kc.encode('execute_request', { code: "console.log('pwned')", silent: false }, { signature: sig });
      let seen = false;
      const off = kc.onMessage((m) => { if (m.parent_header?.msg_id === msgId) seen = true; });
      await kc.sendRaw('shell', frames);
      await new Promise((r) => setTimeout(r, 400));
      off();
      expect(seen).toBe(false);
    }
    expect(await kc.heartbeat()).toBe(true);
    expect(text((await executeCell(kc, '1 + 1')).outputs)).toBe('2');
  });

  it('survives an unhandled rejection and a throw in a timer callback', async () => {
    const r = await executeCell(kc, "Promise.reject(new Error('nobody listens'));\nsetTimeout(() => { throw new RangeError('late throw') }, 0);\nawait new Promise((r) => setTimeout(r, 100))");
    const err = r.outputs.filter((o: any) => o.name === 'stderr').map((o: any) => o.text).join('');
    expect(err).toContain('Unhandled promise rejection: Error: nobody listens');
    expect(err).toContain('Uncaught exception: RangeError: late throw');
    expect(text((await executeCell(kc, 'kept')).outputs)).toBe('5');
  });

  it('answers complete, inspect, is_complete, history and comm_info', async () => {
    const c = await kc.request('shell', 'complete_request', { code: 'Math.fl', cursor_pos: 7 });
    expect(c.content.matches).toContain('floor');
    const i = await kc.request('shell', 'inspect_request', { code: 'Math.floor', cursor_pos: 10, detail_level: 0 });
    expect(i.content.found).toBe(true);
    expect((await kc.request('shell', 'is_complete_request', { code: 'function f() {' })).content.status).toBe('incomplete');
    expect((await kc.request('shell', 'is_complete_request', { code: '1 + 1' })).content.status).toBe('complete');
    const h = await kc.request('shell', 'history_request', { hist_access_type: 'tail', n: 2, output: false, raw: true });
    expect(h.content.status).toBe('ok');
    expect(h.content.history).toHaveLength(2);
    const ci = await kc.request('shell', 'comm_info_request', {});
    expect(ci.header.msg_type).toBe('comm_info_reply');
    expect(ci.content).toEqual({ status: 'ok', comms: {} });
  });
});

describe('kernel shutdown', () => {
  it('replies to shutdown_request and exits cleanly', async () => {
    const kc = await start();
    const reply = (await kc.shutdown()) as JupyterMessage;
    expect(reply.content).toMatchObject({ status: 'ok', restart: false });
    expect(kc.isAlive).toBe(false);
  }, 40000);
});
