/**
 * A notebook outside the checkout (a learner's home on JupyterHub) imports d2l-ts and @tensorflow/tfjs from the
 * kernel's own install (kernel/modules.ts): type-checked once (a d2l function takes the notebook's tf tensors), run,
 * and a module that exists nowhere still fails with Node's and TypeScript's own message.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelClient } from '../../jupyter/client';
import { executeCell } from '../../runner/outputs';
import { forwardedPath } from '../../kernel/modules';

const ROOT = path.resolve(__dirname, '../..');
const ARGV = [process.execPath, path.join(ROOT, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'];
const text = (outputs: any[]) => outputs.map((o) => o.text ?? o.data?.['text/plain'] ?? '').join('');

describe('a notebook outside the checkout', () => {
  let kc: KernelClient;
  let home: string;
  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-home-'));
    kc = await KernelClient.start({ argv: ARGV, cwd: home, startTimeoutMs: 30000 });
  }, 40000);
  afterAll(async () => {
    await kc?.shutdown().catch(() => kc.kill());
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("imports d2l-ts and tfjs from the kernel's install, with their types", async () => {
    const r = await executeCell(kc, [
      "import * as tf from '@tensorflow/tfjs'",
      "import * as d2l from 'd2l-ts'",
      'const acc: number = d2l.accuracy(tf.tensor2d([[0.1, 0.9], [0.8, 0.2]]), tf.tensor1d([1, 1], "int32"))',
      'acc',
    ].join('\n'));
    expect(r.reply.content, JSON.stringify(r.reply.content)).toMatchObject({ status: 'ok' });
    expect(text(r.outputs.filter((o: any) => o.output_type === 'execute_result'))).toBe('1');
  });

  it('still fails on a module that exists nowhere, naming it', async () => {
    const r = await executeCell(kc, "import * as nope from 'no-such-package-d2l'\nnope");
    expect(r.reply.content.status).toBe('error');
    expect(String(r.reply.content.evalue)).toContain("no-such-package-d2l");
  });

  it('forwards only missing paths under the notebook folder', () => {
    const own = path.join(home, 'node_modules', 'x', 'index.js');
    expect(forwardedPath(own, home, ROOT)).toBe(path.join(ROOT, 'node_modules', 'x', 'index.js'));
    expect(forwardedPath('/elsewhere/node_modules/x.js', home, ROOT)).toBe('/elsewhere/node_modules/x.js');
    expect(forwardedPath(path.join(ROOT, 'node_modules', 'x.js'), ROOT, ROOT)).toBe(path.join(ROOT, 'node_modules', 'x.js'));
  });
});
