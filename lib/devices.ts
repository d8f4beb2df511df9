/**
 * Lecture 17 (use-gpu): d2l's device helpers `try_gpu`, `try_all_gpus` and `num_gpus`; LeNet (lecture 23) uses
 * them. tfjs has no per-tensor device: the whole process computes on the backend `initBackend()` chose, so
 * these report that backend's GPUs, as device strings in TensorFlow's spelling (`'/GPU:0'`, `'/CPU:0'`): CUDA
 * devices under `tensorflow-gpu`, one GPU under `webgpu` on a hardware adapter (tfjs drives a single WebGPU device),
 * none on a CPU backend or on a software adapter such as SwiftShader.
 * @module
 */
import { gpuCount } from './engine/backend';

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
