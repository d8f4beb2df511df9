/**
 * lib/display/plot.ts: d2l's `plot` semantics, the plotly JSON (traces, axis types, log scale), the text/html fallback
 * with plotly.js inlined once per kernel process, and fmts.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs';
import {
  Figure, parseFmt, plot, plotlyScriptTag, resetPlotlyInline, setFigsize, setPlotlyInline, toSeriesList,
} from '../../../lib/display/plot';

const MIMEBUNDLE = Symbol.for('jupyter.mimebundle');
const PLOTLY = 'application/vnd.plotly.v1+json';
type Bundle = Record<string, any>;
const bundleOf = (f: Figure): Bundle => (f as any)[MIMEBUNDLE]();
/** Inline scripts of an html fallback. */
const scripts = (html: string) => [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  setPlotlyInline('once');
  resetPlotlyInline();
  setFigsize();
});

describe('plot: the mime bundle', () => {
  it('has the plotly JSON, an html fallback and a one-line text', () => {
    const x = [0.1, 1, 10, 100];
    const b = bundleOf(plot(x, [x.map((v) => v * v), x.map(Math.sqrt)], {
      xlabel: 'x', ylabel: 'y', legend: ['x²', '√x'], yscale: 'log', xscale: 'log',
    }));
    expect(Object.keys(b).sort()).toEqual([PLOTLY, 'text/html', 'text/plain']);
    const fig = JSON.parse(JSON.stringify(b[PLOTLY]));
    expect(fig).toEqual(b[PLOTLY]); // plain JSON: survives a round trip unchanged
    expect(Object.keys(fig).sort()).toEqual(['config', 'data', 'layout']);
    expect(fig.data).toHaveLength(2);
    for (const t of fig.data) {
      expect(t.type).toBe('scatter');
      expect(t.mode).toBe('lines');
      expect(t.x).toEqual(x);
    }
    expect(fig.data.map((t: any) => t.name)).toEqual(['x²', '√x']);
    expect(fig.data[1].y).toEqual(x.map(Math.sqrt));
    expect(fig.layout.xaxis.type).toBe('log');
    expect(fig.layout.yaxis.type).toBe('log');
    expect(fig.layout.xaxis.title.text).toBe('x');
    expect(fig.layout.yaxis.title.text).toBe('y');
    expect(fig.layout.showlegend).toBe(true);
    expect(fig.layout.width).toBe(420); // d2l's 3.5 x 2.5 inches
    expect(fig.layout.height).toBe(300);
    expect(b['text/plain']).toBe('Figure(420x300 px): 2 traces [x², √x]; x log, y log');
    expect(b['text/plain']).not.toContain('\n');
  });

  it('gives log-axis limits to plotly as powers of ten, linear ones as they are', () => {
    const f = plot([1, 2, 3], [10, 100, 1000], { yscale: 'log', ylim: [1, 1e4], xlim: [0, 4] }).spec;
    expect(f.layout.yaxis.range).toEqual([0, 4]);
    expect(f.layout.yaxis.autorange).toBe(false);
    expect(f.layout.xaxis.range).toEqual([0, 4]);
    expect(f.layout.xaxis.type).toBe('linear');
    const g = plot([1, 2, 3], [1, 2, 3]).spec;
    expect(g.layout.xaxis.autorange).toBe(true);
    expect(g.layout.xaxis.range).toBeUndefined();
    expect(() => plot([1, 2], [1, 2], { yscale: 'log', ylim: [0, 1] })).toThrow(/positive on a log axis/);
    expect(() => plot([1, 2], [1, 2], { xscale: 'symlog' as any })).toThrow(/'linear' or 'log'/);
    expect(() => plot([1, 2], [1, 2], { xlim: [0] as any })).toThrow(/expected xlim to be \[number, number\]/);
  });

  it('styles series with d2l\'s default fmts (-, m--, g-., r:) and cycles them', () => {
    const x = [0, 1];
    const f = plot(x, [x, x, x, x, x]).spec;
    expect(f.data.map((t) => t.line!.dash)).toEqual(['solid', 'dash', 'dashdot', 'dot', 'solid']);
    expect(f.data.map((t) => t.line!.color)).toEqual(['#1f77b4', '#bf00bf', '#008000', '#ff0000', '#ff7f0e']);
    expect(f.data.every((t) => !t.showlegend && t.name === undefined)).toBe(true);
    expect(f.layout.showlegend).toBe(false);
  });

  it('draws markers for marker fmts (a scatter with fmts: ["."])', () => {
    const f = plot([1, 2, 3], [3, 1, 2], { fmts: ['b.'] }).spec;
    expect(f.data[0].mode).toBe('markers');
    expect(f.data[0].marker).toEqual({ color: '#0000ff', symbol: 'circle', size: 4 });
    expect(f.data[0].line).toBeUndefined();
    expect(plot([1], [1], { fmts: 'ro-' }).spec.data[0].mode).toBe('lines+markers');
  });

  it('sizes figures with figsize and setFigsize', () => {
    expect(plot([1], [1], { figsize: [5, 2.5] }).spec.layout.width).toBe(600);
    setFigsize([4.5, 2.5]);
    expect(plot([1], [1]).spec.layout).toMatchObject({ width: 540, height: 300 });
    expect(() => setFigsize([0, 1])).toThrow(/figsize/);
  });
});

describe('plot: d2l argument semantics', () => {
  it('plot(Y) plots against the index; plot(X, opts) takes options in second place', () => {
    const f = plot([3, 1, 2]).spec;
    expect(f.data[0].x).toEqual([0, 1, 2]);
    expect(f.data[0].y).toEqual([3, 1, 2]);
    const g = plot([[1, 2], [3, 4, 5]], { legend: ['a', 'b'] }).spec;
    expect(g.data.map((t) => t.x)).toEqual([[0, 1], [0, 1, 2]]);
    expect(g.data.map((t) => t.name)).toEqual(['a', 'b']);
  });

  it('takes tensors: 1-D is one series, 2-D rows are series, [n, 1] is a column; x is shared', () => {
    const x = tf.linspace(0, 1, 5);
    const f = plot(x, [x.square(), tf.tensor2d([[1], [2], [3], [4], [5]])]).spec;
    expect(f.data).toHaveLength(2);
    expect(f.data[0].x).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(f.data[0].y).toEqual([0, 0.0625, 0.25, 0.5625, 1]);
    expect(f.data[1].y).toEqual([1, 2, 3, 4, 5]);
    const rows = toSeriesList(tf.tensor2d([[1, 2], [3, 4], [5, 6]]));
    expect(rows).toEqual([[1, 2], [3, 4], [5, 6]]);
    // float32 values are written short: 0.1 not 0.10000000149011612
    expect(toSeriesList(tf.tensor1d([0.1]))).toEqual([[0.1]]);
  });

  it('pairs X and Y series one to one, and says what is wrong otherwise', () => {
    const f = plot([[0, 1], [10, 11]], [[1, 2], [3, 4]]).spec;
    expect(f.data.map((t) => t.x)).toEqual([[0, 1], [10, 11]]);
    expect(() => plot([[0, 1], [0, 1]], [[1, 2], [1, 2], [1, 2]])).toThrow(/2 x series for 3 y series/);
    expect(() => plot([0, 1, 2], [1, 2])).toThrow(/series 0 has 3 x values and 2 y values/);
    expect(() => plot(['a', 'b'] as any)).toThrow(/expected an array of numbers or a 1-D tensor, got string/);
    expect(() => plot([[1, 'a']] as any)).toThrow(/series 0: expected numbers, got string at index 1/);
    expect(() => plot(tf.zeros([2, 2, 2]) as any)).toThrow(/1-D or 2-D tensor/);
  });

  it('keeps null as a gap', () => {
    expect(plot([1, null, 3]).spec.data[0].y).toEqual([1, null, 3]);
  });
});

describe('parseFmt', () => {
  it('reads matplotlib format strings', () => {
    expect(parseFmt('-')).toEqual({ dash: 'solid' });
    expect(parseFmt('m--')).toEqual({ color: '#bf00bf', dash: 'dash' });
    expect(parseFmt('g-.')).toEqual({ color: '#008000', dash: 'dashdot' });
    expect(parseFmt('r:')).toEqual({ color: '#ff0000', dash: 'dot' });
    expect(parseFmt('C1--')).toEqual({ color: '#ff7f0e', dash: 'dash' });
    expect(parseFmt('o')).toEqual({ marker: ['circle', 7] });
    expect(() => parseFmt('q')).toThrow(/unknown "q"/);
    expect(() => parseFmt('rg')).toThrow(/two colours/);
  });
});

describe('plot: text/html fallback and plotly.js inlined once', () => {
  it('inlines plotly.js (from node_modules, guarded) in the first figure only', () => {
    const first = bundleOf(plot([1, 2], [1, 4]))['text/html'] as string;
    const second = bundleOf(plot([1, 2], [4, 1]))['text/html'] as string;
    const tag = plotlyScriptTag();
    expect(tag.length).toBeGreaterThan(4_000_000);
    expect(tag.slice(0, 60)).toMatch(/^<script>\/\* plotly\.js 4\.\d+\.\d+,/);
    expect(tag.includes('if (!window.Plotly) {')).toBe(true);
    expect(first.includes(tag)).toBe(true);
    expect(second.includes('if (!window.Plotly)')).toBe(false);
    expect(second.length).toBeLessThan(10_000);
    for (const html of [first, second]) {
      // (booleans: a failing match would print 4.8 MB)
      expect(/<script[^>]* src=/.test(html)).toBe(false); // nothing loaded from elsewhere
      // A sized div showing the text summary until plotly draws (or where scripts do not run).
      expect(/^<div id="d2l-plot-[a-z0-9]+-\d+" class="d2l-plot" style="width:420px;height:300px"><pre[^>]*>Figure\(420x300 px\): 1 trace; x linear, y linear<\/pre><\/div>/.test(html)).toBe(true);
      expect(html.includes("el.textContent = ''; window.Plotly.newPlot(el, fig.data, fig.layout, fig.config)")).toBe(true);
      expect(html.includes('setTimeout(draw, waited < 2000 ? 20 : 200)')).toBe(true); // waits for plotly.js carried by another output
    }
    // The same figure shown again carries it too (it is the carrier).
    const again = plot([1], [1]);
    resetPlotlyInline();
    expect(bundleOf(again)['text/html'].includes(tag)).toBe(true);
    expect(bundleOf(again)['text/html'].includes(tag)).toBe(true);
  });

  it("'each' inlines it in every figure, 'never' in none", () => {
    setPlotlyInline('each');
    const has = (f: Figure) => (bundleOf(f)['text/html'] as string).includes('if (!window.Plotly)');
    expect([has(plot([1])), has(plot([1]))]).toEqual([true, true]);
    setPlotlyInline('never');
    expect(has(plot([1]))).toBe(false);
    expect(() => setPlotlyInline('cdn' as any)).toThrow(/'once', 'each' or 'never'/);
  });

  it('writes scripts that parse, and that no legend text can break out of', () => {
    const html = bundleOf(plot([1, 2], [[1, 2]], { legend: ['</script><b>x</b>\u2028'] }))['text/html'] as string;
    expect(html.includes('</script><b>')).toBe(false);
    for (const s of scripts(html)) {
      if (s.length < 100_000) expect(() => new vm.Script(s)).not.toThrow();
    }
    // The drawing script builds the same figure.
    const draw = scripts(html).find((s) => s.includes('var fig = '))!;
    let drawn: any;
    const el = { isConnected: true, textContent: '' };
    vm.runInNewContext(draw, {
      window: { Plotly: { newPlot: (...a: any[]) => { drawn = a; } } },
      document: { getElementById: () => el, currentScript: null },
      Date, setTimeout,
    });
    expect(drawn[0]).toBe(el);
    expect(drawn[1][0].name).toBe('</script><b>x</b>\u2028');
  });

  it('inlines a plotly.js bundle that compiles and defines window.Plotly', () => {
    const tag = plotlyScriptTag();
    const js = tag.slice('<script>'.length, -'</script>'.length);
    expect(/<\/script/i.test(js)).toBe(false);
    expect(() => new vm.Script(js)).not.toThrow();
  });
});
