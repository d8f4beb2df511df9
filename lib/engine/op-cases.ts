/**
 * The TensorFlow.js kernels the lectures run, as small seeded test cases, and a runner that checks a backend
 * against the reference `cpu` backend case by case ({@link compareWithCpu}).
 *
 * Why: a new backend (WebGPU, say) is only useful to the course if every kernel the lecture notebooks reach
 * (lectures 04–13 and 19–23), forward and in their gradients, gives the cpu backend's numbers. Running the
 * notebooks tells you *that* something is off, after minutes; these cases say *which* kernel, in seconds.
 *
 * How the kernel list was obtained (2026-12, tfjs 4.22): all 15 notebooks were executed with
 * `node bin/d2l-ts.js lessons <NN>` under `D2L_BACKEND=wasm D2L_COMPILE=0` (so every op goes through tfjs'
 * engine; the native backend's compiled steps would bypass it) with a preloaded script that wrapped
 * `tf.engine().runKernelFunc` and wrote down the name of every registered kernel the engine dispatched, forward
 * and inside `tf.grads`/`variableGrads`/`minimize` backward passes, including those dispatched inside `customGrad`
 * functions (`_FusedMatMul`, `FusedConv2D`, the `Identity` that saves tensors for a gradient). Kernels that our wasm
 * fixes (./wasm-kernels) call directly are not dispatched by the engine and are not in the list. All 15 notebooks
 * passed their golden checks in that run. The list depends on ./fast-ops being installed (it is, by `initBackend`):
 * with it, dense and conv layers run as separate matMul/conv2d, add and activation kernels while gradients are
 * recorded, and `_FusedMatMul`/`FusedConv2D` only at inference.
 *
 * Each {@link OpCase} builds its inputs inside `run()` from seeded host data (`createRng`), so both backends see
 * the same numbers, with small shapes in the lectures' patterns (lecture numbers in `lectures`); float cases return
 * the value and the gradient with respect to every float input of `Σ f(x)·w` for a fixed random weighting w. Random
 * masks use `tf.randomUniform` with a seed: tfjs draws those numbers in JavaScript (seedrandom) and uploads them, so
 * every backend gets the same mask. A few cases run kernels the lectures do not — MaxPoolGrad, ResizeBilinearGrad,
 * SplitV (concat's gradient) and LogicalNot (where's), gradients of ops the lectures only run forward; their
 * `kernels` list them, LECTURE_KERNELS does not.
 *
 * Two tfjs 4.22 bugs the cases step around (both outside any backend under test): the cpu backend's
 * TensorScatterUpdate writes the updates into its input tensor's buffer as well (so no case reuses that input), and
 * tfjs-core's Cumsum gradient transposes its (already right) result for any axis but the last — a shape error, or for a
 * square input silently the transpose — so the gradient is taken along the last axis.
 *
 * Tolerances, per case, on |a − b| ≤ tol · max(1, |cpu|) (an absolute error for values up to 1, relative above):
 *  - 0 — data movement, integer and boolean results, comparisons, gathers, slices: there is one right answer;
 *  - 1e-6 — a value goes through one or a few float32 roundings (a division, a sum of 2–3 terms) whose order or
 *    rounding a backend may choose differently (WGSL allows division 2.5 ulp);
 *  - 1e-5 — transcendental functions (exp, log, pow, tanh, sigmoid, bilinear weights): GPU math libraries are
 *    accurate to a few ulp, more near the ends of their ranges;
 *  - 1e-4 — sums over tens to hundreds of products in any order (matMul, conv, reductions and the whole
 *    training steps): float32 accumulation error grows with the number of terms.
 * Measured 2026-12: wasm (tests/lib/engine/op-cases.test.ts) and WebGPU on SwiftShader (a software Vulkan) pass
 * every case, at least 4x below its tolerance (the largest error: 1.3e-5, the LeNet-shaped convolutions on wasm).
 *
 * Checking WebGPU: {@link compareWithCpu} sets `WEBGPU_CPU_FORWARD` to false while it runs. Otherwise tfjs-backend-webgpu hands a kernel
 * whose inputs are all small (< 1000 elements) and not yet uploaded to the GPU to tfjs-backend-cpu's code, which is
 * most of these cases: the comparison would check cpu against itself. (Cast, Reshape, ExpandDims, Identity and Range
 * never run a GPU program on webgpu: they relabel buffers or compute on the host.)
 * @module
 */
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../random';
import { withTapeCleanup } from './tape';

/** Every kernel the lecture notebooks dispatched through tfjs' engine, forward and backward (see the header). */
export const LECTURE_KERNELS: readonly string[] = [
  'Abs', 'Add', 'AddN', 'All', 'ArgMax', 'AvgPool', 'AvgPoolGrad', 'BatchMatMul', 'Cast', 'Concat', 'Conv2D',
  'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Cumsum', 'Equal', 'Exp', 'ExpandDims', 'Fill', 'Floor',
  'FusedConv2D', 'GatherNd', 'GatherV2', 'Greater', 'GreaterEqual', 'Identity', 'Less', 'Log', 'LogicalAnd', 'Max',
  'MaxPool', 'Maximum', 'Mean', 'Min', 'Multiply', 'Neg', 'NotEqual', 'OneHot', 'OnesLike', 'Pack', 'PadV2', 'Pow',
  'Range', 'RealDiv', 'Relu', 'Reshape', 'ResizeBilinear', 'Reverse', 'Select', 'Sigmoid', 'Slice', 'Sqrt',
  'Square', 'SquaredDifference', 'Step', 'Sub', 'Sum', 'Tanh', 'TensorScatterUpdate', 'Transpose', 'Unpack',
  'UnsortedSegmentSum', 'ZerosLike', '_FusedMatMul',
];

/** One check: `run()` computes on whichever backend is active; its outputs are compared with cpu's. */
export interface OpCase {
  name: string;
  /** The lectures whose notebooks run these kernels in this pattern, e.g. `'09, 23'`. */
  lectures: string;
  /** The kernels this case is there to check; each really runs when `run()` does (tested). */
  kernels: readonly string[];
  /** Allowed error: |a − b| ≤ tol · max(1, |cpu value|). */
  tol: number;
  run(): tf.Tensor | tf.Tensor[];
}

/** One case's outcome on a backend. */
export interface OpResult {
  name: string;
  lectures: string;
  /** The largest error over all outputs, scaled like `tol` (|a − b| / max(1, |cpu|)); Infinity when not comparable. */
  maxErr: number;
  tol: number;
  ok: boolean;
  /** Why the case failed: an exception (and on which backend), a shape/dtype mismatch, or the worst value. */
  error?: string;
  /** Wall time of both runs and the comparison. */
  ms: number;
}

// ---- inputs --------------------------------------------------------------------------------------------------

const EXACT = 0;
const ROUNDING = 1e-6;
const ELEMENTWISE = 1e-5;
const ACCUMULATED = 1e-4;

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Seeded floats, uniform in [lo, hi), as a float32 tensor on the active backend. */
function uniform(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const r = createRng(seed);
  const v = new Float32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r();
  return tf.tensor(v, shape, 'float32');
}

/** Seeded integers, uniform in [0, n), as an int32 tensor. */
function integers(shape: number[], seed: number, n: number): tf.Tensor {
  const r = createRng(seed);
  const v = new Int32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = Math.floor(r() * n);
  return tf.tensor(v, shape, 'int32');
}

/** Seeded multiples of 0.5 in [-1, 1] (equal pairs and zeros for comparisons), as a float32 tensor. */
function halves(shape: number[], seed: number): tf.Tensor {
  const r = createRng(seed);
  return tf.tensor(Float32Array.from({ length: sizeOf(shape) }, () => (Math.floor(r() * 5) - 2) / 2), shape, 'float32');
}

/** The value of `f` and its gradient with respect to every x: d/dx Σ f(...xs)·w, w a fixed random weighting. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], seed = 1000): tf.Tensor[] {
  const y = f(...xs);
  const w = uniform(y.shape, seed);
  const grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), w)))(xs);
  return [y, ...grads];
}

const as4 = (t: tf.Tensor) => t as tf.Tensor4D;
const as2 = (t: tf.Tensor) => t as tf.Tensor2D;

/** lib/classify.ts's softmaxCrossEntropy (lectures 10, 13, 23), written out: engine/ may not import it. */
function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  const onehot = tf.cast(tf.oneHot(labels as tf.Tensor1D, logits.shape[1] ?? 1), 'float32');
  const loss = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const z = tf.sub(x, tf.max(x, 1, true));
    const logp = tf.sub(z, tf.log(tf.sum(tf.exp(z), 1, true)));
    save([logp, onehot]);
    return {
      value: tf.neg(tf.sum(tf.mul(logp, onehot), 1)),
      gradFunc: (dy: tf.Tensor, [lp, oh]: tf.Tensor[]) => tf.mul(tf.sub(tf.exp(lp), oh), tf.reshape(dy, [-1, 1])),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return loss(logits) as tf.Tensor;
}

/** Lecture 13's dropoutLayer with a fixed seed: a mask of randomUniform > p, kept values scaled by 1/(1 − p). */
function dropoutLayer(x: tf.Tensor, p: number, seed: number): tf.Tensor {
  const mask = tf.cast(tf.greater(tf.randomUniform(x.shape, 0, 1, 'float32', seed), p), 'float32');
  return tf.div(tf.mul(mask, x), 1 - p);
}

/** Loss and the gradients of every parameter: what one training step computes. */
function step(loss: (...params: tf.Tensor[]) => tf.Tensor, params: tf.Tensor[]): tf.Tensor[] {
  const { value, grads } = tf.valueAndGrads(loss)(params);
  return [value, ...grads];
}

/** Glorot-uniform-sized seeded weights (what tf.layers use by default), for the whole-step cases. */
function weights(shape: number[], seed: number): tf.Tensor {
  const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
  const fanOut = shape.length === 4 ? shape[0] * shape[1] * shape[3] : shape[shape.length - 1];
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, seed, -bound, bound);
}

/** A batch of Fashion-MNIST-shaped images in [0, 1] and their labels. */
function imageBatch(b: number, seed: number): [tf.Tensor4D, tf.Tensor1D] {
  return [as4(uniform([b, 28, 28, 1], seed, 0, 1)), integers([b], seed + 1, 10) as tf.Tensor1D];
}

// ---- the cases ---------------------------------------------------------------------------------------------------

export const LECTURE_OP_CASES: readonly OpCase[] = [
  {
    name: 'range, fill, zerosLike, onesLike, reshape',
    lectures: '04, 05, 06, 08, 10, 12',
    kernels: ['Range', 'Fill', 'ZerosLike', 'OnesLike', 'Reshape'],
    tol: EXACT,
    run: () => {
      const x = uniform([3, 4], 1);
      return [tf.range(0, 12, 1, 'int32').reshape([3, 4]), tf.range(0, 12, 1, 'float32').reshape([-1, 4]),
        tf.range(-8, 8, 0.1), tf.range(0, 3, 0.1), tf.range(-7, 7, 0.01), tf.fill([2, 4], 12), tf.fill([200], 0.01),
        tf.zerosLike(x), tf.onesLike(x)];
    },
  },
  {
    name: 'add, sub, mul, div with broadcasting',
    lectures: '04–13, 19, 21, 23',
    kernels: ['Add', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Sum', 'Reshape'],
    tol: ROUNDING,
    run: () => {
      const x = uniform([5, 4], 2), y = uniform([5, 1], 3, 0.5, 1.5), b = uniform([4], 4), s = uniform([], 5);
      const img = uniform([2, 3, 3, 4], 6);
      return [
        ...valueAndGrads((x, b) => tf.add(x, b), [x, b]),         // bias add, [5,4] + [4]
        ...valueAndGrads((x, y) => tf.sub(x, y), [x, y]),         // [5,4] − [5,1]
        ...valueAndGrads((x, s) => tf.mul(x, s), [x, s]),         // times a scalar tensor
        ...valueAndGrads((x, y) => tf.div(x, y), [x, y]),         // F / F.sum(1, true)
        ...valueAndGrads((img, b) => tf.add(img, b), [img, b]),   // per-channel conv bias, [2,3,3,4] + [4]
        ...valueAndGrads((img) => tf.div(tf.sub(img, 0.25), 1.5), [img]),
      ];
    },
  },
  {
    name: 'int32 arithmetic, transpose, equal, sum, cast',
    lectures: '04, 05, 09, 13, 22',
    kernels: ['Add', 'Transpose', 'Equal', 'Sum', 'Cast', 'Reshape', 'Range'],
    tol: EXACT,
    run: () => {
      const a = tf.range(0, 3, 1, 'int32').reshape([3, 1]), b = tf.range(0, 2, 1, 'int32').reshape([1, 2]);
      const A = tf.range(0, 20, 1, 'int32').reshape([5, 4]);
      const B = tf.tensor2d([[1, 2, 3], [2, 0, 4], [3, 4, 5]], undefined, 'int32');
      const k = integers([4, 6], 7, 5);
      return [tf.add(a, b), tf.transpose(A), tf.equal(B, tf.transpose(B)), tf.sum(k), tf.sum(k, 1),
        tf.cast(k, 'float32'), tf.cast(k, 'int32')];
    },
  },
  {
    name: 'exp, log',
    lectures: '04, 08, 09, 10, 13, 23',
    kernels: ['Exp', 'Log', 'Multiply', 'RealDiv'],
    tol: ELEMENTWISE,
    run: () => [
      ...valueAndGrads((x) => tf.exp(x), [uniform([6, 10], 8, -4, 4)]),
      ...valueAndGrads((x) => tf.log(x), [uniform([6, 1], 9, 0.05, 3)]),
    ],
  },
  {
    name: 'sqrt, square, abs, neg (and their Step gradient)',
    lectures: '05, 06, 08, 09, 12',
    kernels: ['Sqrt', 'Square', 'Abs', 'Neg', 'Step', 'Multiply', 'RealDiv', 'Cast'],
    tol: ROUNDING,
    run: () => {
      const x = tf.concat([uniform([11], 10), tf.tensor1d([0])]);   // abs'(0) is decided by Step's alpha
      return [
        ...valueAndGrads((x) => tf.sqrt(x), [uniform([12], 11, 0.1, 4)]),
        ...valueAndGrads((x) => tf.square(x), [x]),
        ...valueAndGrads((x) => tf.abs(x), [x]),
        ...valueAndGrads((x) => tf.neg(x), [x]),
      ];
    },
  },
  {
    name: 'pow: squares, and polynomial features x^[0..11] of negative x',
    lectures: '04, 05, 06, 11, 12',
    kernels: ['Pow', 'Multiply', 'Sub', 'Greater', 'Log', 'Select', 'Sum', 'Reshape'],
    tol: ELEMENTWISE,
    run: () => [
      ...valueAndGrads((a, b) => tf.pow(a, b), [tf.tensor1d([1, 2, 4, 8]), tf.tensor1d([2, 2, 2, 2])]),
      ...valueAndGrads((a) => tf.pow(a, tf.scalar(2)), [uniform([6], 12)]),
      // lecture 11: features [n, 1] ^ exponents [20]: integer powers of negative numbers
      ...valueAndGrads((x, e) => tf.pow(x, e), [uniform([12, 1], 13, -2, 2), tf.range(0, 12, 1, 'float32')]),
    ],
  },
  {
    name: 'relu, sigmoid, tanh (at 0 too)',
    lectures: '06, 10, 13, 23',
    kernels: ['Relu', 'Step', 'Sigmoid', 'Tanh', 'Sub', 'Multiply', 'Square', 'Cast'],
    tol: ELEMENTWISE,
    run: () => {
      const x = tf.concat([tf.range(-8, 8, 0.5), tf.tensor1d([-1, 0, 1])]);
      return [
        ...valueAndGrads((x) => tf.relu(x), [x]),
        ...valueAndGrads((x) => tf.sigmoid(x), [x]),
        ...valueAndGrads((x) => tf.tanh(x), [x]),
        ...valueAndGrads((x) => tf.relu(x), [uniform([4, 16], 14)]),
      ];
    },
  },
  {
    name: 'maximum(x, zerosLike(x)): the scratch relu',
    lectures: '10',
    kernels: ['Maximum', 'ZerosLike', 'GreaterEqual', 'Less', 'Cast', 'Multiply'],
    tol: EXACT,
    run: () => valueAndGrads((x) => tf.maximum(x, tf.zerosLike(x)), [tf.concat([uniform([4, 16], 15), tf.zeros([1, 16])])]),
  },
  {
    name: 'sum and mean along axes',
    lectures: '04, 05, 08–13, 19, 21–23',
    kernels: ['Sum', 'Mean', 'Multiply', 'RealDiv', 'Reshape'],
    tol: ACCUMULATED,
    run: () => {
      const F = uniform([5, 4], 16), T = uniform([2, 5, 4], 17), bias = uniform([2, 4, 4, 3], 18);
      return [
        ...valueAndGrads((x) => tf.sum(x), [F]),
        ...valueAndGrads((x) => tf.sum(x, 0), [F]),
        ...valueAndGrads((x) => tf.sum(x, 1, true), [F]),
        ...valueAndGrads((x) => tf.sum(x, [0, 1]), [F]),
        ...valueAndGrads((x) => tf.sum(x, 1, true), [T]),
        ...valueAndGrads((x) => tf.sum(x, [1, 2]), [T]),
        ...valueAndGrads((x) => tf.sum(x, [0, 1, 2]), [bias]),   // a conv bias gradient
        ...valueAndGrads((x) => tf.mean(x), [F]),
        ...valueAndGrads((x) => tf.mean(x, 0), [F]),
        ...valueAndGrads((x) => tf.mean(x, [0, 1]), [T]),
      ];
    },
  },
  {
    name: 'max, min, argMax',
    lectures: '06, 08–10, 12, 13, 21–23',
    kernels: ['Max', 'Min', 'ArgMax', 'Equal', 'Cast', 'Multiply', 'Reshape'],
    tol: EXACT,
    run: () => {
      const logits = uniform([6, 10], 19);
      return [
        ...valueAndGrads((x) => tf.max(x, 1, true), [logits]),
        ...valueAndGrads((x) => tf.max(x), [uniform([12], 20)]),
        ...valueAndGrads((x) => tf.max(x, [2, 3], true), [uniform([2, 3, 6, 6], 21)]),
        ...valueAndGrads((x) => tf.min(x, [1, 2], true), [uniform([6, 5, 5], 22)]),
        tf.argMax(logits, 1),
      ];
    },
  },
  {
    name: 'cumsum (forward along axis 0, gradient along the last axis)',
    lectures: '05',
    kernels: ['Cumsum'],
    tol: ROUNDING,
    // tfjs-core 4.22's Cumsum gradient is wrong for any axis but the last (it transposes a result that needs no
    // transposing: a [5, 4] input along axis 0 gets a [4, 5] gradient and tf.grads throws), so the gradient is taken
    // along the last axis only.
    run: () => [tf.cumsum(uniform([5, 4], 23), 0), ...valueAndGrads((x) => tf.cumsum(x, 1), [uniform([4, 5], 24)])],
  },
  {
    name: 'matMul and the transposed products of its gradients',
    lectures: '05–13, 21, 23',
    kernels: ['BatchMatMul', 'Reshape'],
    tol: ACCUMULATED,
    run: () => {
      const a = uniform([5, 4], 24), b = uniform([4, 3], 25), v = uniform([4], 26);
      return [
        ...valueAndGrads((a, b) => tf.matMul(a, b), [a, b]),                                 // NN; grads NT and TN
        ...valueAndGrads((a, b) => tf.matMul(a, b, true, true), [uniform([4, 5], 27), uniform([3, 4], 28)]),
        ...valueAndGrads((a, v) => tf.dot(a, v), [a, v]),                                    // matrix-vector
        ...valueAndGrads((u, v) => tf.dot(u, v), [uniform([4], 29), v]),                     // vector-vector
        ...valueAndGrads((x, w) => tf.matMul(x, w), [uniform([8, 64], 30), uniform([64, 10], 31)]),
      ];
    },
  },
  {
    name: 'fused matMul + bias (layers at inference)',
    lectures: '08–13, 23',
    kernels: ['_FusedMatMul'],
    tol: ACCUMULATED,
    run: () => [
      tf.fused.matMul({ a: uniform([4, 64], 32), b: uniform([64, 10], 33), bias: uniform([10], 34) }),
      tf.fused.matMul({ a: uniform([4, 40], 35), b: uniform([40, 12], 36) }),
    ],
  },
  {
    name: 'comparisons, logical ops, where, casts, mean of a mask',
    lectures: '04, 05, 07, 09–11, 13, 19, 22',
    kernels: ['Equal', 'Greater', 'NotEqual', 'LogicalAnd', 'All', 'Select', 'Cast', 'Mean', 'Sum', 'LogicalNot'],
    tol: ROUNDING,
    run: () => {
      const x = halves([2, 8], 37), y = halves([2, 8], 38);   // ties and zeros
      const kept = tf.notEqual(x, 0), big = tf.greater(x, 0.25);
      return [
        tf.equal(x, y), big, kept, tf.logicalAnd(kept, tf.equal(y, 0)), tf.all(tf.equal(x, x)), tf.all(big),
        tf.cast(big, 'float32'), tf.cast(big, 'int32'), tf.sum(tf.cast(kept, 'int32')), tf.mean(big),
        tf.cast(x, 'float32'),
        ...valueAndGrads((a, b) => tf.where(kept, a, b), [uniform([2, 8], 39), uniform([2, 8], 40)]),
      ];
    },
  },
  {
    name: 'gather (+ its UnsortedSegmentSum gradient), gatherND, oneHot, stack, tensorScatterUpdate',
    lectures: '04, 05, 06, 08, 09, 11, 13, 23',
    kernels: ['GatherV2', 'UnsortedSegmentSum', 'GatherNd', 'OneHot', 'Pack', 'Range', 'TensorScatterUpdate', 'Fill'],
    tol: ROUNDING,
    run: () => {
      const X = uniform([3, 4], 41), features = uniform([12, 2], 42);
      const batch = tf.tensor1d([3, 7, 3, 0, 11, 7, 7, 5], 'int32');   // repeated indices: summed in the gradient
      const y = tf.tensor1d([0, 2], 'int32'), yHat = tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]);
      return [
        ...valueAndGrads((X) => tf.gather(X, 2), [X]),
        ...valueAndGrads((f) => tf.gather(f, batch), [features]),
        tf.gatherND(yHat, tf.stack([tf.range(0, 2, 1, 'int32'), y], 1)),
        tf.oneHot(integers([6], 43, 10), 10),
        // each on a tensor of its own: the cpu backend's TensorScatterUpdate (4.22) writes into its input's buffer
        tf.tensorScatterUpdate(uniform([3, 4], 41), [[1, 2]], [9]),
        tf.tensorScatterUpdate(uniform([3, 4], 41), [[0], [1]], tf.fill([2, 4], 12)),
      ];
    },
  },
  {
    name: 'slice, concat, pad (0 and -Infinity)',
    lectures: '04, 08, 09–11, 19, 21–23',
    kernels: ['Slice', 'Concat', 'PadV2', 'SplitV'],
    tol: EXACT,
    run: () => {
      const X = uniform([3, 4], 44), Y = uniform([3, 4], 45), img = uniform([1, 4, 4, 2], 46);
      return [
        ...valueAndGrads((x) => tf.slice(x, 1, 2), [X]),
        ...valueAndGrads((x) => tf.slice(x, [0, 1], [-1, 1]), [X]),
        ...valueAndGrads((x) => tf.slice(x, [0, 0, 0, 0], [3, 6, 6, 1]), [uniform([4, 6, 6, 1], 47)]),
        tf.slice(tf.range(0, 10, 1, 'int32'), [2], [5]),
        ...valueAndGrads((x, y) => tf.concat([x, y], 0), [X, Y]),
        ...valueAndGrads((x, y) => tf.concat([x, y, x], 1), [X, Y]),
        ...valueAndGrads((x) => tf.concat([x, tf.add(x, 1)], 3), [img]),
        ...valueAndGrads((x) => tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), [img]),
        tf.pad(img, [[0, 0], [1, 1], [1, 1], [0, 0]], -Infinity),
        tf.pad(img, [[0, 0], [0, 0], [1, 1], [0, 0]], -Infinity),
      ];
    },
  },
  {
    name: 'stack, unstack, expandDims, transpose, reverse, addN',
    lectures: '06, 12, 19, 21–23',
    kernels: ['Pack', 'Unpack', 'ExpandDims', 'Transpose', 'Reverse', 'AddN', 'Reshape'],
    tol: ROUNDING,
    run: () => {
      const a = uniform([3, 3], 48), b = uniform([3, 3], 49), c = uniform([3, 3], 50);
      return [
        ...valueAndGrads((a, b, c) => tf.stack([a, b, c]), [a, b, c]),
        ...valueAndGrads((x) => tf.stack(tf.unstack(x).map((t) => tf.mul(t, 2))), [uniform([3, 2, 2, 2], 51)]),
        ...valueAndGrads((x) => tf.expandDims(x, 0), [uniform([3, 3, 2], 52)]),
        ...valueAndGrads((x) => tf.transpose(x, [1, 2, 0]), [uniform([2, 3, 3], 53)]),
        ...valueAndGrads((x) => tf.transpose(x, [2, 3, 1, 0]), [uniform([3, 2, 2, 2], 54)]),
        ...valueAndGrads((x) => tf.transpose(x, [0, 3, 1, 2]), [uniform([2, 4, 4, 3], 55)]),
        ...valueAndGrads((x) => tf.transpose(x), [uniform([6, 8], 56)]),
        ...valueAndGrads((x) => tf.reverse(x, [0, 1]), [uniform([1, 2], 57)]),
        ...valueAndGrads((a, b, c) => tf.addN([a, b, c]), [a, b, c]),
      ];
    },
  },
  {
    name: 'squaredDifference, meanSquaredError, moments, norm',
    lectures: '05, 06, 08, 10–12',
    kernels: ['SquaredDifference', 'Mean', 'Sqrt', 'Abs', 'Pow', 'Sum', 'Sub', 'Multiply'],
    tol: ACCUMULATED,
    run: () => {
      const a = uniform([10, 1], 58), b = uniform([10, 1], 59), W = uniform([20, 16], 60);
      return [
        ...valueAndGrads((a, b) => tf.squaredDifference(a, b), [a, b]),
        ...valueAndGrads((a, b) => tf.losses.meanSquaredError(a, b), [a, b]),
        ...valueAndGrads((w) => tf.moments(w).mean, [W]),
        ...valueAndGrads((w) => tf.moments(w).variance, [W]),
        ...valueAndGrads((u) => tf.norm(u), [tf.tensor1d([3, -4])]),
        ...valueAndGrads((m) => tf.square(tf.norm(m)), [uniform([3, 4], 61)]),
      ];
    },
  },
  {
    name: 'softmax, cross-entropy, logSumExp, accuracy',
    lectures: '09, 10, 13, 23',
    kernels: ['Exp', 'Sum', 'RealDiv', 'OneHot', 'Cast', 'Multiply', 'Log', 'Neg', 'Max', 'Sub', 'Add', 'Identity',
      'ArgMax', 'Equal', 'Reshape'],
    tol: ELEMENTWISE,
    run: () => {
      const o = uniform([6, 10], 62, -3, 3), y = integers([6], 63, 10);
      const softmax = (x: tf.Tensor) => { const e = tf.exp(x); return tf.div(e, tf.sum(e, 1, true)); };
      const crossEntropy = (p: tf.Tensor) => tf.neg(tf.log(tf.sum(tf.mul(p, tf.oneHot(tf.cast(y, 'int32'), 10)), 1)));
      return [
        ...valueAndGrads((x) => softmax(x), [o]),
        ...valueAndGrads((x) => crossEntropy(softmax(x)), [o]),
        ...valueAndGrads((x) => tf.sub(tf.logSumExp(x, 1), tf.sum(tf.mul(x, tf.oneHot(y, 10)), 1)), [o]),
        ...valueAndGrads((x) => softmaxCrossEntropy(x, y), [o]),
        tf.sum(tf.cast(tf.equal(tf.cast(tf.argMax(o, 1), 'int32'), y), 'float32')),
      ];
    },
  },
  {
    name: 'dropout masks from seeded randomUniform (scratch and tf.dropout)',
    lectures: '13',
    kernels: ['Greater', 'Cast', 'Multiply', 'RealDiv', 'Floor', 'Add'],
    tol: ROUNDING,
    run: () => {
      const x = uniform([8, 16], 64);
      return [
        tf.randomUniform([4, 4], 0, 1, 'float32', 65),
        ...valueAndGrads((x) => dropoutLayer(x, 0.2, 66), [x]),
        ...valueAndGrads((x) => dropoutLayer(x, 0.5, 67), [x]),
        ...valueAndGrads((x) => tf.dropout(x, 0.5, undefined, 68), [x]),   // tf.layers.dropout's path
      ];
    },
  },
  {
    name: 'resizeBilinear 28 → 64 (and its gradient)',
    lectures: '09',
    kernels: ['ResizeBilinear', 'ResizeBilinearGrad'],
    tol: ELEMENTWISE,
    run: () => valueAndGrads((x) => tf.image.resizeBilinear(as4(x), [64, 64]), [uniform([2, 28, 28, 1], 69, 0, 1)]),
  },
  {
    name: 'conv2d 1×2 edge kernel, valid (and its two gradients)',
    lectures: '19',
    kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
    tol: ACCUMULATED,
    run: () => valueAndGrads((x, k) => tf.conv2d(as4(x), as4(k), 1, 'valid'), [uniform([1, 6, 8, 1], 70), uniform([1, 2, 1, 1], 71)]),
  },
  {
    name: 'conv2d with explicit padding and strides 1, 2, [3, 4]',
    lectures: '20',
    kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
    tol: ACCUMULATED,
    run: () => {
      const X = uniform([1, 8, 8, 1], 72);
      const conv = (kh: number, kw: number, ph: number, pw: number, s: [number, number], seed: number) =>
        valueAndGrads((x, k) => tf.conv2d(as4(x), as4(k), s, [[0, 0], [ph, ph], [pw, pw], [0, 0]]),
          [X, uniform([kh, kw, 1, 1], seed)]);
      return [...conv(3, 3, 1, 1, [1, 1], 73), ...conv(5, 3, 2, 1, [1, 1], 74), ...conv(3, 3, 1, 1, [2, 2], 75),
        ...conv(3, 5, 0, 1, [3, 4], 76)];
    },
  },
  {
    name: 'conv2d with several input and output channels, and 1×1',
    lectures: '21',
    kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
    tol: ACCUMULATED,
    run: () => [
      ...valueAndGrads((x, k) => tf.conv2d(as4(x), as4(k), 1, 'valid'), [uniform([1, 3, 3, 2], 77), uniform([2, 2, 2, 3], 78)]),
      ...valueAndGrads((x, k) => tf.conv2d(as4(x), as4(k), 1, 'valid'), [uniform([1, 3, 3, 3], 79), uniform([1, 1, 3, 2], 80)]),
    ],
  },
  {
    name: "conv2d in LeNet's shapes: 5×5 'same' 1→6 and 'valid' 6→16",
    lectures: '23',
    kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
    tol: ACCUMULATED,
    run: () => [
      ...valueAndGrads((x, k) => tf.conv2d(as4(x), as4(k), 1, 'same'), [uniform([2, 28, 28, 1], 81, 0, 1), uniform([5, 5, 1, 6], 82)]),
      ...valueAndGrads((x, k) => tf.conv2d(as4(x), as4(k), 1, 'valid'), [uniform([2, 14, 14, 6], 83, 0, 1), uniform([5, 5, 6, 16], 84, -0.2, 0.2)]),
    ],
  },
  {
    name: 'fused conv2d + bias (layers at inference)',
    lectures: '20, 23',
    kernels: ['FusedConv2D'],
    tol: ACCUMULATED,
    run: () => {
      const X = as4(uniform([1, 8, 8, 1], 85));
      return [
        tf.fused.conv2d({ x: X, filter: as4(uniform([3, 3, 1, 1], 86)), strides: 1, pad: 'same' }),
        tf.fused.conv2d({ x: X, filter: as4(uniform([3, 5, 1, 1], 87)), strides: [3, 4], pad: 'same' }),
        tf.fused.conv2d({ x: as4(uniform([2, 28, 28, 1], 88, 0, 1)), filter: as4(uniform([5, 5, 1, 6], 89)), strides: 1,
          pad: 'same', bias: uniform([6], 90) }),
        tf.fused.conv2d({ x: as4(uniform([2, 14, 14, 6], 91, 0, 1)), filter: as4(uniform([5, 5, 6, 16], 92, -0.2, 0.2)),
          strides: 1, pad: 'valid', bias: uniform([16], 93) }),
      ];
    },
  },
  {
    name: 'maxPool 2×2 and 3×3, stride 1, 2, 3, same/valid/-Infinity padding (and MaxPoolGrad)',
    lectures: '22',
    kernels: ['MaxPool', 'MaxPoolGrad', 'PadV2'],
    tol: EXACT,
    run: () => {
      const X = uniform([1, 4, 4, 1], 94), X2 = uniform([1, 4, 4, 2], 95);   // values ≤ 0 in some windows
      const padHW = (x: tf.Tensor, ph: number, pw: number) => as4(tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], -Infinity));
      return [
        ...valueAndGrads((x) => tf.maxPool(as4(x), 2, 1, 'valid'), [uniform([1, 3, 3, 1], 96)]),
        ...valueAndGrads((x) => tf.maxPool(as4(x), 3, 3, 'valid'), [X]),
        ...valueAndGrads((x) => tf.maxPool(as4(x), 3, 2, 'same'), [X]),
        ...valueAndGrads((x) => tf.maxPool(padHW(x, 1, 1), 3, 2, 'valid'), [X]),
        ...valueAndGrads((x) => tf.maxPool(padHW(x, 0, 1), [2, 3], [2, 3], 'valid'), [X]),
        ...valueAndGrads((x) => tf.maxPool(padHW(x, 1, 1), 3, 2, 'valid'), [X2]),
        ...valueAndGrads((x) => tf.maxPool(as4(x), 2, 2, 'valid'), [uniform([2, 6, 6, 3], 97)]),
      ];
    },
  },
  {
    name: "avgPool 2×2 stride 2 in LeNet's shapes, 2×2 stride 1, 3×3 stride 2 same",
    lectures: '22, 23',
    kernels: ['AvgPool', 'AvgPoolGrad'],
    tol: ROUNDING,
    run: () => [
      ...valueAndGrads((x) => tf.avgPool(as4(x), 2, 2, 'valid'), [uniform([2, 28, 28, 6], 98)]),
      ...valueAndGrads((x) => tf.avgPool(as4(x), 2, 2, 'valid'), [uniform([2, 10, 10, 16], 99)]),
      ...valueAndGrads((x) => tf.avgPool(as4(x), 2, 1, 'valid'), [uniform([1, 3, 3, 1], 100)]),
      ...valueAndGrads((x) => tf.avgPool(as4(x), 3, 2, 'same'), [uniform([1, 4, 4, 2], 101)]),
    ],
  },
  // ---- whole training steps: the loss and the gradient of every parameter --------------------------------------
  {
    name: 'linear regression step (squared loss, summed)',
    lectures: '08, 12',
    kernels: ['BatchMatMul', 'Add', 'Sub', 'Square', 'RealDiv', 'Sum', 'Reshape', 'Multiply'],
    tol: ACCUMULATED,
    run: () => {
      const X = uniform([10, 2], 102, -2, 2), y = uniform([10, 1], 103, -3, 3);
      const loss = (w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.div(tf.square(tf.sub(tf.add(tf.matMul(X, w), b), tf.reshape(y, [10, 1]))), 2)) as tf.Scalar;
      return step(loss, [uniform([2, 1], 104, -0.01, 0.01), tf.zeros([1])]);
    },
  },
  {
    name: 'softmax regression step (scratch softmax + cross-entropy)',
    lectures: '09',
    kernels: ['Reshape', 'BatchMatMul', 'Add', 'Exp', 'Sum', 'RealDiv', 'OneHot', 'Multiply', 'Log', 'Neg', 'Cast'],
    tol: ACCUMULATED,
    run: () => {
      const [X, y] = imageBatch(8, 105);
      const loss = (W: tf.Tensor, b: tf.Tensor) => {
        const e = tf.exp(tf.add(tf.matMul(tf.reshape(X, [-1, 784]), W), b));
        const p = tf.div(e, tf.sum(e, 1, true));
        return tf.sum(tf.neg(tf.log(tf.sum(tf.mul(p, tf.oneHot(tf.cast(y, 'int32'), 10)), 1)))) as tf.Scalar;
      };
      return step(loss, [uniform([784, 10], 107, -0.02, 0.02), tf.zeros([10])]);
    },
  },
  {
    name: 'MLP step (784-256-10, relu, softmaxCrossEntropy)',
    lectures: '10',
    kernels: ['Reshape', 'BatchMatMul', 'Add', 'Relu', 'Step', 'Max', 'Sub', 'Exp', 'Sum', 'Log', 'Mean', 'Identity'],
    tol: ACCUMULATED,
    run: () => {
      const [X, y] = imageBatch(8, 108);
      const loss = (W1: tf.Tensor, b1: tf.Tensor, W2: tf.Tensor, b2: tf.Tensor) => {
        const H = tf.relu(tf.add(tf.matMul(tf.reshape(X, [-1, 784]), W1), b1));
        return tf.mean(softmaxCrossEntropy(tf.add(tf.matMul(H, W2), b2), y)) as tf.Scalar;
      };
      return step(loss, [weights([784, 256], 110), uniform([256], 111, -0.1, 0.1), weights([256, 10], 112), uniform([10], 113, -0.1, 0.1)]);
    },
  },
  {
    name: 'MLP step with dropout 0.2 / 0.5 (seeded masks)',
    lectures: '13',
    kernels: ['BatchMatMul', 'Add', 'Relu', 'Greater', 'Cast', 'Multiply', 'RealDiv', 'Step', 'Mean'],
    tol: ACCUMULATED,
    run: () => {
      const [X, y] = imageBatch(8, 114);
      const loss = (W1: tf.Tensor, b1: tf.Tensor, W2: tf.Tensor, b2: tf.Tensor, W3: tf.Tensor, b3: tf.Tensor) => {
        const H1 = dropoutLayer(tf.relu(tf.add(tf.matMul(tf.reshape(X, [-1, 784]), W1), b1)), 0.2, 116);
        const H2 = dropoutLayer(tf.relu(tf.add(tf.matMul(H1, W2), b2)), 0.5, 117);
        return tf.mean(softmaxCrossEntropy(tf.add(tf.matMul(H2, W3), b3), y)) as tf.Scalar;
      };
      return step(loss, [weights([784, 64], 118), uniform([64], 119, -0.1, 0.1), weights([64, 64], 120),
        uniform([64], 121, -0.1, 0.1), weights([64, 10], 122), uniform([10], 123, -0.1, 0.1)]);
    },
  },
  {
    name: 'LeNet step (conv 5×5 same/valid, sigmoid, avgPool, dense 120-84-10)',
    lectures: '23',
    kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Add', 'Sigmoid', 'AvgPool', 'AvgPoolGrad',
      'Reshape', 'BatchMatMul', 'Sum', 'Mean'],
    tol: ACCUMULATED,
    run: () => {
      const [X, y] = imageBatch(4, 124);
      const loss = (c1: tf.Tensor, cb1: tf.Tensor, c2: tf.Tensor, cb2: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor,
        w2: tf.Tensor, b2: tf.Tensor, w3: tf.Tensor, b3: tf.Tensor) => {
        let h: tf.Tensor = tf.sigmoid(tf.add(tf.conv2d(X, as4(c1), 1, 'same'), cb1));
        h = tf.avgPool(as4(h), 2, 2, 'valid');
        h = tf.sigmoid(tf.add(tf.conv2d(as4(h), as4(c2), 1, 'valid'), cb2));
        h = tf.reshape(tf.avgPool(as4(h), 2, 2, 'valid'), [-1, 400]);
        h = tf.sigmoid(tf.add(tf.matMul(as2(h), w1), b1));
        h = tf.sigmoid(tf.add(tf.matMul(as2(h), w2), b2));
        return tf.mean(softmaxCrossEntropy(tf.add(tf.matMul(as2(h), w3), b3), y)) as tf.Scalar;
      };
      return step(loss, [weights([5, 5, 1, 6], 126), uniform([6], 127, -0.1, 0.1), weights([5, 5, 6, 16], 128),
        uniform([16], 129, -0.1, 0.1), weights([400, 120], 130), uniform([120], 131, -0.1, 0.1), weights([120, 84], 132),
        uniform([84], 133, -0.1, 0.1), weights([84, 10], 134), uniform([10], 135, -0.1, 0.1)]);
    },
  },
];

// ---- the runner ---------------------------------------------------------------------------------------------

interface HostOutput {
  shape: number[];
  dtype: string;
  values: ArrayLike<number>;
}

/** Runs `c` on `backend` and copies its outputs to the host (asynchronously); frees everything it made. */
async function runOn(backend: string, c: OpCase): Promise<HostOutput[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' failed to initialise`);
  quietCpu();
  const outs = withTapeCleanup(() => tf.tidy(() => {
    const o = c.run();
    return Array.isArray(o) ? o : [o];
  }));
  try {
    return await Promise.all(outs.map(async (t) => ({ shape: t.shape, dtype: t.dtype, values: (await t.data()) as ArrayLike<number> })));
  } finally {
    tf.dispose(outs);
  }
}

/** tfjs-backend-cpu's "Hi, looks like you are running TensorFlow.js in Node.js" banner: it is chosen on purpose here. */
function quietCpu(): void {
  if (tf.getBackend() !== 'cpu') return;
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}

const fmt = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)).toString() : String(v));

/** The largest scaled error between `got` and `ref` (NaN matches NaN), and a sentence about it when above `tol`. */
function compareOutputs(ref: HostOutput[], got: HostOutput[], tol: number): { maxErr: number; error?: string } {
  if (got.length !== ref.length) return { maxErr: Infinity, error: `${got.length} outputs, cpu gives ${ref.length}` };
  let maxErr = 0;
  let worst: string | undefined;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i], g = got[i];
    const where = `output ${i} of ${ref.length}`;
    if (!tf.util.arraysEqual(r.shape, g.shape)) return { maxErr: Infinity, error: `${where}: shape [${g.shape}], cpu [${r.shape}]` };
    if (r.dtype !== g.dtype) return { maxErr: Infinity, error: `${where} [${r.shape}]: dtype ${g.dtype}, cpu ${r.dtype}` };
    for (let j = 0; j < r.values.length; j++) {
      const a = g.values[j], b = r.values[j];
      let e: number;
      if (Number.isNaN(a) || Number.isNaN(b)) e = Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
      else if (a === b) e = 0;   // also equal infinities
      else e = Math.abs(a - b) / Math.max(1, Math.abs(b));
      if (e > maxErr) {
        maxErr = e;
        worst = `${where} [${r.shape}] ${r.dtype}: error ${fmt(e)} at flat index ${j}: got ${fmt(a)}, cpu ${fmt(b)}`;
      }
    }
  }
  return maxErr <= tol ? { maxErr } : { maxErr, error: worst };
}

/** Runs one case on cpu, then on `backend`, and compares; never throws. */
async function compareCase(c: OpCase, backend: string): Promise<OpResult> {
  const t0 = performance.now();
  const result = (maxErr: number, error?: string): OpResult => ({
    name: c.name, lectures: c.lectures, maxErr, tol: c.tol, ok: error === undefined && maxErr <= c.tol,
    ...(error === undefined ? {} : { error }), ms: performance.now() - t0,
  });
  let ref: HostOutput[];
  try {
    ref = await runOn('cpu', c);
  } catch (err) {
    return result(Infinity, `on cpu: ${message(err)}`);
  }
  let got: HostOutput[];
  try {
    got = await runOn(backend, c);
  } catch (err) {
    return result(Infinity, `on ${backend}: ${message(err)}`);
  }
  const { maxErr, error } = compareOutputs(ref, got, c.tol);
  return result(maxErr, error);
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/**
 * Runs each case on 'cpu' and then on `backend` (tf.setBackend each time, restoring the backend active before),
 * compares every output (shape equal, values: |a-b| <= tol * max(1, |ref|)), never throws for a failing case (error
 * string instead), frees everything (no tensor leak: tf.memory().numTensors equal before/after). Reads values only
 * with `await t.data()` (async; GPU backends cannot read synchronously everywhere).
 * @param backend a registered tfjs backend name, e.g. `'wasm'` or `'webgpu'`
 * @param cases the cases to run (default: {@link LECTURE_OP_CASES})
 * @param onResult called after each case, e.g. to print progress
 */
export async function compareWithCpu(backend: string, cases: readonly OpCase[] = LECTURE_OP_CASES,
  onResult?: (r: OpResult) => void): Promise<OpResult[]> {
  const before = tf.getBackend();
  const results: OpResult[] = [];
  // On webgpu, small kernels would otherwise run tfjs-backend-cpu's code (see the header): compare the GPU programs.
  const cpuForward = backend === 'webgpu' && tf.env().getBool('WEBGPU_CPU_FORWARD');
  if (cpuForward) tf.env().set('WEBGPU_CPU_FORWARD', false);
  try {
    for (const c of cases) {
      const r = await compareCase(c, backend);
      results.push(r);
      onResult?.(r);
    }
  } finally {
    if (cpuForward) tf.env().set('WEBGPU_CPU_FORWARD', true);
    if (before && tf.getBackend() !== before) await tf.setBackend(before);
  }
  return results;
}
