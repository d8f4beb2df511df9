/**
 * d2l-ts: the helper library of the lecture notebooks (`import * as d2l from 'd2l-ts'`), the TypeScript
 * counterpart of d2l's `d2l/torch.py`. Helpers are added lecture by lecture; each says where it comes from.
 *
 * Importing it starts backend selection (tensorflow-gpu → tensorflow → wasm → cpu, or `D2L_BACKEND`).
 * Notebooks `await d2l.initBackend()` before their first tensor op: it prints one line naming the backend
 * and why others were skipped.
 */
export * from './engine/backend';
import { installTensorInspect } from './display/inspect';
installTensorInspect();
export { registerWasmKernels, WASM_KERNELS } from './engine/wasm-kernels';
export { seed, currentSeed, nextSeed, random, createRng, permutation, DEFAULT_SEED } from './random';
export * from './check';
export * from './data';
export * from './datasets/fashion-mnist';
export { Timer, Accumulator } from './utils';
export { linreg, squaredLoss, sgd, type Grads } from './linear';
export { softmax, crossEntropy, softmaxCrossEntropy, accuracy, evaluateAccuracy, evaluateLoss, predictCh3,
  type Net, type NetFn, type Loss, type Prediction } from './classify';
export { trainEpochCh3, trainCh3, type Updater, type ScratchUpdater, type TrainOptions, type EpochMetrics,
  type TrainResult } from './train';
export { corr2d, evaluateAccuracyGpu, trainCh6, xavierInit } from './conv';
export { plot, setFigsize, Figure, type PlotOptions } from './display/plot';
export { Animator, type AnimatorOptions } from './display/animator';
export { showImages } from './display/images';
export { setPlotlyInline, type Scale } from './display/plot';
export { ImageGrid, type ShowImagesOptions } from './display/images';
