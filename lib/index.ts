/**
 * d2l-ts: the helper library of the lecture notebooks (`import * as d2l from 'd2l-ts'`), the TypeScript
 * counterpart of d2l's `d2l/torch.py`. Helpers are added lecture by lecture; each says where it comes from.
 *
 * Importing it starts backend selection (tensorflow-gpu → tensorflow → wasm → cpu, or `D2L_BACKEND`).
 * Notebooks `await d2l.initBackend()` before their first tensor op: it prints one line naming the backend
 * and why others were skipped.
 */
export * from './backend';
export { registerWasmKernels, WASM_KERNELS } from './wasm-kernels';
export { seed, currentSeed, nextSeed, random, createRng, permutation, DEFAULT_SEED } from './random';
export * from './check';
export * from './data';
export * from './fashion-mnist';
