/**
 * d2l-ts: the helper library of the lecture notebooks (`import * as d2l from 'd2l-ts'`), the TypeScript
 * counterpart of d2l's `d2l/torch.py`. Helpers are listed below in the order the lectures introduce them;
 * each helper's doc comment names its lecture.
 *
 * Importing this module computes nothing and picks no backend: notebooks `await d2l.initBackend()` before
 * their first tensor op, which chooses the backend (tensorflow-gpu → tensorflow → wasm → cpu, or
 * `D2L_BACKEND`) and prints one line naming it and why others were skipped. Importing does teach tfjs tensors
 * to print like PyTorch (`console.log(X)`).
 *
 * Only what a learner calls is exported here; the machinery that makes training fast lives in ./engine and is
 * never needed to follow a lecture.
 */
import { installTensorInspect } from './display/inspect';

installTensorInspect();

// Setup (every lecture): the backend, seeding, checked numbers.
export { initBackend, backendInfo, type BackendInfo } from './engine/backend';
export { seed, currentSeed, nextSeed, random, permutation, DEFAULT_SEED } from './random';
export { check, numEpochs, runSchedule, type CheckOptions } from './check';
export { ArgumentError } from './args';

// Lecture 08: linear regression from scratch and concise.
export { Timer, Accumulator } from './utils';
export { syntheticData, loadArray, type Batch, type DataIter, type ArrayData } from './data';
export { linreg, squaredLoss, sgd, type Grads } from './linear';

// Lecture 09: softmax regression, the Fashion-MNIST data set, the first trainer.
export {
  getFashionMnistLabels, loadDataFashionMnist, loadFashionMnistArrays, FASHION_MNIST_LABELS,
  type FashionMnistOptions, type LoadDataFashionMnistOptions, type FashionMnistArrays, type DroppedRow,
} from './datasets/fashion-mnist';
export { DATA_HUB, download, type DownloadOptions } from './datasets/hub';
export {
  softmax, crossEntropy, softmaxCrossEntropy, accuracy, evaluateAccuracy, evaluateLoss, predictCh3,
  type Net, type NetFn, type Loss, type Prediction,
} from './classify';
export {
  trainEpochCh3, trainCh3,
  type Updater, type ScratchUpdater, type TrainOptions, type EpochMetrics, type TrainResult,
} from './train';

// Speed (any lecture with its own training loop): one TensorFlow call per step on the native backend.
export { compileStep, type CompiledStep } from './engine/compile';

// Plots, live training curves and image grids (lecture 09 on).
export { plot, setFigsize, setPlotlyInline, Figure, type PlotOptions, type Scale } from './display/plot';
export { Animator, type AnimatorOptions } from './display/animator';
export { showImages, ImageGrid, type ShowImagesOptions } from './display/images';

// Interactive controls (Jupyter widgets) and interact (lectures 11 and 20).
export {
  interact, interactive, Widget, IntSlider, FloatSlider, Dropdown, Checkbox, Text, Button, Output, Box, HBox, VBox, Layout,
  type ControlSpec, type ControlValue, type ControlValues, type Interactive, type SliderOptions,
} from './display/widgets';

// Lecture 16 (read-write): saving and loading tensors and models, on every backend.
export { saveTensors, loadTensors, saveModel, loadModel, type SavedTensors } from './io';

// Lecture 17 (use-gpu): devices.
export { numGpus, tryGpu, tryAllGpus, backendOf, onBackend, type HostTensor, type OnHost } from './devices';

// Lectures 19–23: convolutions and LeNet.
export { corr2d, evaluateAccuracyGpu, xavierInit, trainCh6 } from './conv';
