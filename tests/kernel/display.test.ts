import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createDisplayApi, MIMEBUNDLE, plain, toDisplayContent, type DisplayContent, type DisplaySink } from '../../kernel/display';
import { runInCell } from '../../kernel/interrupt';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const text = (v: unknown) => toDisplayContent(v)?.data['text/plain'];

describe('toDisplayContent: plain values', () => {
  it('shows nothing for undefined', () => {
    expect(toDisplayContent(undefined)).toBeUndefined();
  });

  it('numbers, null and strings read like a REPL (strings keep their quotes)', () => {
    expect(toDisplayContent(42)).toEqual({ data: { 'text/plain': '42' }, metadata: {} });
    expect(text(-0.5)).toBe('-0.5');
    expect(text(null)).toBe('null');
    expect(text('hi')).toBe("'hi'");
    expect(text("it's")).toBe(`"it's"`);
  });

  it('limits nested objects to depth 2', () => {
    expect(text({ a: { b: { c: { d: { e: { f: 1 } } } } } })).toBe('{ a: { b: { c: [Object] } } }');
    expect(text([[[[1]]]])).toBe('[ [ [ [Array] ] ] ]');
  });

  it('truncates long arrays after 100 items and long strings after 10000 characters', () => {
    const t = text(Array.from({ length: 150 }, (_, i) => i)) as string;
    expect(t).toMatch(/ 96, 97, 98, 99,\n {2}\.\.\. 50 more items\n\]$/);
    expect(t).not.toMatch(/\b100\b/);
    expect((text('x'.repeat(10_050)) as string).endsWith("x'... 50 more characters")).toBe(true);
  });
});

describe('toDisplayContent: rich display via Symbol.for("jupyter.mimebundle")', () => {
  it('uses the symbol registered under jupyter.mimebundle', () => {
    expect(MIMEBUNDLE).toBe(Symbol.for('jupyter.mimebundle'));
  });

  it('uses the returned bundle as is when it has text/plain', () => {
    const obj = { [Symbol.for('jupyter.mimebundle')]: () => ({ 'text/html': '<b>hi</b>', 'text/plain': 'hi' }) };
    expect(toDisplayContent(obj)).toEqual({ data: { 'text/html': '<b>hi</b>', 'text/plain': 'hi' }, metadata: {} });
  });

  it('adds text/plain (the inspect text) when the bundle has none; the method sees `this`', () => {
    class Plot {
      kind = 'line';
      [Symbol.for('jupyter.mimebundle')]() {
        return { 'image/png': `png-of-${this.kind}` };
      }
    }
    expect(toDisplayContent(new Plot())).toEqual({
      data: { 'image/png': 'png-of-line', 'text/plain': "Plot { kind: 'line' }" },
      metadata: {},
    });
  });

  it('accepts the {data, metadata} form', () => {
    class Svg {
      [Symbol.for('jupyter.mimebundle')]() {
        return { data: { 'image/svg+xml': '<svg/>' }, metadata: { 'image/svg+xml': { isolated: true } } };
      }
    }
    expect(toDisplayContent(new Svg())).toEqual({
      data: { 'image/svg+xml': '<svg/>', 'text/plain': 'Svg {}' },
      metadata: { 'image/svg+xml': { isolated: true } },
    });
  });

  it('falls back to text when the method throws, and says why', () => {
    class Fig {
      w = 3;
      [Symbol.for('jupyter.mimebundle')](): never {
        throw new Error('no canvas');
      }
    }
    expect(toDisplayContent(new Fig())).toEqual({
      data: { 'text/plain': 'Fig { w: 3 }\n[display failed: no canvas]' },
      metadata: {},
    });
  });
});

describe('toDisplayContent: tensors', () => {
  it('gives PyTorch-style text and an HTML table', () => {
    const t = tf.tensor([[1, 2], [3, 4]]);
    expect(toDisplayContent(t)).toEqual({
      data: {
        'text/plain': 'tensor([[1., 2.],\n        [3., 4.]])',
        'text/html':
          '<table class="d2l-tensor"><caption>shape [2, 2] · float32</caption><tbody>' +
          '<tr><td>1.</td><td>2.</td></tr><tr><td>3.</td><td>4.</td></tr></tbody></table>',
      },
      metadata: {},
    });
    t.dispose();
  });
});

describe('plain: promises', () => {
  it('hides the async_hooks symbols of promises made inside a cell context', async () => {
    // On Node 20 util.inspect shows [Symbol(async_id_symbol)] etc. once AsyncLocalStorage is in use.
    const { result: done } = runInCell(() => Promise.resolve(5));
    const { result: pending } = runInCell(() => new Promise(() => {}));
    const { result: obj } = runInCell(() => Promise.resolve({ a: 1, b: 'x' }));
    expect(plain(done)).toBe('Promise { 5 }');
    expect(plain(pending)).toBe('Promise { <pending> }');
    expect(plain(obj)).toBe("Promise { { a: 1, b: 'x' } }");
    expect(text(done)).not.toMatch(/Symbol|async_id|kResourceStore/);
    await done;
  });
});

describe('createDisplayApi', () => {
  type Published = { content: DisplayContent & { transient: { display_id?: string } }; update: boolean };
  function recorder() {
    const published: Published[] = [];
    const clears: boolean[] = [];
    const sink: DisplaySink = {
      publish: (content, update) => published.push({ content, update }),
      clearOutput: (wait) => clears.push(wait),
    };
    return { published, clears, api: createDisplayApi(sink) };
  }

  it('display() publishes display_data with a fresh transient display_id; update() reuses it', () => {
    const { published, api } = recorder();
    const h = api.display('loss 0.5');
    expect(published).toEqual([
      { content: { data: { 'text/plain': "'loss 0.5'" }, metadata: {}, transient: { display_id: h.displayId } }, update: false },
    ]);
    expect(h.displayId).toMatch(/^d2l-/);
    h.update(0.25);
    expect(published[1]).toEqual({
      content: { data: { 'text/plain': '0.25' }, metadata: {}, transient: { display_id: h.displayId } },
      update: true,
    });
    expect(api.display(1).displayId).not.toBe(h.displayId);
  });

  it('honours an explicit displayId, and update: true updates that output', () => {
    const { published, api } = recorder();
    expect(api.display(1, { displayId: 'progress' }).displayId).toBe('progress');
    api.display(2, { displayId: 'progress', update: true });
    expect(published.map((p) => [p.content.transient.display_id, p.update, p.content.data['text/plain']])).toEqual([
      ['progress', false, '1'],
      ['progress', true, '2'],
    ]);
  });

  it('shows undefined as empty text (a display must have a bundle)', () => {
    const { published, api } = recorder();
    api.display(undefined);
    expect(published[0].content.data).toEqual({ 'text/plain': '' });
  });

  it('clearOutput(true) and clearOutput({wait: true}) wait; no argument does not', () => {
    const { clears, api } = recorder();
    api.clearOutput(true);
    api.clearOutput({ wait: true });
    api.clearOutput();
    api.clearOutput({});
    api.clearOutput(false);
    expect(clears).toEqual([true, true, false, false, false]);
  });
});
