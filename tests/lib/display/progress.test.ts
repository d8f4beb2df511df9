/**
 * lib/progress.ts: the line (epoch, batches, metrics, examples/s, ETA), one output updated in place in a
 * kernel, and plain periodic lines through cli-progress elsewhere.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'stream';
import { formatDuration, formatMetric, Progress } from '../../../lib/display/progress';

const MIMEBUNDLE = Symbol.for('jupyter.mimebundle');

/** A non-TTY stream that keeps what was written. */
function logStream(): Writable & { text: string } {
  const s = new Writable({ write(chunk, _enc, cb) { s.text += String(chunk); cb(); } }) as Writable & { text: string };
  s.text = '';
  return s;
}

afterEach(() => {
  delete (globalThis as any).display;
  vi.useRealTimers();
});

describe('Progress line', () => {
  it('shows epoch, batch bar, metrics, examples/s and ETA', () => {
    vi.useFakeTimers({ now: 0 });
    const p = new Progress({ epochs: 2, batches: 4, label: 'train', stream: logStream() });
    vi.setSystemTime(1000);
    p.step(256, { loss: 0.51234 });
    vi.setSystemTime(2000);
    p.step(256, { loss: 0.4, acc: 0.8 });
    expect(p.line).toBe('train  epoch 1/2  [##########----------] 2/4  loss 0.400  acc 0.800  256 ex/s  0:02 ETA 0:06');
    p.step(256); p.step(256);
    p.endEpoch({ 'test acc': 0.75 });
    expect(p.line).toMatch(/^train {2}epoch 1\/2 {2}\[#{20}\] 4\/4 {2}loss 0\.400 {2}acc 0\.800 {2}test acc 0\.750/);
    p.step(256); // rolls over to epoch 2
    expect(p.epoch).toBe(2);
    expect(p.batch).toBe(1);
    vi.setSystemTime(10_000);
    p.finish();
    expect(p.line).toMatch(/epoch 2\/2 .* 128 ex\/s {2}done in 0:10$/);
  });

  it('rolls epochs over by batch count, and without counts just counts', () => {
    const p = new Progress({ batches: 2, stream: logStream() });
    p.step(); p.step(); p.step();
    expect([p.epoch, p.batch]).toEqual([2, 1]);
    const q = new Progress({ stream: logStream() });
    q.step(); q.step();
    expect(q.line).toMatch(/^epoch 1 {2}batch 2 {2}0:00$/);
    q.endEpoch(); q.step();
    expect([q.epoch, q.batch]).toEqual([2, 1]);
    q.finish();
  });

  it('formats durations and metrics', () => {
    expect(formatDuration(42)).toBe('0:42');
    expect(formatDuration(725)).toBe('12:05');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(Infinity)).toBe('?');
    expect(formatMetric(0.84712)).toBe('0.847');
    expect(formatMetric(5.1e-5)).toBe('5.10e-5');
    expect(formatMetric(NaN)).toBe('NaN');
  });

  it('checks its options', () => {
    expect(() => new Progress({ epochs: 0 })).toThrow(/epochs must be a positive integer/);
  });
});

describe('Progress outside a kernel (CI logs)', () => {
  it('prints a plain line every intervalMs and the final one, without terminal escapes', () => {
    vi.useFakeTimers({ now: 0 });
    const out = logStream();
    const p = new Progress({ epochs: 1, batches: 100, stream: out, intervalMs: 1000 });
    for (let i = 0; i < 100; i++) {
      vi.advanceTimersByTime(35);
      p.step(10, { loss: 1 / (i + 1) });
    }
    p.finish();
    const lines = out.text.split('\n').filter(Boolean);
    expect(out.text).not.toMatch(/\x1b/);
    expect(out.text.endsWith('\n')).toBe(true);
    expect(out.text).not.toContain('\n\n');
    expect(lines.length).toBeGreaterThanOrEqual(4); // start, ~3 periodic, final
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines[0]).toMatch(/^epoch 1\/1 {2}\[-+\] 1\/100 {2}loss 1\.000/);
    expect(lines.at(-1)).toMatch(/^epoch 1\/1 {2}\[#{20}\] 100\/100 {2}loss 0\.010 {2}286 ex\/s {2}done in 0:04$/);
    vi.advanceTimersByTime(5000);
    expect(out.text.split('\n').filter(Boolean)).toHaveLength(lines.length); // stopped
  });

  it('finish() with no steps prints one line', () => {
    const out = logStream();
    new Progress({ epochs: 3, stream: out }).finish({ loss: 2 });
    expect(out.text).toMatch(/^epoch 1\/3 {2}loss 2\.000 {2}done in 0:00\n$/);
  });
});

describe('Progress in a kernel', () => {
  it('is one output updated in place (text/plain + text/html), with the final line sent by finish()', () => {
    vi.useFakeTimers({ now: 0 });
    const sent: { kind: string; id: string; bundle: any }[] = [];
    (globalThis as any).display = (obj: any) => {
      sent.push({ kind: 'display', id: 'p1', bundle: obj[MIMEBUNDLE]() });
      return { displayId: 'p1', update: (o: any) => sent.push({ kind: 'update', id: 'p1', bundle: o[MIMEBUNDLE]() }) };
    };
    const out = logStream();
    const p = new Progress({ epochs: 2, batches: 10, stream: out });
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(50);
      p.step(32, { loss: 1 });
    }
    p.finish();
    expect(out.text).toBe('');
    expect(sent[0].kind).toBe('display');
    expect(sent.slice(1).every((s) => s.kind === 'update' && s.id === 'p1')).toBe(true);
    expect(sent.length).toBeLessThanOrEqual(1 + 4 + 1); // 1 s of steps at ≤ 4 updates/s, plus the final
    const last = sent.at(-1)!.bundle;
    expect(Object.keys(last).sort()).toEqual(['text/html', 'text/plain']);
    expect(last['text/plain']).toMatch(/^epoch 2\/2 {2}\[#{20}\] 10\/10 {2}loss 1\.000 {2}640 ex\/s {2}done in 0:01$/);
    expect(last['text/html']).toContain('<progress value="1.0000" max="1"');
    vi.advanceTimersByTime(1000);
    expect(sent.at(-1)!.bundle).toBe(last);
  });
});
