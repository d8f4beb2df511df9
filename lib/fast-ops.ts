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
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { typeAttr, type NodeBackend } from './tfjs-node';

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

function cachedReshapeShapes(): void {
  const shapeIds = new Map<string, number>();
  wrapKernel('Reshape', 'tensorflow', (stock) => (args) => {
    const b = nodeBackend(args.backend);
    const { x } = args.inputs as { x: tf.TensorInfo };
    const shape = (args.attrs as { shape: number[] }).shape;
    if (tf.util.arraysEqual(shape, x.shape)) return shareBuffer(b, x);
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return stock(args);
    const key = shape.join(',');
    let shapeId = shapeIds.get(key);
    if (shapeId === undefined) {
      // kept for the life of the process, like the kernel cache of TF itself; bounded by the distinct shapes used
      if (shapeIds.size >= 4096) return stock(args);
      shapeId = b.binding.createTensor([shape.length], b.binding.TF_INT32, Int32Array.from(shape));
      shapeIds.set(key, shapeId);
    }
    const [xId] = b.getInputTensorIds([x]);
    const attrs = [typeAttr(b, 'T', x.dtype), typeAttr(b, 'Tshape', 'int32')];
    return b.createOutputTensor(b.binding.executeOp('Reshape', attrs, [xId, shapeId], 1)[0]);
  });
}
