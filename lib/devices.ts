/**
 * Lecture 17 (use-gpu): d2l's device helpers `try_gpu`, `try_all_gpus` and `num_gpus`; LeNet (lecture 23) uses
 * them. tfjs has no per-tensor device: the whole process computes on the backend `initBackend()` chose, so
 * these report that backend's GPUs, as device strings in TensorFlow's spelling (`'/GPU:0'`, `'/CPU:0'`): CUDA
 * devices under `tensorflow-gpu`, one GPU under `webgpu` on a hardware adapter (tfjs drives a single WebGPU device),
 * none on a CPU backend or on a software adapter such as SwiftShader.
 *
 * Where PyTorch moves a tensor with `x.to(device)`, tfjs switches the backend of the whole process
 * (`tf.setBackend`): {@link onBackend} runs a computation on another backend and comes back, and
 * {@link backendOf} says where a tensor's data lives (PyTorch's `x.device`).
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { argError } from './args';
import { BACKEND_NAMES, gpuCount, switchBackend } from './engine/backend';

/** Number of GPUs the active backend computes on (d2l's `num_gpus`); 0 on a CPU backend. */
export function numGpus(): number {
  return gpuCount();
}

/** Device string of GPU `i` if it exists, else the CPU (d2l's `try_gpu`): `'/GPU:0'` or `'/CPU:0'`. */
export function tryGpu(i = 0): string {
  return i < numGpus() ? `/GPU:${i}` : '/CPU:0';
}

/** All GPU device strings, or `['/CPU:0']` when there is none (d2l's `try_all_gpus`). */
export function tryAllGpus(): string[] {
  const n = numGpus();
  return n > 0 ? Array.from({ length: n }, (_, i) => `/GPU:${i}`) : ['/CPU:0'];
}

/**
 * The backend a tensor's data lives on now (lecture 17; PyTorch's `x.device`): `'tensorflow'`, `'wasm'`, `'cpu'`
 * or `'webgpu'`. tfjs moves data by itself: an op on another backend first copies its inputs there (and frees
 * them here), so the answer changes when the tensor is used on another backend.
 */
export function backendOf(x: tf.Tensor): string {
  if (!(x instanceof tf.Tensor)) throw argError('backendOf', 'a tf.Tensor', x);
  if (x.isDisposed) throw argError('backendOf', 'a live tensor', 'a disposed tensor');
  const engine = tf.engine();
  const where = engine.state.tensorInfo.get(x.dataId)?.backend;
  const name = Object.keys(engine.registry).find((n) => engine.registry[n] === where);
  if (!name) throw new Error('backendOf: the tensor\'s backend is not registered with tfjs');
  return name;
}

/** A tensor read back to the host: what {@link onBackend} returns for each tensor its function returned. */
export interface HostTensor {
  shape: number[];
  dtype: tf.DataType;
  values: Float32Array | Int32Array | Uint8Array;
}
/** What {@link onBackend} returns for `T`: tensors become {@link HostTensor}s, numbers and strings stay. */
export type OnHost<T> = T extends tf.Tensor ? HostTensor
  : { [K in keyof T]: T[K] extends tf.Tensor ? HostTensor : T[K] };

/**
 * Runs `fn` with `name` as the active backend and returns its result read back to the host, then makes the
 * previous backend active again (lecture 17; the tfjs way of PyTorch's `with torch.device(...)` / `.to(device)`).
 * `fn` returns a tensor, or an object of tensors and plain values (e.g. `{ C, ms }`); each tensor comes back as
 * `{ shape, dtype, values }`. Every tensor `fn` creates is freed (async code cannot use `tf.tidy`, so this opens an
 * engine scope around it). Tensors made on another backend that `fn` uses are moved to `name` by tfjs and stay
 * there until they are used elsewhere ({@link backendOf}).
 * @param name `'webgpu'`, `'tensorflow'`, `'wasm'` or `'cpu'`; loaded on first use (webgpu: a hardware adapter)
 * @throws Error naming the valid choices for an unknown name, or why the backend cannot be used here.
 */
export async function onBackend<T extends tf.Tensor | Record<string, tf.Tensor | number | string>>(
  name: string, fn: () => T | Promise<T>): Promise<OnHost<T>> {
  if (typeof name !== 'string' || !BACKEND_NAMES.includes(name)) {
    throw argError('onBackend', `a backend name (${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')})`, name);
  }
  if (typeof fn !== 'function') throw argError('onBackend', 'a function to run', fn);
  const before = tf.getBackend();
  try {
    await switchBackend(name);
  } catch (err) {
    if (before && tf.getBackend() !== before) await tf.setBackend(before);
    throw new Error(`onBackend: ${err instanceof Error ? err.message : String(err)}`);
  }
  tf.engine().startScope();
  try {
    const result = await fn();
    const read = async (t: tf.Tensor): Promise<HostTensor> =>
      ({ shape: t.shape.slice(), dtype: t.dtype, values: (await t.data()) as HostTensor['values'] });
    if (result instanceof tf.Tensor) return (await read(result)) as OnHost<T>;
    if (result === null || typeof result !== 'object') {
      throw argError('onBackend', 'fn to return a tensor or an object of tensors and values', result);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(result)) out[k] = v instanceof tf.Tensor ? await read(v) : v;
    return out as OnHost<T>;
  } finally {
    tf.engine().endScope();
    if (before && tf.getBackend() !== before) await tf.setBackend(before);
  }
}
