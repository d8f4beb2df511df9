import { describe, expect, it } from 'vitest';
import { createHmac } from 'crypto';
import { makeHeader, parse, PROTOCOL_VERSION, serialize, sign, SignatureError, type Message } from '../../jupyter/protocol';

const KEY = 'a0436f6c-1916-498b-8eb9-e81ab9368e84';
const toBuffers = (frames: (string | Buffer)[]) => frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : f));

function message(): Message {
  return {
    header: makeHeader('execute_request', 'session-1'),
    parent_header: {},
    metadata: { cellId: 'c1' },
    content: { code: 'const ü = "ü"; ü', silent: false },
    buffers: [Buffer.from([0, 1, 2, 255])],
  };
}

describe('sign', () => {
  it('is HMAC-SHA256 over the concatenated frames (the well-known "quick brown fox" vector)', () => {
    // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog")
    const want = 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8';
    expect(sign('key', ['The quick brown fox ', Buffer.from('jumps over the lazy dog')])).toBe(want);
    expect(sign('key', ['The quick brown fox jumps over the lazy dog'])).toBe(want);
  });

  it('an empty key means no signing', () => {
    expect(sign('', ['{}', '{}', '{}', '{}'])).toBe('');
  });
});

describe('serialize / parse', () => {
  it('frames: identities, <IDS|MSG>, signature of the 4 JSON frames, the JSON frames, buffers', () => {
    const msg = message();
    const frames = toBuffers(serialize(KEY, msg, [Buffer.from('id-a'), Buffer.from('id-b')]));
    expect(frames.map((f) => f.toString()).slice(0, 3)).toEqual(['id-a', 'id-b', '<IDS|MSG>']);
    expect(frames).toHaveLength(2 + 1 + 1 + 4 + 1);
    const body = frames.slice(4, 8);
    expect(body.map((b) => JSON.parse(b.toString()))).toEqual([msg.header, {}, { cellId: 'c1' }, msg.content]);
    const h = createHmac('sha256', KEY);
    h.update(Buffer.concat(body));
    expect(frames[3].toString()).toBe(h.digest('hex'));
    expect(frames[8]).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('round-trips a message with identities and buffers', () => {
    const msg = message();
    const ids = [Buffer.from('router-id'), Buffer.from([1, 2, 3])];
    const got = parse(KEY, toBuffers(serialize(KEY, msg, ids)));
    expect(got).toEqual({ ...msg, identities: ids });
    expect(got.content.code).toBe('const ü = "ü"; ü');
  });

  it('parses a message without identities or buffers', () => {
    const msg = { ...message(), buffers: undefined };
    expect(parse(KEY, toBuffers(serialize(KEY, msg)))).toEqual({ ...msg, identities: [], buffers: [] });
  });

  it('rejects a tampered frame', () => {
    const frames = toBuffers(serialize(KEY, message()));
    frames[4] = Buffer.from(JSON.stringify({ cellId: 'c2' })); // metadata (frames: DELIM, sig, header, parent, metadata, content)
    expect(() => parse(KEY, frames)).toThrow(SignatureError);
    expect(() => parse(KEY, frames)).toThrow('invalid HMAC signature');
  });

  it('rejects a message signed with another key, or a signature of another length', () => {
    const frames = toBuffers(serialize('other-key', message()));
    expect(() => parse(KEY, frames)).toThrow(SignatureError);
    frames[1] = Buffer.from('abc');
    expect(() => parse(KEY, frames)).toThrow('invalid HMAC signature');
  });

  it('rejects an unsigned message when a key is set', () => {
    const frames = toBuffers(serialize('', message()));
    expect(frames[1].toString()).toBe('');
    let err: unknown;
    try {
      parse(KEY, frames);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SignatureError);
    expect((err as Error).name).toBe('SignatureError');
    expect((err as Error).message).toBe('unsigned message');
  });

  it('with an empty key accepts the empty signature and rejects a non-empty one', () => {
    const frames = toBuffers(serialize('', message()));
    expect(parse('', frames).header.msg_type).toBe('execute_request');
    frames[1] = Buffer.from(sign(KEY, frames.slice(2, 6)));
    expect(() => parse('', frames)).toThrow(SignatureError);
  });

  it('throws on a missing delimiter or missing JSON frames', () => {
    const frames = toBuffers(serialize(KEY, message(), [Buffer.from('id')]));
    expect(() => parse(KEY, frames.filter((_, i) => i !== 1))).toThrow(/no <IDS\|MSG> delimiter/);
    expect(() => parse(KEY, frames.slice(0, 6))).toThrow(SignatureError);
  });
});

describe('makeHeader', () => {
  it('fills a protocol 5.3 header with a fresh msg_id and an ISO date', () => {
    const a = makeHeader('kernel_info_request', 's');
    const b = makeHeader('kernel_info_request', 's');
    expect(PROTOCOL_VERSION).toBe('5.3');
    expect(a).toMatchObject({ msg_type: 'kernel_info_request', session: 's', username: 'd2l-ts', version: '5.3' });
    expect(a.msg_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.msg_id).not.toBe(b.msg_id);
    expect(new Date(a.date).toISOString()).toBe(a.date);
  });
});
