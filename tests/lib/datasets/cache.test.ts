// lib/datasets/cache.ts (lecture 15's SHA-1-checked cache): the decoded cache round-trips named arrays, notices
// every kind of corruption and says so, and atomic writes never leave half a file or a temporary one behind.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomicWrite, fileHash, readDecodedCache, writeDecodedCache } from '../../../lib/datasets/cache';

let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-cache-'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('decoded cache and atomic writes', () => {
  const arrays = () => ({ parts: { x: Uint8Array.from([1, 2, 3, 4, 5]), y: Uint8Array.from([9, 8]) }, meta: { note: 'hi' } });

  it('round-trips named arrays as views of one buffer; another key is stale (silently)', () => {
    const dir = path.join(root, 'cache');
    const notes: string[] = [];
    writeDecodedCache(dir, 'set-a', 'k1', arrays(), notes);
    expect(notes).toEqual([`cached to ${path.join(dir, 'set-a.bin')}`]);
    const back = readDecodedCache<{ note: string }>(dir, 'set-a', 'k1', notes);
    expect(back?.meta).toEqual({ note: 'hi' });
    expect(Array.from(back?.parts.x ?? [])).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(back?.parts.y ?? [])).toEqual([9, 8]);
    expect(back?.parts.x.buffer).toBe(back?.parts.y.buffer);
    expect(fileHash(fs.readFileSync(path.join(dir, 'set-a.bin')), 'sha1'))
      .toBe(JSON.parse(fs.readFileSync(path.join(dir, 'set-a.json'), 'utf8')).sha1);
    expect(readDecodedCache(dir, 'set-a', 'k2', notes)).toBeNull();
    expect(readDecodedCache(dir, 'nothing', 'k1', notes)).toBeNull();
    expect(notes.length).toBe(1);
  });

  it('notices a corrupt cache (SHA-1, length, header) and notes it; an unwritable dir is only noted', () => {
    const dir = path.join(root, 'cache-corrupt');
    writeDecodedCache(dir, 's', 'k', arrays(), []);
    const bin = path.join(dir, 's.bin');
    const json = path.join(dir, 's.json');
    const notes: string[] = [];
    const b = fs.readFileSync(bin);
    b[0] ^= 0xff;
    fs.writeFileSync(bin, b);
    expect(readDecodedCache(dir, 's', 'k', notes)).toBeNull();
    expect(notes.pop()).toMatch(new RegExp(`^ignored corrupt ${bin.replace(/[.\\]/g, '\\$&')} \\(SHA-1 [0-9a-f]{40}, expected [0-9a-f]{40}\\)$`));
    fs.truncateSync(bin, 3);
    expect(readDecodedCache(dir, 's', 'k', notes)).toBeNull();
    expect(notes.pop()).toBe(`ignored corrupt ${bin} (3 bytes, expected 7)`);
    fs.writeFileSync(json, '{ not json');
    expect(readDecodedCache(dir, 's', 'k', notes)).toBeNull();
    expect(notes.pop()).toMatch(/^ignored corrupt .*s\.json \(/);
    const aFile = path.join(root, 'cache-corrupt', 's.bin'); // a file where a directory should be
    writeDecodedCache(aFile, 's', 'k', arrays(), notes);
    expect(notes.pop()).toMatch(/^could not write the decoded cache \(/);
  });

  it('atomicWrite writes strings, bytes and lists of parts, and leaves no temporary file when it fails', () => {
    const dir = path.join(root, 'atomic');
    fs.mkdirSync(dir);
    atomicWrite(path.join(dir, 's'), 'text');
    atomicWrite(path.join(dir, 'b'), Uint8Array.from([1, 2]));
    atomicWrite(path.join(dir, 'p'), [Uint8Array.from([1]), new Uint8Array(0), Uint8Array.from([2, 3])]);
    expect(fs.readFileSync(path.join(dir, 's'), 'utf8')).toBe('text');
    expect(Array.from(fs.readFileSync(path.join(dir, 'b')))).toEqual([1, 2]);
    expect(Array.from(fs.readFileSync(path.join(dir, 'p')))).toEqual([1, 2, 3]);
    fs.mkdirSync(path.join(dir, 'taken'));
    fs.writeFileSync(path.join(dir, 'taken', 'x'), '');
    expect(() => atomicWrite(path.join(dir, 'taken'), 'over a non-empty directory')).toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(['b', 'p', 's', 'taken']);
  });
});
