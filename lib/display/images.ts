/**
 * Lecture 09 `show_images` (used by the Fashion-MNIST figures and `predict_ch3`): a grid of images with titles.
 *
 * `d2l.showImages(X, 2, 9, { titles })` returns an {@link ImageGrid}, shown when it ends a cell (or with
 * `display(grid)`). Its mime bundle has `text/html` (a table: each title above its image, the image as an
 * embedded PNG; what JupyterLab, Notebook, VS Code and nbconvert show), `image/png` (the whole grid in one
 * PNG, without titles, for front ends and converters that take images only) and a one-line `text/plain`.
 * PNGs are written with pngjs; pixels are upscaled by a whole factor (nearest neighbour), so small images
 * stay sharp.
 * @module
 */
import { PNG } from 'pngjs';
import { DisplayContent, MIMEBUNDLE } from './output';
import { isTensorLike, type TensorLike } from './plot';
import { escapeHtml } from '../../common/html';
import { ArgumentError } from '../args';

/** Options of {@link showImages}. */
export interface ShowImagesOptions {
  /** One title per image (`'\n'` breaks a line, as predict_ch3's `true\npred`). */
  titles?: string[];
  /** Size of one grid cell in d2l's inches (default 1.5; one inch is 64 px here). */
  scale?: number;
}

/** Pixels per d2l inch in image grids. */
export const IMAGE_PX_PER_INCH = 64;
/** Gap between images in the grid PNG, in pixels. */
export const GRID_GAP = 4;

/** One image: height, width, channels (1 or 3), values in [0, 1], row-major HWC. */
interface Img {
  h: number;
  w: number;
  c: 1 | 3;
  data: Float32Array;
}

/** Splits [N,H,W], [N,H,W,1|3] (or [N,1|3,H,W]) into images; `single` reads one [H,W], [H,W,1|3] ([1|3,H,W]). */
function split(t: TensorLike, single: boolean, what: string): Img[] {
  const shape = single ? [1, ...t.shape] : t.shape;
  const expected = single ? '[H, W], [H, W, 1] or [H, W, 3]' : '[N, H, W], [N, H, W, 1] or [N, H, W, 3]';
  let [n, h, w, c] = shape;
  let chw = false;
  if (shape.length === 3) c = 1;
  else if (shape.length === 4 && !(c === 1 || c === 3) && (h === 1 || h === 3)) {
    [h, w, c, chw] = [shape[2], shape[3], shape[1], true]; // PyTorch's channels-first layout
  } else if (shape.length !== 4 || !(c === 1 || c === 3)) {
    throw new ArgumentError(`showImages: expected ${what} to have shape ${expected}, got [${t.shape.join(', ')}]`);
  }
  if (!(h > 0 && w > 0)) throw new ArgumentError(`showImages: ${what} has an empty image, shape [${t.shape.join(', ')}]`);
  const src = t.dataSync();
  const size = h * w * c;
  const out: Img[] = [];
  for (let k = 0; k < n; k++) {
    const data = new Float32Array(size);
    for (let i = 0; i < h * w; i++) {
      for (let ch = 0; ch < c; ch++) data[i * c + ch] = src[k * size + (chw ? ch * h * w + i : i * c + ch)];
    }
    out.push({ h, w, c: c as 1 | 3, data });
  }
  return out;
}

/**
 * Values in 0–255 are divided by 255 (detected by a maximum above 1.5: a 0–1 image that overshoots a little
 * after resizing stays 0–1), then everything is clamped to [0, 1]. NaN is black.
 */
function normalise(imgs: Img[]): void {
  let max = -Infinity;
  for (const im of imgs) for (const v of im.data) if (v > max) max = v;
  const k = max > 1.5 ? 1 / 255 : 1;
  for (const im of imgs) {
    for (let i = 0; i < im.data.length; i++) {
      const v = im.data[i] * k;
      im.data[i] = v > 0 ? (v < 1 ? v : 1) : 0;
    }
  }
}

/** RGBA bytes of one image upscaled by `f`, into `dst` (width `dw`) at (x0, y0). */
function blit(im: Img, f: number, dst: Buffer, dw: number, x0: number, y0: number): void {
  for (let y = 0; y < im.h * f; y++) {
    for (let x = 0; x < im.w * f; x++) {
      const s = (Math.floor(y / f) * im.w + Math.floor(x / f)) * im.c;
      const d = ((y0 + y) * dw + x0 + x) * 4;
      const r = im.data[s], g = im.c === 3 ? im.data[s + 1] : r, b = im.c === 3 ? im.data[s + 2] : r;
      dst[d] = Math.round(r * 255);
      dst[d + 1] = Math.round(g * 255);
      dst[d + 2] = Math.round(b * 255);
      dst[d + 3] = 255;
    }
  }
}

function encode(width: number, height: number, rgba: Buffer, gray: boolean): Buffer {
  const png = new PNG({ width, height });
  rgba.copy(png.data);
  return PNG.sync.write(png, { colorType: gray ? 0 : 2 });
}

/** A grid of images with titles, shown as a mime bundle (see the module docs). */
export class ImageGrid {
  /** Upscaling factor of every image. */
  readonly factor: number;
  /** Cell size in the grid PNG (largest image times factor). */
  readonly cell: { width: number; height: number };

  constructor(
    private readonly imgs: Img[],
    readonly numRows: number,
    readonly numCols: number,
    readonly titles: string[],
    readonly scale: number,
  ) {
    const maxH = Math.max(...imgs.map((i) => i.h)), maxW = Math.max(...imgs.map((i) => i.w));
    this.factor = Math.max(1, Math.round((scale * IMAGE_PX_PER_INCH) / Math.max(maxH, maxW)));
    this.cell = { width: maxW * this.factor, height: maxH * this.factor };
  }

  /** Number of images shown. */
  get length(): number {
    return this.imgs.length;
  }

  private get gray(): boolean {
    return this.imgs.every((i) => i.c === 1);
  }

  /** The whole grid as one PNG (white gaps of {@link GRID_GAP} px, smaller images centred in their cell). */
  png(): Buffer {
    const { width: cw, height: ch } = this.cell;
    const W = this.numCols * cw + (this.numCols - 1) * GRID_GAP;
    const H = this.numRows * ch + (this.numRows - 1) * GRID_GAP;
    const rgba = Buffer.alloc(W * H * 4, 255);
    this.imgs.forEach((im, k) => {
      const r = Math.floor(k / this.numCols), c = k % this.numCols;
      const x0 = c * (cw + GRID_GAP) + Math.floor((cw - im.w * this.factor) / 2);
      const y0 = r * (ch + GRID_GAP) + Math.floor((ch - im.h * this.factor) / 2);
      blit(im, this.factor, rgba, W, x0, y0);
    });
    return encode(W, H, rgba, this.gray);
  }

  /** Image k alone, upscaled, as a PNG. */
  imagePng(k: number): Buffer {
    const im = this.imgs[k];
    const w = im.w * this.factor, h = im.h * this.factor;
    const rgba = Buffer.alloc(w * h * 4);
    blit(im, this.factor, rgba, w, 0, 0);
    return encode(w, h, rgba, im.c === 1);
  }

  /** An HTML table: a caption over each image (what most front ends show). */
  html(): string {
    const rows: string[] = [];
    for (let r = 0; r < this.numRows; r++) {
      const cells: string[] = [];
      for (let c = 0; c < this.numCols; c++) {
        const k = r * this.numCols + c;
        if (k >= this.imgs.length) { cells.push('<td></td>'); continue; }
        const im = this.imgs[k];
        const title = this.titles[k] !== undefined ? escapeHtml(String(this.titles[k])).replace(/\n/g, '<br>') : '';
        cells.push(
          `<td style="padding:2px 4px;text-align:center;vertical-align:bottom;border:none">` +
          (title ? `<div style="font-size:12px;line-height:1.25;margin-bottom:2px">${title}</div>` : '') +
          `<img src="data:image/png;base64,${this.imagePng(k).toString('base64')}" width="${im.w * this.factor}" ` +
          `height="${im.h * this.factor}" alt="${title ? escapeHtml(String(this.titles[k])) : `image ${k}`}" ` +
          `style="image-rendering:pixelated;display:inline-block"></td>`,
        );
      }
      rows.push(`<tr style="background:none">${cells.join('')}</tr>`);
    }
    return `<table class="d2l-images" style="border-collapse:collapse;border:none;margin:0">${rows.join('')}</table>`;
  }

  /** One line: layout, image size and titles. */
  toString(): string {
    const { h, w, c } = this.imgs[0];
    const t = this.titles.slice(0, this.imgs.length);
    const list = t.length ? `: ${t.slice(0, 10).map((s) => String(s).replace(/\n/g, '/')).join(', ')}${t.length > 10 ? ', …' : ''}` : '';
    return `ImageGrid(${this.numRows}x${this.numCols}, ${this.imgs.length} image${this.imgs.length === 1 ? '' : 's'} ` +
      `${h}x${w}${c === 3 ? ' rgb' : ' gray'})${list}`;
  }

  [MIMEBUNDLE](): DisplayContent {
    return { 'image/png': this.png().toString('base64'), 'text/html': this.html(), 'text/plain': this.toString() };
  }
}

/**
 * Lecture 09 `show_images`: the first numRows·numCols images in a grid, titled.
 * @param imgs a tensor [N,H,W], [N,H,W,1] or [N,H,W,3] (also channels-first [N,1|3,H,W]), or an array of
 *   [H,W] / [H,W,1] / [H,W,3] tensors; values in 0–1 or 0–255 (a maximum above 1.5 means 0–255)
 * @param opts `{ titles, scale }`, or the titles alone (d2l's positional `titles`)
 * @example d2l.showImages(X.reshape([18, 28, 28]), 2, 9, { titles: d2l.getFashionMnistLabels(y) })
 */
export function showImages(imgs: TensorLike | TensorLike[], numRows: number, numCols: number,
  opts: ShowImagesOptions | string[] = {}): ImageGrid {
  if (Array.isArray(opts)) opts = { titles: opts }; // d2l's positional `titles`
  for (const [name, v] of [['numRows', numRows], ['numCols', numCols]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new ArgumentError(`showImages: expected ${name} to be a positive integer, got ${v}`);
  }
  const scale = opts.scale ?? 1.5;
  if (!(typeof scale === 'number' && scale > 0)) throw new ArgumentError(`showImages: expected scale to be a positive number, got ${scale}`);
  const titles = opts.titles ?? [];
  if (!Array.isArray(titles)) throw new ArgumentError(`showImages: expected titles to be an array of strings, got ${typeof titles}`);
  let list: Img[];
  if (Array.isArray(imgs)) {
    list = imgs.slice(0, numRows * numCols).flatMap((t, i) => {
      if (!isTensorLike(t)) throw new ArgumentError(`showImages: expected imgs[${i}] to be a tensor, got ${t === null ? 'null' : typeof t}`);
      return split(t, true, `imgs[${i}]`);
    });
  } else if (isTensorLike(imgs)) {
    list = split(imgs, false, 'imgs').slice(0, numRows * numCols);
  } else {
    throw new ArgumentError(`showImages: expected imgs to be a tensor or an array of tensors, got ${imgs === null ? 'null' : typeof imgs}`);
  }
  if (!list.length) throw new ArgumentError('showImages: no images to show');
  normalise(list);
  return new ImageGrid(list, numRows, numCols, titles.map(String), scale);
}
