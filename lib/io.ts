/**
 * Lecture 16 (`read-write.md`, 读写文件): saving and loading tensors and models, the book's `torch.save` /
 * `torch.load` and `state_dict` round trip, on every backend.
 *
 * tfjs saves a model through an IO handler. `model.save('file://dir')` is the native shortcut, but the
 * `file://` handler is registered by tfjs-node only, so it is missing on the wasm, cpu and webgpu backends.
 * These helpers write the same two files as that handler — `model.json` (architecture + weights manifest) and
 * `weights.bin` (the raw float32/int32/bool data) — with `tf.io.withSaveHandler` and Node's `fs`, and read them
 * back with `tf.io.fromMemory`, so they work wherever tfjs runs in Node. A directory written by
 * {@link saveModel} also loads with `tf.loadLayersModel('file://dir/model.json')` on tfjs-node.
 *
 * Tensors ({@link saveTensors}) use the same weights-manifest format in `tensors.json`, plus which container
 * was saved (one tensor, a list, or a name → tensor record), so {@link loadTensors} returns what was saved.
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, argError, describe } from './args';

/** What {@link saveTensors} accepts and {@link loadTensors} returns: torch.save's tensor, list or dict. */
export type SavedTensors = tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;

const WEIGHTS_FILE = 'weights.bin';
const TENSORS_JSON = 'tensors.json';
const MODEL_JSON = 'model.json';
const TENSORS_FORMAT = 'd2l-ts-tensors';
const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
type Kind = 'tensor' | 'list' | 'dict';

function checkDir(fn: string, dir: unknown): asserts dir is string {
  if (typeof dir !== 'string' || dir === '') throw argError(fn, 'dir to be a directory path (a non-empty string)', dir);
}

function checkSavable(fn: string, name: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw argError(fn, `${name} to be a tf.Tensor`, t);
  if (t.isDisposed) throw new ArgumentError(`${fn}: expected ${name} to be a live tensor, got a disposed tensor`);
  if (!(t.dtype in BYTES)) throw new ArgumentError(`${fn}: expected ${name} of dtype float32, int32 or bool, got ${t.dtype}`);
}

/** The tensors of a {@link SavedTensors} under the names the manifest uses, and which container it was. */
function flatten(fn: string, tensors: unknown): { kind: Kind; named: tf.NamedTensorMap } {
  if (tensors instanceof tf.Tensor) {
    checkSavable(fn, 'tensors', tensors);
    return { kind: 'tensor', named: { tensor: tensors } };
  }
  if (Array.isArray(tensors)) {
    tensors.forEach((t, i) => checkSavable(fn, `tensors[${i}]`, t));
    return { kind: 'list', named: Object.fromEntries(tensors.map((t, i) => [String(i), t])) };
  }
  if (tensors !== null && typeof tensors === 'object' && Object.getPrototypeOf(tensors) === Object.prototype) {
    for (const [k, t] of Object.entries(tensors)) checkSavable(fn, `tensors.${k}`, t);
    return { kind: 'dict', named: { ...(tensors as tf.NamedTensorMap) } };
  }
  throw argError(fn, 'a tf.Tensor, an array of tensors or a { name: tensor } object', tensors);
}

/** One ArrayBuffer of the weight data tfjs hands a save handler (a list of buffers for very large models). */
function joinWeights(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return tf.io.CompositeArrayBuffer.join(data);
}

function writeWeights(dir: string, data: ArrayBuffer): void {
  fs.writeFileSync(path.join(dir, WEIGHTS_FILE), new Uint8Array(data));
}

/** Reads and parses `dir/name`, naming the file and what to do when it is missing or not JSON. */
function readJson(fn: string, dir: string, name: string, writer: string): Record<string, any> {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new ArgumentError(`${fn}: expected dir to be a directory, got the file ${dir} (pass its directory, ${path.dirname(dir)})`);
  }
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`${fn}: no ${name} in ${dir} (write it with ${writer})`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${fn}: ${file} is not valid JSON (${(e as Error).message}); the file is corrupt`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${fn}: ${file} is corrupt: expected a JSON object, got ${describe(json)}`);
  return json as Record<string, any>;
}

/** The weight specs of a manifest with one group stored in `weights.bin`, checked field by field. */
function manifestSpecs(fn: string, file: string, manifest: unknown): tf.io.WeightsManifestEntry[] {
  const group = Array.isArray(manifest) && manifest.length === 1 ? manifest[0] : undefined;
  if (!group || !Array.isArray(group.paths) || group.paths.length !== 1 || group.paths[0] !== WEIGHTS_FILE || !Array.isArray(group.weights)) {
    throw new Error(`${fn}: ${file} is corrupt: expected weightsManifest [{ paths: ["${WEIGHTS_FILE}"], weights: [...] }]`);
  }
  for (const w of group.weights) {
    const ok = w && typeof w.name === 'string' && w.dtype in BYTES && Array.isArray(w.shape) && w.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0);
    if (!ok) throw new Error(`${fn}: ${file} is corrupt: bad weight entry ${JSON.stringify(w)}`);
  }
  return group.weights;
}

/** `dir/weights.bin`, checked to hold exactly the bytes the specs describe (a truncated file fails here). */
function readWeights(fn: string, dir: string, specs: tf.io.WeightsManifestEntry[]): ArrayBuffer {
  const file = path.join(dir, WEIGHTS_FILE);
  if (!fs.existsSync(file)) throw new Error(`${fn}: no ${WEIGHTS_FILE} in ${dir}`);
  const buf = fs.readFileSync(file);
  const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * BYTES[w.dtype], 0);
  if (buf.byteLength !== expected) {
    throw new Error(`${fn}: ${file} is corrupt: expected ${expected} bytes for the ${specs.length} tensor${specs.length === 1 ? '' : 's'} of the manifest, got ${buf.byteLength}`);
  }
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * Lecture 16 (`read-write.md`, `torch.save(x, 'x-file')`): writes a tensor, a list of tensors or a
 * `{ name: tensor }` record to `dir/tensors.json` + `dir/weights.bin`, creating `dir`. Reads the values from
 * the backend (one download per tensor); the tensors stay alive.
 * @param tensors float32, int32 or bool tensors — e.g. `model.getWeights()`, PyTorch's `state_dict()`
 * @param dir a directory, created when missing; earlier files of the same name are replaced
 * @example await d2l.saveTensors([x, y], path.join(os.tmpdir(), 'x-files'))
 */
export async function saveTensors(tensors: SavedTensors, dir: string): Promise<void> {
  const fn = 'saveTensors';
  const { kind, named } = flatten(fn, tensors);
  checkDir(fn, dir);
  const { data, specs } = await tf.io.encodeWeights(named);
  fs.mkdirSync(dir, { recursive: true });
  writeWeights(dir, data);
  const json = { format: TENSORS_FORMAT, kind, weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }] };
  fs.writeFileSync(path.join(dir, TENSORS_JSON), JSON.stringify(json, null, 1) + '\n');
}

/**
 * Lecture 16 (`read-write.md`, `torch.load('x-file')`): reads what {@link saveTensors} wrote to `dir`, as
 * the same container (one tensor, a list in order, or a record with the same names). The caller owns the new
 * tensors. A missing or corrupt file is an error naming the file.
 * @typeParam T what was saved, for the caller's types: `loadTensors<tf.Tensor[]>(dir)`
 * @example const [x2, y2] = await d2l.loadTensors<tf.Tensor[]>(dir)
 */
export async function loadTensors<T extends SavedTensors = SavedTensors>(dir: string): Promise<T> {
  const fn = 'loadTensors';
  checkDir(fn, dir);
  const json = readJson(fn, dir, TENSORS_JSON, 'd2l.saveTensors');
  const file = path.join(dir, TENSORS_JSON);
  if (json.format !== TENSORS_FORMAT || !['tensor', 'list', 'dict'].includes(json.kind)) {
    throw new Error(`${fn}: ${file} is not a d2l.saveTensors file (expected format "${TENSORS_FORMAT}" and kind tensor, list or dict)`);
  }
  const specs = manifestSpecs(fn, file, json.weightsManifest);
  const kind = json.kind as Kind;
  if (kind === 'tensor' && (specs.length !== 1 || specs[0].name !== 'tensor')) throw new Error(`${fn}: ${file} is corrupt: kind "tensor" with ${specs.length} entries`);
  if (kind === 'list' && specs.some((w, i) => w.name !== String(i))) throw new Error(`${fn}: ${file} is corrupt: list entries must be named 0, 1, 2, …`);
  const named = tf.io.decodeWeights(readWeights(fn, dir, specs), specs);
  if (kind === 'tensor') return named.tensor as T;
  if (kind === 'list') return specs.map((w) => named[w.name]) as T;
  return named as T;
}

/**
 * Lecture 16 (`read-write.md`, saving a whole model): writes `model`'s architecture and weights to
 * `dir/model.json` + `dir/weights.bin` (the layout of tfjs-node's `model.save('file://dir')`), on any
 * backend. A model with custom layers needs them registered (`tf.serialization.registerClass`) to be loaded.
 * @example await d2l.saveModel(net, path.join(os.tmpdir(), 'mlp'))
 */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  const fn = 'saveModel';
  if (!(model instanceof tf.LayersModel)) throw argError(fn, 'model to be a tf.LayersModel (tf.sequential or tf.model)', model);
  checkDir(fn, dir);
  return model.save(tf.io.withSaveHandler(async (artifacts) => {
    fs.mkdirSync(dir, { recursive: true });
    const data = joinWeights(artifacts.weightData);
    writeWeights(dir, data);
    const json: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
    fs.writeFileSync(path.join(dir, MODEL_JSON), JSON.stringify(json));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
}

/**
 * Lecture 16 (`read-write.md`): loads a model written by {@link saveModel} (or by tfjs-node's `file://`
 * handler) from `dir`, on any backend. Custom layer classes must be registered before
 * (`tf.serialization.registerClass`); a missing or corrupt file is an error naming the file.
 * @example const clone = await d2l.loadModel(dir); clone.predict(X)
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const fn = 'loadModel';
  checkDir(fn, dir);
  const json = readJson(fn, dir, MODEL_JSON, 'd2l.saveModel');
  const file = path.join(dir, MODEL_JSON);
  if (json.modelTopology === null || typeof json.modelTopology !== 'object') {
    throw new Error(`${fn}: ${file} is corrupt: it has no modelTopology (a d2l.saveTensors directory holds tensors.json, not a model)`);
  }
  const specs = manifestSpecs(fn, file, json.weightsManifest);
  const weightData = readWeights(fn, dir, specs);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology, weightSpecs: specs, weightData, trainingConfig: json.trainingConfig,
    }));
  } catch (e) {
    // tfjs's own message says what is wrong (e.g. "Unknown layer: CenteredLayer … registerClass"); add the file.
    throw new Error(`${fn}: cannot build the model of ${file}: ${(e as Error).message}`, { cause: e });
  }
}
