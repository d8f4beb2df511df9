/**
 * Speed fixes to tfjs' training path, for every backend; {@link installFastOps} runs once, from `initBackend`.
 * Each one removes work that `npm run bench:profile` showed in the lectures' training steps; results are
 * unchanged (tested against the stock ops in tests/fast-ops.test.ts).
 *
 * 1. `tf.fused.matMul` (what `tf.layers.dense` calls) while gradients are recorded: matMul, add and activation run
 *    as separate ops. tfjs' fused version wraps the kernel in a `customGrad` whose gradient computes the gradient of
 *    EVERY input, including the data batch nobody asked for. In the lecture 10 MLP that is one wasted
 *    [256,256]x[256,784] product per step, plus five reshapes. The separate ops' registered gradients are computed
 *    lazily, only for inputs that lead to a trained variable, like PyTorch's autograd. Inference (no gradient
 *    recorded) keeps the fused kernel.
 *    `tf.fused.conv2d` (what `tf.layers.conv2d` calls) likewise: stock, LeNet's first convolution computes the
 *    gradient of the input images every step, the most expensive kernel of the step (Conv2DBackpropInput at full
 *    28x28 resolution).
 * 2. ReLU's gradient on native TensorFlow: TF's own `ReluGrad` op (one kernel) instead of tfjs'
 *    `dy * cast(step(x))`, which tfjs-node runs as six kernels (IsNan, Greater, Fill, Select, Cast, Mul). Like
 *    PyTorch's `threshold_backward`, a NaN input gets gradient 0 (tfjs' step gives NaN).
 *    Sigmoid's gradient likewise: TF's `SigmoidGrad` (one kernel) instead of `dy · y · (1 − y)` (three, plus a
 *    scalar upload), over LeNet's largest activations.
 * 3. Reshape on native TensorFlow: tfjs-node uploads the target shape as a new tensor for every reshape; here
 *    the shape tensors are created once per distinct shape and kept by the binding (a few bytes each, never seen
 *    by `tf.memory()`). The backward passes of the lectures' models do 8-20 reshapes per step.
 * 4. No-op kernels that copied: Cast to the same dtype (native TensorFlow and wasm), Reshape to the same shape
 *    (native TensorFlow) and Identity (wasm) return the input's own buffer with one more reference, as tfjs-node's
 *    Identity and every backend's Reshape already do; no kernel writes into its inputs, and the buffer is freed with
 *    its last tensor. tfjs' gradients and losses cast labels and masks that already have the right dtype (6-10 such
 *    casts per step in the lectures' models), and its engine clones every tensor a gradient saves, which on wasm
 *    copied every saved activation (16 copies per MLP step, 35 per LeNet step).
 * 5. On native TensorFlow, two LeNet gradients TF computes slowly: AvgPoolGrad for windows that tile the input
 *    (one BroadcastTo of dy / window size instead) and the bias gradient, a Sum over every axis but the last (TF's
 *    own BiasAddGrad kernel instead). The wasm backend gets the same two fixes in ./wasm-kernels.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { reducesLeadingAxes, windowsTileInput } from './shape-cases';
import { stringAttr, typeAttr, type NodeBackend, type OpAttr } from './tfjs-node';

type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];
type FusedConv2DArgs = Parameters<typeof tf.fused.conv2d>[0];

const INSTALLED = Symbol.for('d2l-ts.fast-ops');

/** Whether a gradient tape is recording (inside tf.grad, variableGrads, optimizer.minimize). */
const recordingGradients = () => (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
const g = globalThis as unknown as Record<symbol, boolean | undefined>;

/**
 * Installs the fixes above (idempotent, also across two copies of this module). `D2L_FAST_OPS=0` leaves tfjs
 * stock, for comparisons (`D2L_FAST_OPS=0 npm run bench`).
 */
export function installFastOps(): void {
  if (g[INSTALLED] || process.env.D2L_FAST_OPS === '0') return;
  g[INSTALLED] = true;
  lazyFusedMatMulGradients();
  lazyFusedConv2DGradients();
  reluGradOnTensorflow();
  sigmoidGradOnTensorflow();
  cachedReshapeShapes();
  tiledAvgPoolGradOnTensorflow();
  biasGradSumOnTensorflow();
  sameDtypeCastShares();
  identitySharesOnWasm();
}

/** Re-registers `name` on `backend` (when registered there) with `kernelFunc` wrapping the stock one. */
function wrapKernel(name: string, backend: string, wrap: (stock: tf.KernelFunc) => tf.KernelFunc): void {
  const stock = tf.getKernel(name, backend);
  if (!stock) return; // that backend's package is not loaded
  tf.unregisterKernel(name, backend);
  tf.registerKernel({ ...stock, kernelFunc: wrap(stock.kernelFunc) });
}

function sameDtypeCastShares(): void {
  for (const backend of ['tensorflow', 'wasm']) {
    wrapKernel('Cast', backend, (stock) => (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      return (args.attrs as { dtype: tf.DataType }).dtype === x.dtype ? shareBuffer(args.backend, x) : stock(args);
    });
  }
}

function identitySharesOnWasm(): void {
  wrapKernel('Identity', 'wasm', (stock) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return x.dtype === 'string' ? stock(args) : shareBuffer(args.backend, x);
  });
}

/** The output of a no-op kernel: `x`'s own buffer, one more reference to it (tfjs-node and wasm both count them). */
function shareBuffer(backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  (backend as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function lazyFusedMatMulGradients(): void {
  const fused = tf.fused as { matMul: (args: FusedMatMulArgs) => tf.Tensor };
  const stock = fused.matMul;
  fused.matMul = function fusedMatMul(args: FusedMatMulArgs): tf.Tensor {
    if (!recordingGradients()) return stock(args);
    const { a, b, transposeA = false, transposeB = false, bias, activation = 'linear', preluActivationWeights,
      leakyreluAlpha } = args;
    let y = tf.matMul(a, b, transposeA, transposeB);
    if (bias != null) y = tf.add(y, bias);
    return tf.backend_util.applyActivation(y, activation, preluActivationWeights as tf.Tensor, leakyreluAlpha);
  };
}

function lazyFusedConv2DGradients(): void {
  const fused = tf.fused as { conv2d: (args: FusedConv2DArgs) => tf.Tensor };
  const stock = fused.conv2d;
  fused.conv2d = function fusedConv2d(args: FusedConv2DArgs): tf.Tensor {
    // NCHW bias needs the stock op's own handling
    if (!recordingGradients() || (args.dataFormat ?? 'NHWC') !== 'NHWC') return stock(args);
    const { x, filter, strides, pad, dataFormat, dilations = [1, 1], dimRoundingMode, bias,
      activation = 'linear', preluActivationWeights, leakyreluAlpha } = args;
    let y = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, strides, pad, dataFormat, dilations, dimRoundingMode);
    if (bias != null) y = tf.add(y, bias);
    return tf.backend_util.applyActivation(y, activation || 'linear', preluActivationWeights as tf.Tensor, leakyreluAlpha);
  };
}

function nodeBackend(backend: unknown): NodeBackend {
  return backend as NodeBackend;
}

/**
 * On native TF, makes the gradient of tfjs kernel `forward` the single TF op `tfOp` (also registered as a kernel of
 * that name). `inputs` maps the gradient's (dy, saved) to the op's inputs, in the op's order. Other backends, and
 * dtypes other than float32, keep tfjs' gradient.
 */
function gradientAsTfOp(forward: string, tfOp: string,
  inputs: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, tf.Tensor>): void {
  tf.registerKernel({
    kernelName: tfOp,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs: named, backend }) => {
      const b = nodeBackend(backend);
      const ids = b.getInputTensorIds(Object.values(named) as tf.TensorInfo[]);
      return b.createOutputTensor(b.binding.executeOp(tfOp, [typeAttr(b, 'T', 'float32')], ids, 1)[0]);
    },
  });
  const config = tf.getGradient(forward);
  if (!config) return;
  const stock = config.gradFunc;
  // Mutated in place: tf.registerGradient would print an "overriding" warning into the learner's cell.
  (config as { gradFunc: typeof stock }).gradFunc = (dy, saved, attrs) => {
    const d = dy as tf.Tensor;
    if (tf.getBackend() !== 'tensorflow' || saved[0].dtype !== 'float32' || d.dtype !== 'float32') return stock(dy, saved, attrs);
    return { x: () => tf.engine().runKernel(tfOp, inputs(d, saved), {}) as tf.Tensor };
  };
}

function reluGradOnTensorflow(): void {
  gradientAsTfOp('Relu', 'ReluGrad', (dy, [x]) => ({ dy, x })); // ReluGrad(gradients, features); saved: the input
}

function sigmoidGradOnTensorflow(): void {
  gradientAsTfOp('Sigmoid', 'SigmoidGrad', (dy, [y]) => ({ y, dy })); // SigmoidGrad(y, dy); saved: the output
}

/**
 * Constant tensors on native TF (reshape and broadcast shapes, divisors), created once per value and kept by the
 * binding for the life of the process, like TF's own kernel cache (a few bytes each, never seen by `tf.memory()`).
 * Bounded by the distinct values used; past 4096 the caller falls back to the stock kernel (undefined).
 */
const constIds = new Map<string, number>();
function constTensor(b: NodeBackend, dtype: 'int32' | 'float32', values: number[]): number | undefined {
  const key = `${dtype}:${values.join(',')}`;
  let id = constIds.get(key);
  if (id === undefined) {
    if (constIds.size >= 4096) return undefined;
    const bd = b.binding;
    id = dtype === 'int32'
      ? bd.createTensor([values.length], bd.TF_INT32, Int32Array.from(values))
      : bd.createTensor([], bd.TF_FLOAT, Float32Array.from(values));
    constIds.set(key, id);
  }
  return id;
}

function cachedReshapeShapes(): void {
  wrapKernel('Reshape', 'tensorflow', (stock) => (args) => {
    const b = nodeBackend(args.backend);
    const { x } = args.inputs as { x: tf.TensorInfo };
    const shape = (args.attrs as { shape: number[] }).shape;
    if (tf.util.arraysEqual(shape, x.shape)) return shareBuffer(b, x);
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return stock(args);
    const shapeId = constTensor(b, 'int32', shape);
    if (shapeId === undefined) return stock(args);
    const [xId] = b.getInputTensorIds([x]);
    const attrs = [typeAttr(b, 'T', x.dtype), typeAttr(b, 'Tshape', 'int32')];
    return b.createOutputTensor(b.binding.executeOp('Reshape', attrs, [xId, shapeId], 1)[0]);
  });
}

/**
 * AvgPoolGrad on native TF when the windows tile the input (window = stride, no padding, nothing left over: LeNet's
 * 2x2/2 pools). TF's kernel loops window by window (LeNet's first pool: 1.9 ms per step); here dx is dy divided by
 * the window size and repeated over each window with one BroadcastTo (two reshapes, both free). Same division, same
 * values.
 */
function tiledAvgPoolGradOnTensorflow(): void {
  wrapKernel('AvgPoolGrad', 'tensorflow', (stock) => (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const { filterSize, strides, pad } = args.attrs as unknown as tf.AvgPoolGradAttrs;
    if (dy.dtype !== 'float32' || input.shape.length !== 4) return stock(args);
    const ci = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad);
    if (!windowsTileInput(ci)) return stock(args);
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
    const { strideHeight: SH, strideWidth: SW, filterHeight: FH, filterWidth: FW } = ci;
    const b = nodeBackend(args.backend);
    const consts = [constTensor(b, 'float32', [FH * FW]), constTensor(b, 'int32', [B, OH, 1, OW, 1, C]),
      constTensor(b, 'int32', [B, OH, SH, OW, SW, C]), constTensor(b, 'int32', [B, H, W, C])];
    if (consts.includes(undefined)) return stock(args);
    const [count, spread, tiled, out] = consts as number[];
    const T = typeAttr(b, 'T', 'float32'), Tshape = typeAttr(b, 'Tshape', 'int32'), Tidx = typeAttr(b, 'Tidx', 'int32');
    const bd = b.binding;
    const temps: number[] = [];
    const run = (op: string, attrs: OpAttr[], inputs: number[]) => {
      const id = bd.executeOp(op, attrs, inputs, 1)[0].id;
      temps.push(id);
      return id;
    };
    try {
      const scaled = run('RealDiv', [T], [b.getInputTensorIds([dy])[0], count]);
      const repeated = run('BroadcastTo', [T, Tidx], [run('Reshape', [T, Tshape], [scaled, spread]), tiled]);
      return b.createOutputTensor(bd.executeOp('Reshape', [T, Tshape], [repeated, out], 1)[0]);
    } finally {
      for (const id of temps) bd.deleteTensor(id);
    }
  });
}

/**
 * Sum over every axis but the last on native TF (what every bias gradient computes) as TF's `BiasAddGrad`, the
 * kernel TF itself uses for bias gradients: LeNet's first conv, 1.1 → 0.77 ms per step. Float32 sums, so values
 * agree with `Sum` to float32 rounding.
 */
function biasGradSumOnTensorflow(): void {
  wrapKernel('Sum', 'tensorflow', (stock) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    if (x.dtype !== 'float32' || keepDims || tf.util.sizeFromShape(x.shape) === 0 || !reducesLeadingAxes(axis, x.shape)) {
      return stock(args);
    }
    const b = nodeBackend(args.backend);
    const attrs = [typeAttr(b, 'T', 'float32'), stringAttr(b, 'data_format', 'NHWC')];
    return b.createOutputTensor(b.binding.executeOp('BiasAddGrad', attrs, b.getInputTensorIds([x]), 1)[0]);
  });
}
