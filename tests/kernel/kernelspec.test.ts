import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { install, kernelJson, kernelsDir, sysPrefix, uninstall, userDataDir } from '../../kernel/kernelspec';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'd2l-ts.js');
const ASSETS = path.join(ROOT, 'kernel', 'assets');
const JUPYTER = path.join(ROOT, '.venv', 'bin', 'jupyter');
const LOGOS = ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg'];

let tmp: string;
beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'kernel', 'main.js'))) {
    throw new Error('dist/kernel/main.js is missing: run `npx tsc -p tsconfig.json` before these tests');
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-ts-kernelspec-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A clean environment: no Jupyter/venv/conda variables from the caller leak into the CLI. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of ['JUPYTER_DATA_DIR', 'JUPYTER_PATH', 'VIRTUAL_ENV', 'CONDA_PREFIX', 'XDG_DATA_HOME']) delete e[k];
  return { ...e, ...extra };
}

function cli(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: env(extra), encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readSpec = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'));
/** Width and height from a PNG's IHDR chunk. */
const pngSize = (file: string) => {
  const b = fs.readFileSync(file);
  expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
};

function expectSpecFor(dir: string, root: string) {
  const spec = readSpec(dir);
  expect(spec).toMatchObject({
    argv: [process.execPath, path.join(root, 'bin', 'd2l-ts.js'), 'kernel', '{connection_file}'],
    display_name: 'TypeScript (d2l-ts)',
    language: 'typescript',
    interrupt_mode: 'signal',
    metadata: { d2l_ts_root: root },
  });
  expect(path.isAbsolute(spec.argv[0])).toBe(true);
  expect(path.isAbsolute(spec.argv[1])).toBe(true);
  expect(fs.readdirSync(dir).sort()).toEqual(['kernel.json', ...LOGOS].sort());
}

describe('kernelspec module', () => {
  it('finds the data dir: JUPYTER_DATA_DIR (made absolute), else XDG_DATA_HOME/jupyter on Linux', () => {
    expect(userDataDir({ JUPYTER_DATA_DIR: '/j/data' })).toBe('/j/data');
    expect(userDataDir({ JUPYTER_DATA_DIR: 'rel/data' })).toBe(path.resolve('rel/data'));
    if (process.platform === 'linux') expect(userDataDir({ XDG_DATA_HOME: '/xdg' })).toBe('/xdg/jupyter');
  });

  it('resolves scopes to kernels folders', () => {
    expect(kernelsDir({ kind: 'user' }, { JUPYTER_DATA_DIR: '/j' })).toBe('/j/kernels');
    expect(kernelsDir({ kind: 'prefix', dir: '/p' }, {})).toBe('/p/share/jupyter/kernels');
    expect(kernelsDir({ kind: 'sys-prefix' }, { VIRTUAL_ENV: '/venv', CONDA_PREFIX: '/conda' })).toBe('/venv/share/jupyter/kernels');
    expect(sysPrefix({ CONDA_PREFIX: '/conda' })).toBe('/conda');
  });

  it('kernel.json runs bin/d2l-ts.js of the given root with this node', () => {
    expect(kernelJson('/r', '/usr/bin/node')).toMatchObject({
      argv: ['/usr/bin/node', '/r/bin/d2l-ts.js', 'kernel', '{connection_file}'],
      interrupt_mode: 'signal',
    });
  });

  it('install/uninstall with an explicit env', () => {
    const e = { JUPYTER_DATA_DIR: path.join(tmp, 'module-data') };
    const dir = install(ROOT, { kind: 'user' }, e);
    expect(dir).toBe(path.join(tmp, 'module-data', 'kernels', 'd2l-ts'));
    expectSpecFor(dir, ROOT);
    expect(uninstall({ kind: 'user' }, e)).toBe(dir);
    expect(fs.existsSync(dir)).toBe(false);
    expect(uninstall({ kind: 'user' }, e)).toBeUndefined();
  });
});

describe('d2l-ts install / uninstall (CLI)', () => {
  it('installs into $JUPYTER_DATA_DIR/kernels/d2l-ts with kernel.json and the logos', () => {
    const data = path.join(tmp, 'user-data');
    const r = cli(['install'], { JUPYTER_DATA_DIR: data });
    const dir = path.join(data, 'kernels', 'd2l-ts');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`d2l-ts: installed kernelspec "d2l-ts" (TypeScript (d2l-ts)) in ${dir}\n`);
    expectSpecFor(dir, ROOT);
    expect(pngSize(path.join(dir, 'logo-32x32.png'))).toEqual([32, 32]);
    expect(pngSize(path.join(dir, 'logo-64x64.png'))).toEqual([64, 64]);
    for (const logo of LOGOS) expect(fs.readFileSync(path.join(dir, logo)).equals(fs.readFileSync(path.join(ASSETS, logo)))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'logo-svg.svg'), 'utf8')).toMatch(/<svg[\s>]/);
  });

  it('--prefix DIR and --prefix=DIR install into DIR/share/jupyter/kernels/d2l-ts', () => {
    const prefix = path.join(tmp, 'prefix');
    expect(cli(['install', '--prefix', prefix]).code).toBe(0);
    expectSpecFor(path.join(prefix, 'share', 'jupyter', 'kernels', 'd2l-ts'), ROOT);
    const prefix2 = path.join(tmp, 'prefix2');
    expect(cli(['install', `--prefix=${prefix2}`]).code).toBe(0);
    expectSpecFor(path.join(prefix2, 'share', 'jupyter', 'kernels', 'd2l-ts'), ROOT);
  });

  it('--env NAME=VALUE (repeatable) goes into the kernel\'s env; a malformed one is an error', () => {
    const prefix = path.join(tmp, 'env-prefix');
    const r = cli(['install', '--prefix', prefix, '--env', 'D2L_DATA=/opt/d2l-ts/data', '--env=D2L_DOWNLOAD=0']);
    expect(r.code, r.stderr).toBe(0);
    const spec = JSON.parse(fs.readFileSync(path.join(prefix, 'share', 'jupyter', 'kernels', 'd2l-ts', 'kernel.json'), 'utf8'));
    expect(spec.env).toEqual({ TF_CPP_MIN_LOG_LEVEL: '2', D2L_DATA: '/opt/d2l-ts/data', D2L_DOWNLOAD: '0' });
    expect(cli(['install', '--prefix', prefix, '--env', '=x']).stderr).toBe('d2l-ts: install: expected --env NAME=VALUE, got "=x"\n');
    expect(cli(['install', '--prefix', prefix, '--env']).stderr).toBe('d2l-ts: install: expected --env NAME=VALUE, got nothing\n');
  });

  it('--sys-prefix installs into the active virtualenv', () => {
    const venv = path.join(tmp, 'venv');
    expect(cli(['install', '--sys-prefix'], { VIRTUAL_ENV: venv }).code).toBe(0);
    expectSpecFor(path.join(venv, 'share', 'jupyter', 'kernels', 'd2l-ts'), ROOT);
  });

  it('uninstall removes the kernelspec and says so; a second uninstall says there is none', () => {
    const prefix = path.join(tmp, 'uninstall');
    const kernels = path.join(prefix, 'share', 'jupyter', 'kernels');
    expect(cli(['install', '--prefix', prefix]).code).toBe(0);
    const r = cli(['uninstall', '--prefix', prefix]);
    expect(r).toMatchObject({ code: 0, stdout: `d2l-ts: removed kernelspec ${path.join(kernels, 'd2l-ts')}\n` });
    expect(fs.existsSync(path.join(kernels, 'd2l-ts'))).toBe(false);
    expect(cli(['uninstall', '--prefix', prefix])).toMatchObject({ code: 0, stdout: `d2l-ts: no kernelspec "d2l-ts" in ${kernels}\n` });
  });

  it('re-installing after the checkout moved rewrites argv (and the logos)', () => {
    const data = path.join(tmp, 'moved-data');
    const dir = path.join(data, 'kernels', 'd2l-ts');
    expect(cli(['install'], { JUPYTER_DATA_DIR: data }).code).toBe(0);
    expectSpecFor(dir, ROOT);

    const other = path.join(tmp, 'other-checkout');
    fs.cpSync(ASSETS, path.join(other, 'kernel', 'assets'), { recursive: true });
    fs.writeFileSync(path.join(other, 'kernel', 'assets', 'logo-svg.svg'), '<svg id="moved"/>');
    expect(install(other, { kind: 'user' }, { JUPYTER_DATA_DIR: data })).toBe(dir);
    expectSpecFor(dir, other);
    expect(fs.readFileSync(path.join(dir, 'logo-svg.svg'), 'utf8')).toBe('<svg id="moved"/>');

    expect(cli(['install'], { JUPYTER_DATA_DIR: data }).code).toBe(0);
    expectSpecFor(dir, ROOT);
  });

  it('an unknown option fails with exit code 1 and names it', () => {
    const r = cli(['install', '--bogus'], { JUPYTER_DATA_DIR: path.join(tmp, 'never') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^d2l-ts: install: unknown option --bogus\nusage: d2l-ts <command>/);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
    expect(cli(['uninstall', '--prefix']).stderr).toBe('d2l-ts: --prefix needs a directory\n');
  });

  it('--help prints usage (exit 0); an unknown command prints it with exit 2', () => {
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: d2l-ts <command>\n {2}install {3}\[--user \| --sys-prefix \| --prefix DIR\]/);
    expect(help.stdout).toContain('uninstall');
    expect(help.stdout).toContain('kernel    CONNECTION_FILE');
    expect(cli(['frobnicate'])).toMatchObject({ code: 2, stdout: help.stdout });
  });

  const hasJupyter = fs.existsSync(JUPYTER);
  if (!hasJupyter) console.warn(`kernelspec.test: skipping the jupyter check: ${JUPYTER} not found`);
  it.skipIf(!hasJupyter)('jupyter kernelspec list finds it (needs .venv/bin/jupyter)', () => {
    const data = path.join(tmp, 'jupyter-data');
    expect(cli(['install'], { JUPYTER_DATA_DIR: data }).code).toBe(0);
    const r = spawnSync(JUPYTER, ['kernelspec', 'list', '--json'], { env: env({ JUPYTER_DATA_DIR: data }), encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const specs = JSON.parse(r.stdout).kernelspecs;
    expect(specs['d2l-ts'].resource_dir).toBe(path.join(data, 'kernels', 'd2l-ts'));
    expect(specs['d2l-ts'].spec).toMatchObject({
      display_name: 'TypeScript (d2l-ts)',
      language: 'typescript',
      interrupt_mode: 'signal',
      argv: [process.execPath, BIN, 'kernel', '{connection_file}'],
    });
  });
});
