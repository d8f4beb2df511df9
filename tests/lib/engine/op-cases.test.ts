// The catalog of kernels the lectures run (lib/engine/op-cases.ts): every recorded kernel is covered by a case, each
// case really runs the kernels it names (recorded on cpu with a hook on the engine's dispatch), the wasm backend
// passes every case against cpu without leaking a tensor, and a backend that computes something else is caught.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../lib/engine/backend';
import { compareWithCpu, LECTURE_KERNELS, LECTURE_OP_CASES, type OpCase } from '../../../lib/engine/op-cases';

beforeAll(async () => {
  process.env.D2L_BACKEND = 'wasm';   // this file's worker process only
  const info = await initBackend();
  expect(info.name).toBe('wasm');
});

describe('LECTURE_KERNELS', () => {
  it('is sorted, without duplicates', () => {
    expect([...LECTURE_KERNELS]).toEqual([...new Set(LECTURE_KERNELS)].sort());
    expect(LECTURE_KERNELS.length).toBeGreaterThan(50);
  });

  it('every kernel is named by some case', () => {
    const named = new Set(LECTURE_OP_CASES.flatMap((c) => c.kernels));
    expect(LECTURE_KERNELS.filter((k) => !named.has(k))).toEqual([]);
  });

  it('case names are unique and every case has a tolerance and lectures', () => {
    expect(new Set(LECTURE_OP_CASES.map((c) => c.name)).size).toBe(LECTURE_OP_CASES.length);
    for (const c of LECTURE_OP_CASES) {
      expect(c.tol, c.name).toBeGreaterThanOrEqual(0);
      expect(c.lectures, c.name).toMatch(/^\d\d/);
      expect(c.kernels.length, c.name).toBeGreaterThan(0);
    }
  });
});

describe('each case runs the kernels it names (recorded on cpu)', { timeout: 30_000 }, () => {
  type Engine = { runKernelFunc: (p: { kernelName?: string }) => unknown };
  const engine = tf.engine() as unknown as Engine;
  const original = engine.runKernelFunc;
  let recorded: Set<string> | undefined;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    engine.runKernelFunc = function (this: unknown, p) {
      if (recorded && p.kernelName) recorded.add(p.kernelName);
      return original.call(this, p);
    };
  });
  afterAll(async () => {
    engine.runKernelFunc = original;
    await tf.setBackend('wasm');
  });

  const ran = new Set<string>();
  for (const c of LECTURE_OP_CASES) {
    it(c.name, () => {
      recorded = new Set();
      try {
        tf.tidy(() => { c.run(); });
      } finally {
        for (const k of recorded) ran.add(k);
        const seen = recorded;
        recorded = undefined;
        expect(c.kernels.filter((k) => !seen.has(k))).toEqual([]);
      }
    });
  }

  it('together, the cases run every lecture kernel', () => {
    expect(LECTURE_KERNELS.filter((k) => !ran.has(k))).toEqual([]);
  });
});

describe('compareWithCpu', { timeout: 60_000 }, () => {
  it('wasm passes every case, leaks no tensor and keeps wasm active', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    const results = await compareWithCpu('wasm', LECTURE_OP_CASES, (r) => seen.push(r.name));
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('wasm');
    expect(seen).toEqual(LECTURE_OP_CASES.map((c) => c.name));
    const failed = results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error ?? `maxErr ${r.maxErr} > ${r.tol}`}`);
    expect(failed).toEqual([]);
    for (const r of results) {
      expect(r.maxErr).toBeLessThanOrEqual(r.tol);
      expect(r.ms).toBeGreaterThanOrEqual(0);
    }
  });

  const custom = (name: string, run: () => tf.Tensor | tf.Tensor[], tol = 1e-6): OpCase =>
    ({ name, lectures: '00', kernels: ['Add'], tol, run });
  const onWasm = () => tf.getBackend() === 'wasm';

  it('reports a backend that computes something else as not ok, with the worst value', async () => {
    const before = tf.memory().numTensors;
    const [r] = await compareWithCpu('wasm', [custom('off by one on wasm', () => {
      const x = tf.tensor1d([1, 2, 3]);
      return onWasm() ? tf.add(x, 1) : x;
    })]);
    expect(r.ok).toBe(false);
    expect(r.maxErr).toBe(1);   // |2 − 1| / max(1, 1); 1/2 and 1/3 at the other two
    expect(r.error).toMatch(/^output 0 of 1 \[3\] float32: error 1 at flat index 0: got 2, cpu 1$/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('applies the tolerance relative to the cpu value above 1, absolute below', async () => {
    const shifted = (d: number) => custom(`shifted by ${d}`, () => {
      const x = tf.tensor1d([0.5, 1000]);
      return onWasm() ? tf.add(x, tf.tensor1d([0, d])) : x;
    }, 1e-5);
    const [within, beyond] = await compareWithCpu('wasm', [shifted(0.005), shifted(0.05)]);
    expect(within.ok).toBe(true);
    expect(beyond.ok).toBe(false);
  });

  it('reports shape and dtype mismatches and a different number of outputs', async () => {
    const results = await compareWithCpu('wasm', [
      custom('shape', () => (onWasm() ? tf.zeros([2, 3]) : tf.zeros([3, 2]))),
      custom('dtype', () => tf.zeros([2], onWasm() ? 'int32' : 'float32')),
      custom('count', () => (onWasm() ? [tf.zeros([1])] : [tf.zeros([1]), tf.zeros([1])])),
    ]);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(results[0].error).toMatch(/shape \[2,3\], cpu \[3,2\]/);
    expect(results[1].error).toMatch(/dtype int32, cpu float32/);
    expect(results[2].error).toMatch(/1 outputs, cpu gives 2/);
    expect(results.every((r) => r.maxErr === Infinity)).toBe(true);
  });

  it('treats NaN as equal to NaN only', async () => {
    const results = await compareWithCpu('wasm', [
      custom('NaN both', () => tf.tensor1d([NaN, 1])),
      custom('NaN on wasm', () => tf.tensor1d([onWasm() ? NaN : 0, 1])),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false]);
  });

  it('turns an exception on either backend, even in a backward pass, into an error, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const failingGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return {
        value: tf.mul(x, 2),
        gradFunc: (dy: tf.Tensor) => {
          if (onWasm()) throw new Error('no gradient kernel here');
          return tf.mul(dy, 2);
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const results = await compareWithCpu('wasm', [
      custom('throws in backward on wasm', () => tf.grad((x: tf.Tensor) => tf.sum(failingGrad(x) as tf.Tensor))(tf.ones([4]))),
      custom('throws on cpu', () => {
        if (!onWasm()) throw new Error('cpu says no');
        return tf.zeros([1]);
      }),
      custom('fine afterwards', () => tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.ones([4]))),
    ]);
    expect(results.map((r) => r.ok)).toEqual([false, false, true]);
    expect(results[0].error).toBe('on wasm: no gradient kernel here');
    expect(results[1].error).toBe('on cpu: cpu says no');
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('wasm');
  });
});
