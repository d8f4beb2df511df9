// lib/datasets/idx.ts (lecture 09's data files): raw and gzipped IDX, and every way a file can be wrong —
// each error names the file and the problem.
import * as zlib from 'zlib';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../../lib/args';
import { parseIdx } from '../../../lib/datasets/idx';
import { idx } from './helpers';

describe('parseIdx', () => {
  it('parses raw and gzipped IDX files', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
    for (const buf of [idx([2, 3, 4], data), zlib.gzipSync(idx([2, 3, 4], data))]) {
      const a = parseIdx(buf, 'x.idx');
      expect(a.shape).toEqual([2, 3, 4]);
      expect(Array.from(a.data)).toEqual(Array.from(data));
    }
    expect(parseIdx(idx([3], [7, 8, 9]), 'labels').shape).toEqual([3]);
  });

  it('names the file and the problem: bad magic, wrong length, gzip error', () => {
    const good = idx([2, 28, 28], new Uint8Array(2 * 784));
    const badMagic = Buffer.from(good);
    badMagic[2] = 0x0d; // float data, not unsigned bytes
    expect(() => parseIdx(badMagic, 'imgs.gz')).toThrow(/^imgs.gz: bad magic number 0x00000d03, expected 0x000008NN/);
    expect(() => parseIdx(Buffer.from('hello world'), 'text.gz')).toThrow(/text.gz: bad magic number 0x68656c6c/);
    expect(() => parseIdx(good.subarray(0, good.length - 100), 'cut.gz'))
      .toThrow(/^cut.gz: wrong length: shape \[2, 28, 28\] needs 1568 data bytes, file has 1468 \(truncated\)/);
    expect(() => parseIdx(good.subarray(0, 9), 'hdr.gz')).toThrow(/hdr.gz: wrong length: truncated header \(9 of 16 bytes\)/);
    expect(() => parseIdx(Buffer.concat([good, Buffer.from([1, 2])]), 'long')).toThrow(/long: wrong length.*2 extra bytes/);
    const gz = zlib.gzipSync(good);
    expect(() => parseIdx(gz.subarray(0, gz.length - 20), 'trunc.gz')).toThrow(/^trunc.gz: gzip error: unexpected end of file/);
    const flipped = Buffer.from(gz);
    flipped[gz.length - 6] ^= 0xff; // breaks the CRC / length trailer
    expect(() => parseIdx(flipped, 'crc.gz')).toThrow(/^crc.gz: gzip error/);
    expect(() => parseIdx(new Uint8Array(2), 'tiny')).toThrow(/tiny: too short for an IDX header/);
  });

  it('a bad argument (not bytes) is an ArgumentError in the lib\'s fn: expected X, got Y form', () => {
    const call = () => parseIdx('not bytes' as unknown as Uint8Array, 'f.gz');
    expect(call).toThrow(ArgumentError);
    expect(call).toThrow('parseIdx: expected a Uint8Array/Buffer for f.gz, got "not bytes"');
    expect(() => parseIdx([0, 0, 8, 1] as unknown as Uint8Array, 'arr')).toThrow(/got an array of length 4/);
  });
});
