/**
 * The IDX file format of MNIST and Fashion-MNIST (lecture 09, `image-classification-dataset.md`): the book gets
 * the decoded images from `torchvision.datasets.FashionMNIST`; without torchvision we read the official files
 * ourselves. Apart from the data hub (hub.ts) because it is a file format, not a way of getting files, and any
 * later IDX data set (MNIST, KMNIST) reads the same bytes.
 *
 * Only unsigned-byte IDX (type 0x08) is read: every such data set stores pixels and labels that way. A file
 * that is not one is an Error naming the file and what is wrong (bad magic, truncated, extra bytes, gzip),
 * never a silently misread array.
 * @module
 */
import * as zlib from 'zlib';
import { argError } from '../args';

/** Lecture 09: an IDX array (the MNIST file format), its shape and its unsigned bytes. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/**
 * Lecture 09: parses an IDX file of unsigned bytes (the MNIST / Fashion-MNIST format), gzipped or not.
 * `name` is used in errors: bad magic number, wrong length, gzip error.
 * @example const { shape, data } = parseIdx(fs.readFileSync(f), f) // shape [60000, 28, 28]
 */
export function parseIdx(buf: Uint8Array, name: string): IdxArray {
  if (!(buf instanceof Uint8Array)) throw argError('parseIdx', `a Uint8Array/Buffer for ${name}`, buf);
  const bytes = gunzipIfGzipped(buf, name);
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

/** The official files are `.gz`; a user may have gunzipped them: both read the same (gzip magic 1f 8b). */
function gunzipIfGzipped(buf: Uint8Array, name: string): Uint8Array {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
  try {
    return zlib.gunzipSync(buf);
  } catch (err) {
    throw new Error(`${name}: gzip error: ${(err as Error).message}`);
  }
}
