/**
 * input() over the Jupyter stdin channel: the real kernel process, with KernelClient as the front end that
 * answers input_request (as JupyterLab does when a person types).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'path';
import { KernelClient, type JupyterMessage } from '../../jupyter/client';
import { executeCell } from '../../runner/outputs';

const ROOT = path.resolve(__dirname, '../..');
const ARGV = [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'];
const text = (outputs: any[]) => outputs.map((o) => o.text ?? o.data?.['text/plain'] ?? '').join('');
const NO_STDIN =
  'input: this front end does not accept input (allow_stdin is false — nbconvert and the lessons runner run cells without a person)';

describe('input() over the stdin channel', () => {
  let kc: KernelClient;
  /** Every message that arrived on stdin, answered or not. */
  const onStdin: JupyterMessage[] = [];
  beforeAll(async () => {
    kc = await KernelClient.start({ argv: ARGV, cwd: path.join(ROOT, 'notebooks'), env: { ...process.env, D2L_HISTORY: '0' } });
    kc.onMessage((m) => { if (m.channel === 'stdin') onStdin.push(m); });
  }, 40000);
  afterAll(async () => { await kc?.shutdown().catch(() => kc.kill()); });

  it('asks the front end that sent the cell (parent: the execute_request) and returns its answer, password flag included', async () => {
    const asked: JupyterMessage[] = [];
    const r = await executeCell(kc, [
      'const lr = Number(await input("lr? "))',
      "const secret = await input('token: ', { password: true })",
      "lr * 2 + ' ' + secret.length",
    ].join('\n'), {
      timeoutMs: 20000,
      onInputRequest: (req) => {
        asked.push(req);
        return req.content.password ? 'hunter2' : '0.05';
      },
    });
    expect(r.reply.content.status).toBe('ok');
    expect(text(r.outputs)).toBe("'0.1 7'");
    expect(asked.map((q) => q.content)).toEqual([{ prompt: 'lr? ', password: false }, { prompt: 'token: ', password: true }]);
    for (const q of asked) {
      expect(q.channel).toBe('stdin');
      expect(q.header.msg_type).toBe('input_request');
      expect(q.parent_header).toEqual(r.reply.parent_header); // the execute_request's header
    }
    expect(r.reply.parent_header.msg_type).toBe('execute_request');
  });

  it('asks one question at a time and answers them in order', async () => {
    const prompts: string[] = [];
    const r = await executeCell(kc, "(await Promise.all([input('a'), input('b'), input('c')])).join(',')", {
      timeoutMs: 20000,
      onInputRequest: async (req) => {
        prompts.push(req.content.prompt);
        await new Promise((res) => setTimeout(res, 20));
        return req.content.prompt.toUpperCase();
      },
    });
    expect(text(r.outputs)).toBe("'A,B,C'");
    expect(prompts).toEqual(['a', 'b', 'c']);
  });

  it('fails at once with a clear error when the request has allow_stdin false (nbconvert, the lessons runner)', async () => {
    const before = onStdin.length;
    const t0 = Date.now();
    const r = await executeCell(kc, "const answer = await input('lr? ')", { timeoutMs: 10000 });
    expect(r.reply.content).toMatchObject({ status: 'error', ename: 'StdinNotImplementedError', evalue: NO_STDIN });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(onStdin.length).toBe(before); // nothing was asked
    // the kernel goes on
    expect(text((await executeCell(kc, '1 + 1')).outputs)).toBe('2');
  });

  it('prompt() throws and points to await input()', async () => {
    const r = await executeCell(kc, "const typed = prompt('lr?')", { timeoutMs: 10000 });
    expect(r.reply.content.status).toBe('error');
    expect(r.reply.content.evalue).toContain("await input('question? ')");
    expect(r.reply.content.evalue).toContain('block the event loop');
  });

  it('an interrupt ends the wait: the cell stops as KeyboardInterrupt and a late answer is dropped', async () => {
    await executeCell(kc, "let got = 'nothing'");
    let release!: (v: string) => void;
    let askedFor!: (m: JupyterMessage) => void;
    const asked = new Promise<JupyterMessage>((r) => { askedFor = r; });
    const cell = executeCell(kc, "got = await input('waiting: ')\nconsole.log('resumed')", {
      timeoutMs: 20000,
      onInputRequest: (req) => {
        askedFor(req);
        return new Promise<string>((r) => { release = r; });
      },
    });
    const req = await asked;
    expect(req.content.prompt).toBe('waiting: ');
    const t0 = Date.now();
    expect((await kc.interrupt()).content.status).toBe('ok');
    const r = await cell;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.reply.content.ename).toBe('KeyboardInterrupt');
    expect(text(r.outputs)).not.toContain('resumed');
    // The person answers after all: the reply (parent: the cancelled request) must not reach a later input().
    release('too late');
    await new Promise((r) => setTimeout(r, 300));
    const next = await executeCell(kc, "`${got} ${await input('again: ')}`", { timeoutMs: 20000, onInputRequest: () => 'fresh' });
    expect(text(next.outputs)).toBe("'nothing fresh'");
    expect(kc.stderrText).toContain('dropped an input_reply that answers no waiting input()');
  });
});
