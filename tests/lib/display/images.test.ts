/**
 * lib/display/images.ts: showImages makes a decodable grid PNG of the right size and pixels, an HTML caption grid,
 * accepts d2l's tensor layouts and value ranges, and says what is wrong with bad input.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import * as tf from '@tensorflow/tfjs';
import { GRID_GAP, showImages } from '../../../lib/display/images';

const MIMEBUNDLE = Symbol.for('jupyter.mimebundle');
const decode = (b64: string) => PNG.sync.read(Buffer.from(b64, 'base64'));
const px = (png: PNG, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4)];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('showImages', () => {
  it('makes a grid PNG of the right size (2 x 3 of 28 x 28, upscaled 3x, 4 px gaps) and a titled HTML grid', () => {
    // Image k is filled with 40·k (0–255 values), so each cell's colour tells where it landed.
    const X = tf.tidy(() => tf.range(0, 6).mul(40).reshape([6, 1, 1]).tile([1, 28, 28]));
    const titles = ['t-shirt', 'trouser', 'pull<over>', 'dress', 'coat', 'sandal\nshirt'];
    const grid = showImages(X, 2, 3, { titles });
    const b = (grid as any)[MIMEBUNDLE]();
    expect(Object.keys(b).sort()).toEqual(['image/png', 'text/html', 'text/plain']);
    expect(grid.factor).toBe(3); // 1.5 inch · 64 px / 28 px
    const png = decode(b['image/png']);
    expect(png.width).toBe(3 * 84 + 2 * GRID_GAP);
    expect(png.height).toBe(2 * 84 + GRID_GAP);
    expect(px(png, 0, 0)).toEqual([0, 0, 0, 255]); // image 0: black
    expect(px(png, 84, 0)).toEqual([255, 255, 255, 255]); // gap: white
    expect(px(png, 88 + 83, 83)).toEqual([40, 40, 40, 255]); // image 1, last pixel
    expect(px(png, 2 * 88, 88)).toEqual([200, 200, 200, 255]); // image 5
    const html = b['text/html'] as string;
    expect(html.match(/<img /g)).toHaveLength(6);
    expect(html.match(/<tr /g)).toHaveLength(2);
    expect(html).toContain('pull&lt;over&gt;');
    expect(html).toContain('sandal<br>shirt');
    const img = /src="data:image\/png;base64,([^"]+)" width="84" height="84"/.exec(html)!;
    expect(decode(img[1]).width).toBe(84);
    expect(b['text/plain']).toBe('ImageGrid(2x3, 6 images 28x28 gray): t-shirt, trouser, pull<over>, dress, coat, sandal/shirt');
    X.dispose();
  });

  it('takes [N,H,W,1], [N,H,W,3], channels-first and arrays of tensors; 0–1 values stay 0–1', () => {
    const gray = showImages(tf.fill([2, 4, 5, 1], 0.5), 1, 2, { scale: 1 });
    expect(gray.factor).toBe(13); // 64 / 5
    const g = decode((gray as any)[MIMEBUNDLE]()['image/png']);
    expect([g.width, g.height]).toEqual([2 * 65 + GRID_GAP, 52]);
    expect(px(g, 0, 0)).toEqual([128, 128, 128, 255]);

    const rgb = tf.tidy(() => tf.stack([tf.fill([8, 8], 1), tf.zeros([8, 8]), tf.fill([8, 8], 0.5)], -1).expandDims(0));
    const c = decode((showImages(rgb, 1, 1) as any)[MIMEBUNDLE]()['image/png']);
    expect(px(c, 3, 3)).toEqual([255, 0, 128, 255]);
    const chw = decode((showImages(rgb.transpose([0, 3, 1, 2]), 1, 1) as any)[MIMEBUNDLE]()['image/png']);
    expect(px(chw, 3, 3)).toEqual([255, 0, 128, 255]);

    const list = showImages([tf.zeros([6, 6]), tf.ones([6, 6, 1]), tf.ones([6, 6, 3])], 1, 3);
    expect(list.length).toBe(3);
    expect(list.toString()).toMatch(/^ImageGrid\(1x3, 3 images 6x6 gray\)$/);
  });

  it('shows the first rows·cols images, leaves missing cells empty, and takes d2l\'s positional titles', () => {
    const five = showImages(tf.zeros([5, 3, 3]), 1, 2, ['a', 'b', 'c']);
    expect(five.length).toBe(2);
    expect(five.titles).toEqual(['a', 'b', 'c']);
    const two = showImages(tf.zeros([2, 3, 3]), 2, 2);
    expect(two.html().match(/<td><\/td>/g)).toHaveLength(2);
    const png = decode((two as any)[MIMEBUNDLE]()['image/png']);
    expect(px(png, png.width - 1, png.height - 1)).toEqual([255, 255, 255, 255]);
  });

  it('says what it expected', () => {
    expect(() => showImages(tf.zeros([2, 3]) as any, 1, 2)).toThrow(/shape \[N, H, W\], \[N, H, W, 1\] or \[N, H, W, 3\], got \[2, 3\]/);
    expect(() => showImages(tf.zeros([2, 5, 5, 2]), 1, 2)).toThrow(/got \[2, 5, 5, 2\]/);
    expect(() => showImages([tf.zeros([3])], 1, 1)).toThrow(/expected imgs\[0\] to have shape \[H, W\]/);
    expect(() => showImages(tf.zeros([2, 3, 3]), 0, 2)).toThrow(/expected numRows to be a positive integer/);
    expect(() => showImages([1, 2] as any, 1, 2)).toThrow(/expected imgs\[0\] to be a tensor/);
  });
});
