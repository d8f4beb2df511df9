/**
 * The kernel's part of the `d2l-ts` command: `kernel <connection_file>`, `install`, `uninstall`. bin/d2l-ts.js
 * sends `lessons` and `check-golden` to the runner (runner/cli.ts, runner/golden.ts) instead.
 */
import * as path from 'path';
import { install, kernelsDir, Scope, uninstall, KERNEL_NAME, DISPLAY_NAME } from './kernelspec';

const ROOT = path.resolve(__dirname, '..', '..');
const USAGE = `usage: d2l-ts <command>
  install   [--user | --sys-prefix | --prefix DIR]   register the "${DISPLAY_NAME}" kernelspec
            (default --user: Jupyter's user data dir, or $JUPYTER_DATA_DIR when set)
  uninstall [--user | --sys-prefix | --prefix DIR]   remove it
  kernel    CONNECTION_FILE                          run the kernel (Jupyter starts this)
  lessons   [NOTEBOOK ...] [options]                 run the lecture notebooks headless (--help)
  check-golden FILE.ipynb ...                        check executed notebooks against tests/golden`;

function parseScope(args: string[]): { scope: Scope; rest: string[] } {
  let scope: Scope = { kind: 'user' };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--user') scope = { kind: 'user' };
    else if (a === '--sys-prefix') scope = { kind: 'sys-prefix' };
    else if (a === '--prefix' || a.startsWith('--prefix=')) {
      const dir = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (!dir) throw new Error('--prefix needs a directory');
      scope = { kind: 'prefix', dir };
    } else rest.push(a);
  }
  return { scope, rest };
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === 'kernel') {
    if (!args[0]) throw new Error('kernel: missing CONNECTION_FILE\n' + USAGE);
    const { KernelServer, readConnectionFile } = await import('./server');
    const version = require(path.join(ROOT, 'package.json')).version;
    await new KernelServer(readConnectionFile(args[0]), process.cwd(), version).start();
    return -1; // keep running
  }
  if (cmd === 'install' || cmd === 'uninstall') {
    const { scope, rest } = parseScope(args);
    const ifPossible = rest.includes('--if-possible');
    const unknown = rest.filter((a) => a !== '--if-possible');
    if (unknown.length) throw new Error(`${cmd}: unknown option ${unknown.join(' ')}\n${USAGE}`);
    try {
      if (cmd === 'install') {
        const dir = install(ROOT, scope);
        console.log(`d2l-ts: installed kernelspec "${KERNEL_NAME}" (${DISPLAY_NAME}) in ${dir}`);
      } else {
        const dir = uninstall(scope);
        console.log(dir ? `d2l-ts: removed kernelspec ${dir}` : `d2l-ts: no kernelspec "${KERNEL_NAME}" in ${kernelsDir(scope)}`);
      }
    } catch (e) {
      if (!ifPossible) throw e;
      console.log(`d2l-ts: kernelspec not installed (${(e as Error).message}); run \`npx d2l-ts install\` later`);
    }
    return 0;
  }
  console.log(USAGE);
  return cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2;
}
