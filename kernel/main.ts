/**
 * The kernel's part of the `d2l-ts` command: `kernel <connection_file>`, `install`, `uninstall`. bin/d2l-ts.js
 * sends `lessons` and `check-golden` to the runner (runner/cli.ts, runner/golden.ts) instead.
 */
import * as path from 'path';
import { install, kernelsDir, Scope, uninstall, KERNEL_NAME, DISPLAY_NAME } from './kernelspec';
import { packageRoot } from '../common/package-root';

const ROOT = packageRoot(__dirname);
const USAGE = `usage: d2l-ts <command>
  install   [--user | --sys-prefix | --prefix DIR] [--env NAME=VALUE ...]
                                                     register the "${DISPLAY_NAME}" kernelspec
            (default --user: Jupyter's user data dir, or $JUPYTER_DATA_DIR when set; --prefix /usr/local
            or the Python env's --sys-prefix: every user's Jupyter finds it; --env: set in the kernel's
            environment, e.g. --env D2L_DATA=/opt/d2l-ts/data)
  uninstall [--user | --sys-prefix | --prefix DIR]   remove it
  kernel    CONNECTION_FILE                          run the kernel (Jupyter starts this)
  lessons   [NOTEBOOK ...] [options]                 run the lecture notebooks headless (--help)
  check-golden FILE.ipynb ...                        check executed notebooks against tests/golden`;

function parseScope(args: string[]): { scope: Scope; env: Record<string, string>; rest: string[] } {
  let scope: Scope = { kind: 'user' };
  const env: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--env' || a.startsWith('--env=')) {
      const kv = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(kv ?? '');
      if (!m) throw new Error(`install: expected --env NAME=VALUE, got ${kv === undefined ? 'nothing' : JSON.stringify(kv)}`);
      env[m[1]] = m[2];
    } else if (a === '--user') scope = { kind: 'user' };
    else if (a === '--sys-prefix') scope = { kind: 'sys-prefix' };
    else if (a === '--prefix' || a.startsWith('--prefix=')) {
      const dir = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (!dir) throw new Error('--prefix needs a directory');
      scope = { kind: 'prefix', dir };
    } else rest.push(a);
  }
  return { scope, env, rest };
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
    const { scope, env, rest } = parseScope(args);
    if (cmd === 'uninstall' && Object.keys(env).length > 0) throw new Error(`uninstall: --env is an install option\n${USAGE}`);
    const ifPossible = rest.includes('--if-possible');
    const unknown = rest.filter((a) => a !== '--if-possible');
    if (unknown.length) throw new Error(`${cmd}: unknown option ${unknown.join(' ')}\n${USAGE}`);
    try {
      if (cmd === 'install') {
        const dir = install(ROOT, scope, process.env, env);
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
