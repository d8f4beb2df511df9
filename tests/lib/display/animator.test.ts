/**
 * lib/display/animator.ts: one display, then throttled updates of the same display id (a fake globalThis.display
 * stands in for the kernel's), the final state sent by finish(), and plain data collection outside a kernel.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Animator } from '../../../lib/display/animator';
import { resetPlotlyInline } from '../../../lib/display/plot';

const MIMEBUNDLE = Symbol.for('jupyter.mimebundle');
const PLOTLY = 'application/vnd.plotly.v1+json';

interface Sent { kind: 'display' | 'update'; id: string; bundle: Record<string, any> }

/** A fake of the kernel's `display` global: records what would go to the front end. */
function fakeDisplay(): Sent[] {
  const sent: Sent[] = [];
  let n = 0;
  (globalThis as any).display = (obj: any, opts: { displayId?: string } = {}) => {
    const id = opts.displayId ?? `fake-${++n}`;
    sent.push({ kind: 'display', id, bundle: obj[MIMEBUNDLE]() });
    return { displayId: id, update: (o: any) => sent.push({ kind: 'update', id, bundle: o[MIMEBUNDLE]() }) };
  };
  return sent;
}

const carriesPlotly = (s: Sent) => (s.bundle['text/html'] as string).includes('if (!window.Plotly)');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

beforeEach(() => {
  resetPlotlyInline();
});

afterEach(() => {
  delete (globalThis as any).display;
  vi.useRealTimers();
});

describe('Animator in a kernel', () => {
  it('shows one output, then updates it in place with the same display id, throttled', () => {
    vi.useFakeTimers();
    const sent = fakeDisplay();
    const a = new Animator({ xlabel: 'epoch', xlim: [1, 5], legend: ['train loss', 'test acc'], yscale: 'log' });
    a.add(1, [1.0, 0.5]);
    expect(sent.map((s) => s.kind)).toEqual(['display']);
    expect(a.displayId).toBe(sent[0].id);

    // Four adds within 250 ms: nothing until the trailing timer, which sends the latest state once.
    for (let e = 2; e <= 5; e++) a.add(e, [1 / e, 0.5 + e / 20]);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(250);
    expect(sent.map((s) => s.kind)).toEqual(['display', 'update']);
    expect(sent[1].bundle['text/plain']).toContain('train loss 0.2 (x 5), test acc 0.75 (x 5)');

    // An add after the interval goes out at once; finish() always sends the final state.
    vi.advanceTimersByTime(1000);
    a.add(6, [0.1, 0.9]);
    expect(sent).toHaveLength(3);
    a.finish();
    expect(sent.map((s) => s.kind)).toEqual(['display', 'update', 'update', 'update']);
    expect(new Set(sent.map((s) => s.id)).size).toBe(1);
    const last = sent[3].bundle;
    expect(Object.keys(last).sort()).toEqual([PLOTLY, 'text/html', 'text/plain']);
    expect(last[PLOTLY].data.map((t: any) => t.name)).toEqual(['train loss', 'test acc']);
    expect(last[PLOTLY].data[0].x).toEqual([1, 2, 3, 4, 5, 6]);
    expect(last[PLOTLY].data[1].y).toEqual([0.5, 0.6, 0.65, 0.7, 0.75, 0.9]);
    expect(last[PLOTLY].layout.yaxis.type).toBe('log');
    expect(last[PLOTLY].layout.xaxis.range).toEqual([1, 5]);
    expect(last['text/plain']).toBe('Figure(420x300 px): 2 traces [train loss, test acc]; x linear, y log');
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(4); // no stray timer
  });

  it('sends live states as text/html only (plotly.js in the first), the final state as the full figure', () => {
    vi.useFakeTimers();
    const sent = fakeDisplay();
    const a = new Animator();
    a.add(1, 1);
    vi.advanceTimersByTime(300);
    a.add(2, 2);
    a.finish();
    expect(sent.map((s) => Object.keys(s.bundle).sort().join(' '))).toEqual([
      'text/html text/plain', 'text/html text/plain', `${PLOTLY} text/html text/plain`]);
    // JupyterLab's plotly renderer ignores updates; html live states are redrawn, and the switch to the
    // plotly mime type at the end makes JupyterLab draw the final state with a new renderer.
    expect(sent.map(carriesPlotly)).toEqual([true, false, true]); // first figure of the process: its final state carries it
    expect(sent[1].bundle['text/html']).toContain('window.Plotly.newPlot');
    // A later animator: its first live state carries plotly.js again (transient), its final state does not.
    const b = new Animator();
    b.add(1, 1);
    b.finish();
    expect(sent.slice(3).map(carriesPlotly)).toEqual([true, false]);
  });

  it('leaves the carrier role to the next figure when it was never finished', () => {
    vi.useFakeTimers();
    const sent = fakeDisplay();
    const a = new Animator();
    a.add(1, 1);
    vi.advanceTimersByTime(300);
    a.add(2, 2);
    const b = new Animator();
    b.add(1, 1);
    b.finish();
    expect(sent.map(carriesPlotly)).toEqual([true, false, true, true]);
  });

  it('flush() sends a pending update at once', () => {
    vi.useFakeTimers();
    const sent = fakeDisplay();
    const a = new Animator();
    a.add(1, 1);
    a.add(2, 2);
    expect(sent).toHaveLength(1);
    a.flush();
    expect(sent).toHaveLength(2);
    expect(sent[1].bundle['text/html']).toContain('"y":[1,2]');
    a.flush();
    expect(sent).toHaveLength(2); // nothing pending
  });
});

describe('Animator outside a kernel', () => {
  it('draws nothing and keeps the data, skipping null values like d2l skips None', () => {
    const a = new Animator({ legend: ['loss', 'acc'] });
    a.add(1, [0.9, null]);
    a.add(2, [tf.scalar(0.5), 0.8]);
    a.add([3, 3.5], [0.25, undefined]);
    a.finish();
    expect(a.displayId).toBeUndefined();
    expect(a.data).toEqual({ X: [[1, 2, 3], [2]], Y: [[0.9, 0.5, 0.25], [0.8]] });
    expect(a.figure().spec.data).toHaveLength(2);
  });

  it('shows its figure when it ends a cell', () => {
    const a = new Animator();
    a.add(1, 2);
    const b = (a as any)[MIMEBUNDLE]();
    expect(b[PLOTLY].data[0]).toMatchObject({ x: [1], y: [2] });
  });

  it('checks its arguments up front', () => {
    expect(() => new Animator({ fmts: ['q'] })).toThrow(/fmts/);
    expect(() => new Animator({ nrows: 0 })).toThrow(/Animator: expected nrows to be a positive integer/);
    const a = new Animator();
    expect(() => a.add([1, 2], [1, 2, 3])).toThrow(/2 x values for 3 y values/);
    expect(() => a.add(1, tf.ones([2]) as any)).toThrow(/one-element tensor/);
    expect(() => a.add(1, 'x' as any)).toThrow(/expected y to be a number|expected .* to be a number/);
  });
});
