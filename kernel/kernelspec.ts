/**
 * Installing the kernelspec `d2l-ts` where Jupyter looks for kernels. Written directly (no Python needed):
 * a kernelspec is a folder with kernel.json and logos under <data dir>/kernels/.
 * https://jupyter-client.readthedocs.io/en/latest/kernels.html#kernel-specs
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';

export const KERNEL_NAME = 'd2l-ts';
export const DISPLAY_NAME = 'TypeScript (d2l-ts)';

export type Scope = { kind: 'user' } | { kind: 'sys-prefix' } | { kind: 'prefix'; dir: string };

/** Jupyter's user data dir, honouring JUPYTER_DATA_DIR (as jupyter_core does). */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return path.resolve(env.JUPYTER_DATA_DIR);
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Jupyter');
  if (process.platform === 'win32') return path.join(env.APPDATA ?? os.homedir(), 'jupyter');
  return path.join(env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'jupyter');
}

/** The Python prefix Jupyter runs in: the active venv/conda env, else what `python3` reports. */
export function sysPrefix(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VIRTUAL_ENV) return env.VIRTUAL_ENV;
  if (env.CONDA_PREFIX) return env.CONDA_PREFIX;
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('--sys-prefix: no active virtualenv/conda env and python3 not found; use --prefix DIR or --user');
  }
}

/** The kernels folder for a scope. */
export function kernelsDir(scope: Scope, env: NodeJS.ProcessEnv = process.env): string {
  switch (scope.kind) {
    case 'user': return path.join(userDataDir(env), 'kernels');
    case 'sys-prefix': return path.join(sysPrefix(env), 'share', 'jupyter', 'kernels');
    case 'prefix': return path.join(path.resolve(scope.dir), 'share', 'jupyter', 'kernels');
  }
}

/**
 * kernel.json for this checkout: absolute paths, so re-running install after a move fixes them. `extraEnv` goes
 * into the kernel's environment (an image sets `D2L_DATA` to its shared, pre-filled data directory: see
 * scripts/image-setup.sh).
 */
export function kernelJson(root: string, node = process.execPath, extraEnv: Record<string, string> = {}) {
  return {
    argv: [node, path.join(root, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'],
    display_name: DISPLAY_NAME,
    language: 'typescript',
    // SIGINT: stops async cells (via the kernel's handler) and synchronous loops (vm breakOnSigint).
    interrupt_mode: 'signal',
    env: { TF_CPP_MIN_LOG_LEVEL: '2', ...extraEnv },
    metadata: { debugger: false, d2l_ts_root: root },
  };
}

/** Writes the kernelspec; returns its folder. */
export function install(root: string, scope: Scope, env: NodeJS.ProcessEnv = process.env,
  extraEnv: Record<string, string> = {}): string {
  const dir = path.join(kernelsDir(scope, env), KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(kernelJson(root, process.execPath, extraEnv), null, 2) + '\n');
  for (const logo of ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg']) {
    fs.copyFileSync(path.join(root, 'kernel', 'assets', logo), path.join(dir, logo));
  }
  return dir;
}

/** Removes the kernelspec; returns the folder removed, or undefined when it was not there. */
export function uninstall(scope: Scope, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = path.join(kernelsDir(scope, env), KERNEL_NAME);
  if (!fs.existsSync(dir)) return undefined;
  fs.rmSync(dir, { recursive: true, force: true });
  return dir;
}
