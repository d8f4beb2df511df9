/**
 * Extra and corrected kernels for the TensorFlow.js **wasm** backend (tfjs-backend-wasm 4.22).
 *
 * The wasm backend is d2l-ts's fallback when the native TensorFlow binding is not built. Stock, it
 * cannot train the course's networks: some gradient kernels are missing, one is wrong, and the
 * transposed matrix products that every backward pass uses run 10-30x slower than plain ones.
 * {@link registerWasmKernels} fixes that by (re-)registering these kernels for backend `'wasm'`:
 *
 * | kernel                 | stock wasm 4.22                               | ours                                         |
 * |------------------------|-----------------------------------------------|----------------------------------------------|
 * | `BatchMatMul`          | transposeA/B take a slow path (1-3 GFLOP/s)    | explicit Transpose + fast NN GEMM (~30)      |
 * | `_FusedMatMul`         | same                                          | same fix                                     |
 * | `Conv2DBackpropFilter` | missing → every conv net fails to train       | rewritten as one XNNPACK Conv2D (batch as channels) |
 * | `Conv2DBackpropInput`  | naive C loop (LeNet: 43 ms/step)              | XNNPACK Conv2D with the flipped filter (any stride) |
 * | `UnsortedSegmentSum`   | missing → `tf.gather` has no gradient         | one pass over the heap                       |
 * | `MaxPoolGrad`          | wrong when a window's max is ≤ 0 (initial max is `FLT_MIN`, so the gradient goes to element 0) | argmax per window, first max wins like the cpu backend |
 * | `AvgPoolGrad`          | correct, slow (LeNet: 10 + 4 ms per step)     | one JS pass over dy; windows that tile the input: each row written once and copied |
 * | `Sum`                  | over leading axes (bias gradients): transposes first (LeNet conv1: 2-2.7 ms) | one XNNPACK average pool (0.2 ms) |
 * | `Add`                  | of a per-channel bias: broadcast run by run (LeNet conv1: 1.8-3.4 ms) | rows of k·C values, the bias repeated k times (0.5 ms) |
 *
 * Kernel functions work directly on the backend's heap: `backend.makeOutput` allocates, and
 * `backend.typedArrayFromHeap` gives a view. Allocating can grow (and so detach) the wasm heap, so
 * every kernel allocates all its buffers first and only then takes views. Temporaries created by
 * calling other wasm kernels are freed with `backend.disposeData`. Kernels called from inside a kernel
 * are not recorded on the gradient tape, so gradients are unaffected.
 *
 * Introduced with LeNet (lecture 23), which is the first network that needs convolution gradients.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { reducesLeadingAxes, windowsTileInput } from './shape-cases';

type Info = tf.TensorInfo;
type Attrs = tf.NamedAttrMap;
/** The arguments every kernel function receives, with the backend narrowed to wasm. */
interface KernelArgs {
  /** Kernel inputs by name; the engine always passes the ones a kernel declares. */
  inputs: Record<string, Info>;
  backend: BackendWasm;
  attrs: Attrs;
}
type WasmKernelFunc = (args: KernelArgs) => Info;

const BACKEND = 'wasm';
/** Marks kernel configs registered by this module, so a second call (or a second copy of this module) is a no-op. */
const MARK = Symbol.for('d2l-ts.wasm-kernel');

/** Names of the kernels {@link registerWasmKernels} registers, in registration order. */
export const WASM_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'UnsortedSegmentSum',
  'MaxPoolGrad',
  'AvgPoolGrad',
  'Sum',
  'Add',
] as const;

function stockKernel(name: string): WasmKernelFunc {
  const k = tf.getKernel(name, BACKEND);
  if (!k) throw new Error(`wasm backend has no '${name}' kernel; is @tensorflow/tfjs-backend-wasm 4.22 installed?`);
  return k.kernelFunc as unknown as WasmKernelFunc;
}

/**
 * Registers `make(original)` for `name` on wasm, keeping the original's setup/dispose functions
 * (they bind the C entry points the original kernel — which we may still call — relies on).
 */
function install(name: string, make: (original: WasmKernelFunc | undefined) => WasmKernelFunc): void {
  const existing = tf.getKernel(name, BACKEND);
  if (existing && (existing as unknown as Record<symbol, boolean>)[MARK]) return;
  const original = existing ? (existing.kernelFunc as unknown as WasmKernelFunc) : undefined;
  if (existing) tf.unregisterKernel(name, BACKEND);
  const config = {
    ...(existing ?? {}),
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: make(original) as unknown as tf.KernelFunc,
    [MARK]: true,
  };
  tf.registerKernel(config as tf.KernelConfig);
}

/** Swaps the last two axes of a rank ≥ 2 tensor with the (fast, XNNPACK) wasm Transpose kernel. */
function transposeLast2(x: Info, backend: BackendWasm): Info {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return stockKernel('Transpose')({ inputs: { x }, backend, attrs: { perm } });
}

function free(backend: BackendWasm, ...infos: Info[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

// --- (1) BatchMatMul / _FusedMatMul: transposed operands ------------------------------------------
// tfjs-core's MatMul gradient is matMul(dy, b, false, true) and matMul(a, dy, true, false), so every
// backward GEMM hits the slow transposed path of the wasm kernel (measured 2.2-3.1 GFLOP/s versus
// 36 for NN). Transposing explicitly (≈1 ms for MLP shapes) and calling the NN kernel is 7x faster
// per MLP step.
function fastTransposedMatMul(original: WasmKernelFunc | undefined): WasmKernelFunc {
  const orig = original!;
  return (args) => {
    const { inputs, backend, attrs } = args;
    if (!attrs.transposeA && !attrs.transposeB) return orig(args);
    const a = attrs.transposeA ? transposeLast2(inputs.a, backend) : inputs.a;
    const b = attrs.transposeB ? transposeLast2(inputs.b, backend) : inputs.b;
    const out = orig({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    if (a !== inputs.a) free(backend, a);
    if (b !== inputs.b) free(backend, b);
    return out;
  };
}

/** Calls the stock (XNNPACK) wasm Conv2D with explicit padding `[[top, bottom], [left, right]]`. */
function conv2dExplicit(x: Info, filter: Info, pads: [[number, number], [number, number]], dilations: [number, number],
  backend: BackendWasm): Info {
  return stockKernel('Conv2D')({
    inputs: { x, filter }, backend,
    attrs: { strides: 1, dilations, dataFormat: 'NHWC', pad: [[0, 0], pads[0], pads[1], [0, 0]] } as unknown as Attrs,
  });
}

function transpose(x: Info, perm: number[], backend: BackendWasm): Info {
  return stockKernel('Transpose')({ inputs: { x }, backend, attrs: { perm } });
}

function conv2dInfo(xShape: number[], filterShape: number[], attrs: Attrs): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    strides, 1, pad, dimRoundingMode, false, 'channelsLast');
}

// --- (2) Conv2DBackpropFilter: missing on wasm ------------------------------------------------------
// dW[fh,fw,c,co] = Σ_{b,oh,ow} x[b, oh·sh+fh-pt, ow·sw+fw-pl, c] · dy[b,oh,ow,co].
// Read with the batch as the channel axis, that is itself a convolution: correlate xᵀ [C, H, W, B]
// with dyᵀ [OH, OW, B, CO] used as the *filter*, dilated by the forward stride, giving
// [C, FH, FW, CO]. So the whole gradient runs in XNNPACK (three Transposes + one Conv2D); no JS loop
// touches the data. Measured on LeNet's layers (B=256, 1 thread), this beats an im2col + GEMM
// version whose im2col is JS block copies (with the C=1 row-copy special case):
//   conv1 x[256,28,28,1] 'same'  : 6.9 ms (im2col 10.4)     conv2 x[256,14,14,6] 'valid': 5.6 ms (im2col 18.0)
// Padding: top/left are the forward's; bottom/right are chosen so the output is exactly FH×FW
// (negative = input rows/columns no window reached: sliced off first).
function conv2DBackpropFilter(): WasmKernelFunc {
  return ({ inputs: { x, dy }, backend, attrs }) => {
    const { dataFormat } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (dataFormat && dataFormat !== 'NHWC') {
      throw new Error(`wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, got '${dataFormat}'`);
    }
    const filterShape = (attrs.filterShape as number[]).slice();
    const ci = conv2dInfo(x.shape, filterShape, attrs);
    const [B, H, W, C] = x.shape;
    const { filterHeight: FH, filterWidth: FW, outHeight: OH, outWidth: OW, strideHeight: SH, strideWidth: SW } = ci;
    const { top, left } = ci.padInfo;
    const bottom = FH + (OH - 1) * SH - H - top, right = FW + (OW - 1) * SW - W - left;
    const temps: Info[] = [];
    let xs = x;
    if (bottom < 0 || right < 0) {
      xs = stockKernel('Slice')({
        inputs: { x }, backend,
        attrs: { begin: [0, 0, 0, 0], size: [B, H + Math.min(bottom, 0), W + Math.min(right, 0), C] },
      });
      temps.push(xs);
    }
    const xT = transpose(xs, [3, 1, 2, 0], backend);        // [C, H, W, B]
    const dyT = transpose(dy, [1, 2, 0, 3], backend);       // [OH, OW, B, CO]
    const dwT = conv2dExplicit(xT, dyT, [[top, Math.max(bottom, 0)], [left, Math.max(right, 0)]], [SH, SW], backend);
    const dw = transpose(dwT, [1, 2, 0, 3], backend);       // [FH, FW, C, CO]
    free(backend, ...temps, xT, dyT, dwT);
    return dw;
  };
}

// --- (3) Conv2DBackpropInput ---------------------------------------------------------------------------
// dx = full correlation of dy with the filter rotated by 180° (in/out channels swapped): an ordinary
// XNNPACK Conv2D with explicit padding, ~5x faster than the stock kernel's naive loop (LeNet: 43 →
// 8 ms per step). For stride s > 1, dy is first spread out with s-1 zeros between its pixels
// ("fractionally strided" convolution). Other data formats go to the stock kernel.
function conv2DBackpropInput(original: WasmKernelFunc | undefined): WasmKernelFunc {
  const orig = original!;
  return (args) => {
    const { inputs: { dy, filter }, backend, attrs } = args;
    const { inputShape, dataFormat } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (dataFormat && dataFormat !== 'NHWC') return orig(args);
    const ci = conv2dInfo(inputShape, filter.shape, attrs);
    const [, H, W] = inputShape;
    const { filterHeight: FH, filterWidth: FW, outHeight: OH, outWidth: OW, strideHeight: SH, strideWidth: SW } = ci;
    const UH = (OH - 1) * SH + 1, UW = (OW - 1) * SW + 1;   // dy's extent once spread out
    const top = FH - 1 - ci.padInfo.top, left = FW - 1 - ci.padInfo.left;
    const bottom = H - UH + FH - 1 - top, right = W - UW + FW - 1 - left;
    if (Math.min(top, left, bottom, right) < 0) return orig(args);
    const dyUp = SH === 1 && SW === 1 ? dy : spreadOut(dy, SH, SW, UH, UW, backend);
    const flipped = stockKernel('Reverse')({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } });
    const wT = transpose(flipped, [0, 1, 3, 2], backend);   // [FH, FW, CO, C]
    const dx = conv2dExplicit(dyUp, wT, [[top, bottom], [left, right]], [1, 1], backend);
    free(backend, flipped, wT);
    if (dyUp !== dy) free(backend, dyUp);
    return dx;
  };
}

/** [B, OH, OW, C] → [B, UH, UW, C] with dy[b, i, j] at (i·SH, j·SW) and zeros elsewhere. */
function spreadOut(dy: Info, SH: number, SW: number, UH: number, UW: number, backend: BackendWasm): Info {
  const [B, OH, OW, C] = dy.shape;
  const up = backend.makeOutput([B, UH, UW, C], 'float32');
  const src = backend.typedArrayFromHeap(dy), dst = backend.typedArrayFromHeap(up);
  dst.fill(0);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const s = ((b * OH + i) * OW + j) * C, d = ((b * UH + i * SH) * UW + j * SW) * C;
        for (let c = 0; c < C; c++) dst[d + c] = src[s + c];
      }
    }
  }
  return up;
}

// --- (4) UnsortedSegmentSum: missing on wasm (the gradient of tf.gather) -------------------------------
// out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]; ids outside [0, numSegments) are dropped, like TF.
function unsortedSegmentSum(): WasmKernelFunc {
  return ({ inputs: { x, segmentIds }, backend, attrs }) => {
    const numSegments = attrs.numSegments as number;
    const S = tf.util.sizeFromShape(segmentIds.shape);
    const inner = S === 0 ? 0 : tf.util.sizeFromShape(x.shape) / S;
    const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const out = backend.makeOutput(outShape, x.dtype);
    const xs = backend.typedArrayFromHeap(x), ids = backend.typedArrayFromHeap(segmentIds);
    const os = backend.typedArrayFromHeap(out);
    os.fill(0);
    for (let i = 0; i < S; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      const dst = s * inner, src = i * inner;
      for (let j = 0; j < inner; j++) os[dst + j] += xs[src + j];
    }
    return out;
  };
}

// --- (5) MaxPoolGrad: stock kernel is wrong for non-positive maxima --------------------------------------
// The C++ kernel starts each window at {std::numeric_limits<float>::min() (= +1.2e-38), offset 0},
// so a window whose values are all ≤ 0 (e.g. after ReLU) sends its gradient to element 0 of the
// batch. Here: first maximum in row-major window order wins (strictly greater, starting from -∞, so
// an all -∞/NaN window gets no gradient) and padding is never selected — exactly the cpu backend's
// rule. Channels are the innermost loop to walk NHWC memory sequentially.
function maxPoolGrad(): WasmKernelFunc {
  return ({ inputs: { dy, input }, backend, attrs }) => {
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
    const ci = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
    const { strideHeight: SH, strideWidth: SW, effectiveFilterHeight: FH, effectiveFilterWidth: FW } = ci;
    const { top: PT, left: PL } = ci.padInfo;
    const dx = backend.makeOutput(input.shape, 'float32');
    const xs = backend.typedArrayFromHeap(input), dys = backend.typedArrayFromHeap(dy);
    const dxs = backend.typedArrayFromHeap(dx);
    dxs.fill(0);
    const best = new Float32Array(C), arg = new Int32Array(C);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        const h0 = oh * SH - PT, hLo = Math.max(0, h0), hHi = Math.min(H, h0 + FH);
        for (let ow = 0; ow < OW; ow++) {
          const w0 = ow * SW - PL, wLo = Math.max(0, w0), wHi = Math.min(W, w0 + FW);
          best.fill(-Infinity);
          arg.fill(-1);
          for (let ih = hLo; ih < hHi; ih++) {
            for (let iw = wLo; iw < wHi; iw++) {
              const base = ((b * H + ih) * W + iw) * C;
              for (let c = 0; c < C; c++) {
                const v = xs[base + c];
                if (v > best[c]) { best[c] = v; arg[c] = base + c; }
              }
            }
          }
          const dyBase = ((b * OH + oh) * OW + ow) * C;
          for (let c = 0; c < C; c++) if (arg[c] >= 0) dxs[arg[c]] += dys[dyBase + c];
        }
      }
    }
    return dx;
  };
}

// --- (6) AvgPoolGrad: stock kernel is correct but slow -------------------------------------------------
// Scatter form: each output window adds dy/(FH·FW) to the input positions it covers (padding
// skipped). Same multiplier as tfjs's cpu and stock wasm kernels — note that, unlike native
// TensorFlow, they do not shrink it for 'same' windows that overlap the border.
function avgPoolGrad(): WasmKernelFunc {
  return ({ inputs: { dy, input }, backend, attrs }) => {
    const { filterSize, strides, pad } = attrs as unknown as tf.AvgPoolGradAttrs;
    const ci = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad);
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
    const { strideHeight: SH, strideWidth: SW, filterHeight: FH, filterWidth: FW } = ci;
    const { top: PT, left: PL } = ci.padInfo;
    const mult = 1 / (FH * FW);
    const dx = backend.makeOutput(input.shape, 'float32');
    const dys = backend.typedArrayFromHeap(dy), dxs = backend.typedArrayFromHeap(dx);
    if (windowsTileInput(ci)) {
      tiledAvgPoolGrad(dys as Float32Array, dxs as Float32Array, B * OH, OW, C, FH, FW, mult);
      return dx;
    }
    dxs.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        const h0 = oh * SH - PT, hLo = Math.max(0, h0), hHi = Math.min(H, h0 + FH);
        for (let ow = 0; ow < OW; ow++) {
          const w0 = ow * SW - PL, wLo = Math.max(0, w0), wHi = Math.min(W, w0 + FW);
          const d = ((b * OH + oh) * OW + ow) * C;
          for (let ih = hLo; ih < hHi; ih++) {
            for (let iw = wLo; iw < wHi; iw++) {
              const o = ((b * H + ih) * W + iw) * C;
              for (let c = 0; c < C; c++) dxs[o + c] += dys[d + c] * mult;
            }
          }
        }
      }
    }
    return dx;
  };
}

/**
 * AvgPoolGrad when the windows tile the input exactly (window = stride, no padding, nothing left over: LeNet's
 * 2×2/2 pools): every input position belongs to one window, so dx is dy·mult spread over its window. Each window
 * row is written once and copied to the window's other FH − 1 rows; no zero fill, no read-modify-write (LeNet's
 * first pool: 2.4-3.1 → 0.7 ms).
 * @param rows B·OH, the window rows over the whole batch
 */
function tiledAvgPoolGrad(dys: Float32Array, dxs: Float32Array, rows: number, OW: number, C: number, FH: number,
  FW: number, mult: number): void {
  const rowLen = OW * FW * C; // one input row
  for (let r = 0; r < rows; r++) {
    const d0 = r * FH * rowLen;
    let s = r * OW * C, o = d0;
    for (let ow = 0; ow < OW; ow++, s += C) {
      for (let c = 0; c < C; c++) {
        const v = dys[s + c] * mult;
        for (let k = 0; k < FW; k++) dxs[o + k * C + c] = v;
      }
      o += FW * C;
    }
    for (let k = 1; k < FH; k++) dxs.copyWithin(d0 + k * rowLen, d0, d0 + rowLen);
  }
}

// --- (7) Sum over every axis but the last: stock transposes first ----------------------------------------
// The gradient of a bias (conv or dense) sums dy over all axes but the channel axis. The stock kernel first
// transposes the reduced axes innermost (LeNet's first conv: a 1.2 M-value transpose, 2.0-2.7 ms per step) and
// then sums. Read as [1, R, 1, C], the same sum is one XNNPACK average pool with an R×1 window (0.2 ms), scaled
// back by R. Values agree with the stock kernel to float32 rounding (both accumulate in float32).
function sumLeadingAxes(original: WasmKernelFunc | undefined): WasmKernelFunc {
  const orig = original!;
  return (args) => {
    const { inputs: { x }, backend, attrs } = args;
    const r = x.shape.length;
    if (x.dtype !== 'float32' || !reducesLeadingAxes(attrs.axis as number | number[], x.shape)) return orig(args);
    const C = x.shape[r - 1], R = tf.util.sizeFromShape(x.shape.slice(0, -1));
    if (R < 2 || C === 0) return orig(args);
    const pooled = stockKernel('AvgPool')({
      inputs: { x: { dataId: x.dataId, shape: [1, R, 1, C], dtype: 'float32' } }, backend,
      attrs: { filterSize: [R, 1], strides: [1, 1], pad: 'valid' } as unknown as Attrs,
    });
    const sums = backend.typedArrayFromHeap(pooled);
    for (let c = 0; c < C; c++) sums[c] *= R;
    const shape = attrs.keepDims ? [...Array(r - 1).fill(1), C] : [C];
    return { dataId: pooled.dataId, shape, dtype: 'float32' };
  };
}

// --- (8) Add of a per-channel vector (a bias): stock XNNPACK add walks 6-16-value runs ---------------------
// x [..., C] + b [C] (or [1, ..., 1, C]): XNNPACK broadcasts b once per C-value run of x, which for LeNet's first
// conv ([256,28,28,6] + [6]) costs 1.8-3.4 ms against 0.2 for an add of equal shapes. Read x as [R/k, k·C] and
// repeat b k times (k·C ≤ 4096 values, written here), and the same add walks runs of k·C values (0.5 ms). Same
// additions, same results.
const MAX_TILE = 4096;

function channelBiasAdd(original: WasmKernelFunc | undefined): WasmKernelFunc {
  const orig = original!;
  return (args) => {
    const { inputs: { a, b }, backend } = args;
    const [x, v] = tf.util.sizeFromShape(a.shape) >= tf.util.sizeFromShape(b.shape) ? [a, b] : [b, a];
    const C = x.shape[x.shape.length - 1];
    const R = tf.util.sizeFromShape(x.shape) / C;
    const perChannel = x.dtype === 'float32' && v.dtype === 'float32' && v.shape.length >= 1 && v.shape.length <= x.shape.length &&
      v.shape[v.shape.length - 1] === C && tf.util.sizeFromShape(v.shape) === C;
    if (!perChannel || C === 0 || R < 2) return orig(args);
    let k = Math.min(R, Math.floor(MAX_TILE / C));
    while (k > 1 && R % k !== 0) k--;
    if (k < 8) return orig(args);
    const tiled = backend.makeOutput([k * C], 'float32');
    const src = backend.typedArrayFromHeap(v), dst = backend.typedArrayFromHeap(tiled);
    for (let i = 0; i < k; i++) dst.set(src.subarray(0, C), i * C);
    const rows = { dataId: x.dataId, shape: [R / k, k * C], dtype: 'float32' as const };
    const out = orig({ ...args, inputs: x === a ? { a: rows, b: tiled } : { a: tiled, b: rows } });
    free(backend, tiled);
    return { dataId: out.dataId, shape: x.shape, dtype: 'float32' };
  };
}

let registered = false;

/**
 * Registers d2l-ts's wasm kernels (see the table in this module's header). Idempotent.
 *
 * Call it before `tf.setBackend('wasm')` (as `initBackend` does); calling it later also works, since
 * replaced kernels keep the original's setup function. Loads `@tensorflow/tfjs-backend-wasm` (which
 * registers the wasm backend) if that has not happened yet.
 * @returns the names of the kernels registered (see {@link WASM_KERNELS}).
 */
export function registerWasmKernels(): readonly string[] {
  if (registered) return WASM_KERNELS;
  // Lazily: importing the package registers backend 'wasm' with a higher priority than 'cpu', which
  // must not happen in processes that use the native backend (or none at all).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-wasm');
  install('BatchMatMul', fastTransposedMatMul);
  install('_FusedMatMul', fastTransposedMatMul);
  install('Conv2DBackpropFilter', conv2DBackpropFilter);
  install('Conv2DBackpropInput', conv2DBackpropInput);
  install('UnsortedSegmentSum', unsortedSegmentSum);
  install('MaxPoolGrad', maxPoolGrad);
  install('AvgPoolGrad', avgPoolGrad);
  install('Sum', sumLeadingAxes);
  install('Add', channelBiasAdd);
  registered = true;
  return WASM_KERNELS;
}
