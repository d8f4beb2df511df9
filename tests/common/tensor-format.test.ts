import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  formatTensor,
  isTensorLike,
  tensorMimeBundle,
  tensorToHtml,
  type TensorLike,
} from '../../common/tensor-format';

// Every expected string below is what torch prints for the same values (dtype
// suffixes spelled `dtype=int32` instead of `dtype=torch.int32`), derived from
// torch/_tensor_str.py.

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const f = (t: tf.Tensor, opts?: Parameters<typeof formatTensor>[1]) => formatTensor(t, opts);

describe('formatTensor: dtypes and ranks', () => {
  it('prints integer-valued floats with a trailing dot', () => {
    expect(f(tf.range(0, 6).reshape([2, 3]))).toBe('tensor([[0., 1., 2.],\n        [3., 4., 5.]])');
    expect(f(tf.zeros([3]))).toBe('tensor([0., 0., 0.])');
  });

  it('prints fixed-point floats aligned on the minus sign', () => {
    expect(f(tf.tensor([1.5, 2.25, -3]))).toBe('tensor([ 1.5000,  2.2500, -3.0000])');
    expect(f(tf.tensor([[-1.5, 2], [3, -4.25]]))).toBe(
      'tensor([[-1.5000,  2.0000],\n        [ 3.0000, -4.2500]])',
    );
    expect(f(tf.tensor([-1, 10, 100]))).toBe('tensor([ -1.,  10., 100.])');
    expect(f(tf.tensor([-0, 1]))).toBe('tensor([-0., 1.])');
  });

  it('rounds half to even like Python', () => {
    expect(f(tf.tensor([0.03125, 1]))).toBe('tensor([0.0312, 1.0000])');
    expect(f(tf.tensor([0.09375, 1]))).toBe('tensor([0.0938, 1.0000])');
  });

  it('names non-default dtypes and prints bools as True/False', () => {
    expect(f(tf.tensor([0, 1, 2, 3], undefined, 'int32'))).toBe('tensor([0, 1, 2, 3], dtype=int32)');
    expect(f(tf.tensor([-1, 10], undefined, 'int32'))).toBe('tensor([-1, 10], dtype=int32)');
    expect(f(tf.tensor([true, false, true]))).toBe('tensor([ True, False,  True], dtype=bool)');
  });

  it('prints complex64 like torch complex tensors', () => {
    expect(f(tf.complex([1, 2], [3, -4]))).toBe('tensor([1.+3.j, 2.-4.j])');
  });

  it('prints 0-D tensors', () => {
    expect(f(tf.scalar(3.5))).toBe('tensor(3.5000)');
    expect(f(tf.scalar(2))).toBe('tensor(2.)');
    expect(f(tf.scalar(7, 'int32'))).toBe('tensor(7, dtype=int32)');
    expect(f(tf.scalar(true))).toBe('tensor(True, dtype=bool)');
  });

  it('prints empty tensors with their size when not (0,)', () => {
    expect(f(tf.tensor([]))).toBe('tensor([])');
    expect(f(tf.zeros([2, 0]))).toBe('tensor([], size=(2, 0))');
    expect(f(tf.tensor([], [0], 'int32'))).toBe('tensor([], dtype=int32)');
  });

  it('separates 3-D blocks with a blank line', () => {
    expect(f(tf.range(0, 8).reshape([2, 2, 2]))).toBe(
      'tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])',
    );
    expect(f(tf.range(0, 16).reshape([2, 2, 4]))).toBe(
      [
        'tensor([[[ 0.,  1.,  2.,  3.],',
        '         [ 4.,  5.,  6.,  7.]],',
        '',
        '        [[ 8.,  9., 10., 11.],',
        '         [12., 13., 14., 15.]]])',
      ].join('\n'),
    );
  });

  it('separates 4-D blocks with two blank lines', () => {
    expect(f(tf.range(0, 16, 1, 'int32').reshape([2, 2, 2, 2]))).toBe(
      [
        'tensor([[[[ 0,  1],',
        '          [ 2,  3]],',
        '',
        '         [[ 4,  5],',
        '          [ 6,  7]]],',
        '',
        '',
        '        [[[ 8,  9],',
        '          [10, 11]],',
        '',
        '         [[12, 13],',
        '          [14, 15]]]], dtype=int32)',
      ].join('\n'),
    );
  });
});

describe('formatTensor: notation', () => {
  it('switches to scientific notation on wide ranges, huge or tiny values', () => {
    expect(f(tf.tensor([100000, 1.5]))).toBe('tensor([1.0000e+05, 1.5000e+00])');
    expect(f(tf.tensor([-100000, 1.5]))).toBe('tensor([-1.0000e+05,  1.5000e+00])');
    expect(f(tf.tensor([0.00001, 1]))).toBe('tensor([1.0000e-05, 1.0000e+00])');
    expect(f(tf.tensor([0, 0.00001]))).toBe('tensor([0.0000e+00, 1.0000e-05])');
    expect(f(tf.tensor([1, 1e9]))).toBe('tensor([1.0000e+00, 1.0000e+09])');
    expect(f(tf.tensor([2e8, 3e8]))).toBe('tensor([2.0000e+08, 3.0000e+08])');
  });

  it('prints nan and infinities without a dot', () => {
    expect(f(tf.tensor([1, NaN, Infinity, -Infinity]))).toBe('tensor([1., nan, inf, -inf])');
    expect(f(tf.tensor([1.5, NaN]))).toBe('tensor([1.5000,    nan])');
  });

  it('honours precision', () => {
    expect(f(tf.tensor([1.12345]), { precision: 2 })).toBe('tensor([1.12])');
  });
});

describe('formatTensor: layout', () => {
  it('wraps long rows at 80 columns with an aligned continuation', () => {
    expect(f(tf.range(0, 30))).toBe(
      [
        'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,',
        '        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,',
        '        28., 29.])',
      ].join('\n'),
    );
  });

  it('moves a suffix that does not fit onto its own line', () => {
    expect(f(tf.range(0, 18, 1, 'int32'))).toBe(
      'tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17],\n       dtype=int32)',
    );
  });

  it('summarises 1-D tensors beyond the threshold', () => {
    expect(f(tf.range(0, 2000, 1, 'int32'))).toBe(
      'tensor([   0,    1,    2,  ..., 1997, 1998, 1999], dtype=int32)',
    );
    expect(f(tf.range(1000, 3000))).toBe('tensor([1000., 1001., 1002.,  ..., 2997., 2998., 2999.])');
    // 1999 / 1 > 1000 puts torch in scientific mode; the 7 items no longer fit one line.
    const s = f(tf.range(0, 2000));
    expect(s).toBe(
      'tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])',
    );
    expect(s.split('...').length - 1).toBe(1);
    expect(f(tf.range(0, 10, 1, 'int32'), { threshold: 5 })).toBe(
      'tensor([0, 1, 2,  ..., 7, 8, 9], dtype=int32)',
    );
  });

  it('summarises 2-D tensors, widths taken over the shown elements only', () => {
    const s = f(tf.range(0, 10000).reshape([100, 100]));
    expect(s).toBe(
      [
        'tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01, 9.8000e+01,',
        '         9.9000e+01],',
        '        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.9700e+02, 1.9800e+02,',
        '         1.9900e+02],',
        '        [2.0000e+02, 2.0100e+02, 2.0200e+02,  ..., 2.9700e+02, 2.9800e+02,',
        '         2.9900e+02],',
        '        ...,',
        '        [9.7000e+03, 9.7010e+03, 9.7020e+03,  ..., 9.7970e+03, 9.7980e+03,',
        '         9.7990e+03],',
        '        [9.8000e+03, 9.8010e+03, 9.8020e+03,  ..., 9.8970e+03, 9.8980e+03,',
        '         9.8990e+03],',
        '        [9.9000e+03, 9.9010e+03, 9.9020e+03,  ..., 9.9970e+03, 9.9980e+03,',
        '         9.9990e+03]])',
      ].join('\n'),
    );
    expect(s.split('...').length - 1).toBe(7);
  });

  it('summarises 3-D tensors with blank lines around the elided block', () => {
    const t = tf.range(0, 27, 1, 'int32').reshape([3, 3, 3]);
    expect(f(t, { threshold: 10, edgeItems: 1 })).toBe(
      [
        'tensor([[[ 0,  ...,  2],',
        '         ...,',
        '         [ 6,  ...,  8]],',
        '',
        '        ...,',
        '',
        '        [[18,  ..., 20],',
        '         ...,',
        '         [24,  ..., 26]]], dtype=int32)',
      ].join('\n'),
    );
  });
});

describe('formatTensor: disposed tensors', () => {
  it('never throws on a disposed tensor or variable', () => {
    const t = tf.zeros([2, 3]);
    t.dispose();
    expect(f(t)).toBe('tensor(<disposed>, shape=[2, 3], dtype=float32)');
    const v = tf.variable(tf.ones([2], 'int32'));
    v.dispose();
    expect(f(v)).toBe('tensor(<disposed>, shape=[2], dtype=int32)');
  });

  it('treats a throwing dataSync as disposed', () => {
    const fake: TensorLike = {
      shape: [1],
      dtype: 'float32',
      size: 1,
      dataSync() {
        throw new Error('gone');
      },
    };
    expect(formatTensor(fake)).toBe('tensor(<disposed>, shape=[1], dtype=float32)');
    expect(tensorMimeBundle(fake)).toEqual({ 'text/plain': 'tensor(<disposed>, shape=[1], dtype=float32)' });
  });
});

describe('tensorToHtml', () => {
  const count = (s: string, sub: string) => s.split(sub).length - 1;

  it('renders a 2-D tensor as rows and cells with a caption', () => {
    const html = tensorToHtml(tf.tensor([[1, 2, 3], [4, 5, 6]]))!;
    expect(html.startsWith('<table class="d2l-tensor">')).toBe(true);
    expect(html).toContain('<caption>shape [2, 3] · float32</caption>');
    expect(count(html, '<tr>')).toBe(2);
    expect(count(html, '<td>')).toBe(6);
    expect(html).toContain('<tr><td>1.</td><td>2.</td><td>3.</td></tr>');
  });

  it('renders a 1-D tensor as one row without padding', () => {
    const html = tensorToHtml(tf.tensor([1.5, -3]))!;
    expect(count(html, '<tr>')).toBe(1);
    expect(html).toContain('<tr><td>1.5000</td><td>-3.0000</td></tr>');
  });

  it('summarises with … cells using the edge items', () => {
    const html = tensorToHtml(tf.range(0, 10000).reshape([100, 100]))!;
    expect(count(html, '<tr>')).toBe(7);
    expect(count(html, '<td>')).toBe(49);
    expect(count(html, '<td>…</td>')).toBe(6 + 7);
    const row = tensorToHtml(tf.range(0, 2000, 1, 'int32'))!;
    expect(count(row, '<td>')).toBe(7);
    expect(row).toContain('<td>2</td><td>…</td><td>1997</td>');
  });

  it('escapes HTML in cells and caption', () => {
    const html = tensorToHtml(tf.tensor(['<b>&'], [1], 'string'))!;
    expect(html).toContain('<td>&quot;&lt;b&gt;&amp;&quot;</td>');
    const fake = { shape: [1], dtype: '<x>', size: 1, dataSync: () => [1] };
    expect(tensorToHtml(fake)).toContain('<caption>shape [1] · &lt;x&gt;</caption>');
  });

  it('returns undefined for other ranks, empty and disposed tensors', () => {
    expect(tensorToHtml(tf.scalar(1))).toBeUndefined();
    expect(tensorToHtml(tf.zeros([2, 2, 2]))).toBeUndefined();
    expect(tensorToHtml(tf.tensor([]))).toBeUndefined();
    const t = tf.ones([2]);
    t.dispose();
    expect(tensorToHtml(t)).toBeUndefined();
  });
});

describe('tensorMimeBundle', () => {
  it('adds text/html only where a table applies', () => {
    const m = tensorMimeBundle(tf.tensor([[1, 2], [3, 4]]));
    expect(m['text/plain']).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(m['text/html']).toContain('<table class="d2l-tensor">');
    expect(Object.keys(tensorMimeBundle(tf.zeros([1, 1, 1])))).toEqual(['text/plain']);
  });
});

describe('isTensorLike', () => {
  it('accepts tensors and variables', () => {
    expect(isTensorLike(tf.zeros([2]))).toBe(true);
    expect(isTensorLike(tf.variable(tf.zeros([2])))).toBe(true);
  });

  it('rejects look-alikes and non-objects', () => {
    expect(isTensorLike(null)).toBe(false);
    expect(isTensorLike(undefined)).toBe(false);
    expect(isTensorLike(3)).toBe(false);
    expect(isTensorLike([1, 2, 3])).toBe(false);
    expect(isTensorLike({})).toBe(false);
    expect(isTensorLike({ shape: [1], dtype: 'float32', dataSync: () => [0] })).toBe(false);
  });
});
