/**
 * Picking the TensorFlow.js backend d2l-ts computes on (the device helpers learners call, `tryGpu` and
 * `numGpus`, are in lib/devices.ts and read what was chosen here).
 *
 * Order of preference (first one that loads wins):
 *  1. `tensorflow-gpu` — `@tensorflow/tfjs-node-gpu`, native TensorFlow with CUDA;
 *  2. `tensorflow`     — `@tensorflow/tfjs-node`, native TensorFlow on the CPU (built by
 *                        `npm run setup:native`; 5-8x faster than wasm);
 *  3. `wasm`           — `@tensorflow/tfjs-backend-wasm` plus d2l-ts's kernel fixes (./wasm-kernels), on all
 *                        cores (./wasm-threads; `D2L_WASM_THREADS=n` to change);
 *  4. `cpu`            — plain JavaScript, last resort (LeNet: ~48 min per epoch).
 * "Cores" for the CPU backends means the CPUs the process may really use (./cpu-quota): the affinity mask capped by
 * the container's cgroup CPU quota (a Kubernetes/JupyterHub CPU limit), rounded up, never fewer than one.
 * `webgpu` (./webgpu: tfjs's WebGPU kernels on Dawn, any GPU through Vulkan/Metal/D3D12, from npm alone) is not in
 * the automatic order yet: small nets can be slower on a GPU than on native CPU TensorFlow (tensorflow/tfjs#8509),
 * and it goes ahead of `tensorflow` only once `npm run check:gpu` figures on real GPUs show it faster on the
 * lectures' models. Until then, when the OS shows a GPU, the backend line says how to use it.
 * `D2L_BACKEND=webgpu|gpu|tensorflow-gpu|tensorflow|wasm|cpu` forces one and fails loudly if it cannot load
 * (unset, empty or `auto`: the first that loads). `webgpu` takes whatever adapter Dawn offers, a software one
 * (SwiftShader, llvmpipe) included — that is how the tests run without a GPU. `gpu` means "a real GPU, whichever
 * way": `webgpu` on a hardware adapter, else `tensorflow-gpu` (CUDA); it never falls back to a CPU. (Before the
 * WebGPU backend, `gpu` was an alias of `tensorflow-gpu`.)
 *
 * Everything stays on ONE tfjs-core instance: the native packages `require('@tensorflow/tfjs')`
 * themselves and register backend 'tensorflow' into it, so `require('@tensorflow/tfjs')` anywhere in
 * the process (notebook cells included) computes on the backend chosen here.
 *
 * @module
 */
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { cpuLimit, describeQuota, type CpuLimit } from './cpu-quota';
import { installFastOps } from './fast-ops';
import { registerWasmKernels } from './wasm-kernels';
import { useThreadedWasm, wasmThreads } from './wasm-threads';
import { currentSeed } from '../random';
import { gpusOnThisMachine, nvidiaGpuNames, startWebGpu, WebGpuUnavailable, type WebGpuAdapter } from './webgpu';

/** A backend d2l-ts can run on, in order of preference. */
export type BackendChoice = 'webgpu' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Values accepted in `D2L_BACKEND` (`gpu`: `webgpu` on a hardware adapter, else `tensorflow-gpu`). */
export const BACKEND_CHOICES: readonly string[] = ['webgpu', 'gpu', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** A backend that was tried and not used, and why (one short sentence). */
export interface SkippedBackend {
  backend: BackendChoice;
  reason: string;
}

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The tfjs backend name, as `tf.getBackend()` returns it: `'webgpu'`, `'tensorflow'`, `'wasm'` or `'cpu'`. */
  name: string;
  /** Where the math runs, e.g. `'CPU (2 threads, AMD EPYC 7B13)'` or the GPU's name. */
  device: string;
  /** Threads the backend computes with. */
  threads: number;
  /** Set when a cgroup CPU quota (a container's CPU limit) capped the cores {@link threads} was sized by: e.g. `'quota 1.5 CPUs of 64 cores'`. */
  quota?: string;
  /** Backends tried before this one, with the reason each was skipped. */
  skipped: SkippedBackend[];
  /** The WebGPU adapter, when the backend is `webgpu`. */
  adapter?: WebGpuAdapter;
}

/** The hint printed whenever the native backend is unavailable for a fixable reason. */
const SETUP_HINT = 'run npm run setup:native';
const NOT_INSTALLED = 'not installed';

/** State shared by every copy of this module in the process (tslab, vitest and dist may load two). */
interface State {
  promise?: Promise<BackendInfo>;
  info?: BackendInfo;
  /** Number of CUDA devices TensorFlow uses; 0 unless `tensorflow-gpu` is active on a GPU. */
  gpus: number;
  /** The adapter `webgpu` computes on, when it was chosen. */
  adapter?: WebGpuAdapter;
}
const STATE_KEY = Symbol.for('d2l-ts.backend');
const g = globalThis as unknown as Record<symbol, State | undefined>;
const state: State = (g[STATE_KEY] ??= { gpus: 0 });

/**
 * Chooses and initialises the backend (see the module header for the order; `D2L_BACKEND` forces
 * one). Idempotent: the first call does the work, later calls return the same promise.
 * @throws Error if `D2L_BACKEND` names an unknown backend, or a forced backend cannot be loaded.
 */
export function initBackend(): Promise<BackendInfo> {
  if (!state.promise) {
    state.promise = chooseBackend().then(
      (info) => {
        state.info = info;
        installFastOps(); // after the backend's own kernels are registered (it replaces some of them)
        // Once per process: which backend, why others were skipped, and the seed in force.
        console.log(`${describeBackend(info)}; seed ${currentSeed()} (d2l.seed(n) to change)`);
        return info;
      },
      (err: unknown) => {
        state.promise = undefined; // let the caller fix D2L_BACKEND and try again
        throw err;
      },
    );
  }
  return state.promise;
}

/**
 * The backend chosen by {@link initBackend}.
 * @throws Error if `initBackend()` has not finished yet.
 */
export function backendInfo(): BackendInfo {
  if (!state.info) {
    throw new Error('d2l-ts: backend not initialised yet — `await initBackend()` first');
  }
  return state.info;
}

/**
 * One line describing the backend, printed when d2l-ts is first imported, e.g.
 * `d2l-ts: backend wasm (CPU, 1 thread; skipped tensorflow: native binding not built — run npm run setup:native)`.
 * The GPU package being absent is normal and is not mentioned.
 */
export function describeBackend(info: BackendInfo = backendInfo()): string {
  const parts: string[] = [];
  if (info.adapter) {
    // `webgpu (NVIDIA H200, Vulkan)`; a software adapter says so, since it is much slower than the CPU backends
    parts.push(`${info.adapter.name}, ${info.adapter.api}${info.adapter.software ? ', software adapter' : ''}`);
  } else {
    const where = state.gpus > 0 && info.name === 'tensorflow' ? `GPU: ${info.device}` : 'CPU';
    parts.push(`${where}, ${info.threads} thread${info.threads === 1 ? '' : 's'}${info.quota ? `, ${info.quota}` : ''}`);
  }
  const skipped = info.skipped.filter((s) => !(s.backend === 'tensorflow-gpu' && s.reason === NOT_INSTALLED));
  if (skipped.length > 0) parts.push(`skipped ${skipped.map((s) => `${s.backend}: ${s.reason}`).join(', ')}`);
  if (gpuCount() === 0) {
    const gpus = gpusOnThisMachine();
    if (gpus.length > 0) parts.push(`GPU found (${gpus.join(', ')}): D2L_BACKEND=webgpu to train on it, npm run check:gpu to compare`);
  }
  return `d2l-ts: backend ${info.name} (${parts.join('; ')})`;
}

/**
 * Number of GPUs the active backend computes on (lib/devices.ts): the CUDA devices of tfjs-node-gpu, or 1 for
 * `webgpu` on a hardware adapter (tfjs drives one WebGPU device); 0 on a CPU backend or a software adapter.
 */
export function gpuCount(): number {
  const active = tf.getBackend();
  if (active === 'tensorflow') return state.gpus;
  if (active === 'webgpu') return state.adapter && !state.adapter.software ? 1 : 0;
  return 0;
}

/** The tfjs backend names {@link switchBackend} can make active (`tf.getBackend()` spelling). */
export const BACKEND_NAMES: readonly string[] = ['webgpu', 'tensorflow', 'wasm', 'cpu'];

/** A backend that cannot be used in this process; `message` says why (one line). */
export class BackendUnavailable extends Error {}

/**
 * Makes `name` the active tfjs backend for a while (lecture 17's `d2l.onBackend`), loading it first the way
 * {@link initBackend} would (wasm: threads and d2l-ts's kernels; tensorflow: the native package; webgpu: a hardware
 * adapter only — a software one only when it is already the chosen backend). What `initBackend` chose, and
 * {@link backendInfo}, stay unchanged; the caller switches back with `tf.setBackend`. Backends stay loaded
 * (tfjs keeps every initialised backend), so a second switch costs nothing.
 * @throws Error naming the valid choices for an unknown `name`; {@link BackendUnavailable} with the reason when it
 *   cannot be loaded here.
 */
export async function switchBackend(name: string): Promise<void> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`expected a backend name (${BACKEND_NAMES.join(', ')}), got ${JSON.stringify(name)}`);
  }
  await initBackend();
  if (tf.getBackend() === name) return;
  if (tf.engine().registry[name]) { // initialised before (tf.findBackend would initialise one on the spot)
    if (!(await tf.setBackend(name))) throw new BackendUnavailable(`${name}: failed to initialise`);
    quietCpuBanner();
    return;
  }
  try {
    await LOADERS[name as BackendChoice](); // webgpu: a hardware adapter only (its loader's default)
  } catch (err) {
    if (err instanceof Skip) throw new BackendUnavailable(`${name}: ${err.message}`);
    throw err;
  }
}

// ----------------------------------------------------------------------------------------------------

/** Thrown inside the chooser when a backend cannot be used; `message` is the short reason. */
class Skip extends Error {}

function forcedChoice(): BackendChoice | 'gpu' | undefined {
  const raw = (process.env.D2L_BACKEND ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'auto') return undefined;
  if (raw === 'gpu') return 'gpu';
  if (raw === 'webgpu' || raw === 'tensorflow-gpu' || raw === 'tensorflow' || raw === 'wasm' || raw === 'cpu') return raw;
  throw new Error(
    `D2L_BACKEND='${process.env.D2L_BACKEND}' is not a backend d2l-ts knows; valid choices: ` +
      `${BACKEND_CHOICES.join(', ')} (or leave it unset to pick the fastest that loads)`);
}

async function chooseBackend(): Promise<BackendInfo> {
  const forced = forcedChoice();
  const order: BackendChoice[] = forced === 'gpu' ? ['webgpu', 'tensorflow-gpu']
    : forced ? [forced] : ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  const skipped: SkippedBackend[] = [];
  state.adapter = undefined;
  for (const choice of order) {
    try {
      const loader = choice === 'webgpu' ? () => loadWebGpu(forced === 'webgpu') : LOADERS[choice];
      const { name, threads, device, adapter, quota } = await loader();
      if (forced === 'gpu' && choice === 'tensorflow-gpu' && state.gpus === 0) throw new Skip('TensorFlow found no CUDA GPU');
      return { name, device, threads, skipped, ...(adapter ? { adapter } : {}), ...(quota ? { quota } : {}) };
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      skipped.push({ backend: choice, reason: err.message });
      if (forced && choice === order[order.length - 1]) {
        const why = skipped.map((s) => (order.length > 1 ? `${s.backend}: ${s.reason}` : s.reason)).join('; ');
        throw new Error(`D2L_BACKEND=${process.env.D2L_BACKEND}: cannot use backend ${order.join(' or ')}: ${why}`);
      }
    }
  }
  // Unreachable in practice: 'cpu' always initialises.
  throw new Error(`d2l-ts: no backend could be initialised (${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})`);
}

type Loaded = { name: string; threads: number; device: string; adapter?: WebGpuAdapter; quota?: string };
const LOADERS: Record<BackendChoice, () => Promise<Loaded>> = {
  webgpu: () => loadWebGpu(false),
  'tensorflow-gpu': () => loadNative('@tensorflow/tfjs-node-gpu', true),
  tensorflow: () => loadNative('@tensorflow/tfjs-node', false),
  wasm: loadWasm,
  cpu: loadCpu,
};

function cpuDevice(threads: number, quota?: string): string {
  const model = os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim();
  return `CPU (${threads} thread${threads === 1 ? '' : 's'}${quota ? `, ${quota}` : ''}${model ? `, ${model}` : ''})`;
}

/**
 * tfjs's WebGPU backend on Dawn (./webgpu). A software adapter only when `D2L_BACKEND=webgpu` forces it; under
 * `D2L_BACKEND=gpu` or in the automatic order it is a skip.
 */
async function loadWebGpu(allowSoftware: boolean): Promise<Loaded> {
  try {
    const adapter = await startWebGpu(allowSoftware);
    state.adapter = adapter; // gpuCount() reads it under webgpu (state.gpus counts tensorflow-gpu's CUDA devices)
    return { name: 'webgpu', threads: 1, device: `${adapter.name} (${adapter.api})`, adapter };
  } catch (err) {
    if (err instanceof WebGpuUnavailable) throw new Skip(err.message);
    throw new Skip(`failed to start (${shortReason(err)})`);
  }
}

/** The first line of an error message, shortened: skip reasons must fit in one printed line. */
function shortReason(err: unknown): string {
  const line = String(err instanceof Error ? err.message : err).split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
  return line.length > 120 ? `${line.slice(0, 117)}...` : line.trim();
}

/**
 * Loads tfjs-node(-gpu). A missing package or a broken native binding becomes a {@link Skip}; the
 * package is required only here, inside try/catch, so importing d2l-ts never fails because of it.
 */
async function loadNative(pkg: string, gpu: boolean): Promise<Loaded> {
  try {
    require.resolve(pkg);
  } catch {
    throw new Skip(gpu ? NOT_INSTALLED : `${NOT_INSTALLED} — ${SETUP_HINT}`);
  }
  // libtensorflow logs (oneDNN, absl) go straight to fd 2; quieten the ones TF lets us quieten.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // TensorFlow's intra-op pool: every core but one. The JS thread that issues the ops, builds the batches and
  // collects garbage needs a core of its own; with 2 cores, 1 TF thread trained the lectures' models 15-35% faster
  // than 2 (npm run bench). Read once, when TF creates its context; set it yourself to override.
  const ownThreads = !process.env.TF_NUM_INTRAOP_THREADS;
  process.env.TF_NUM_INTRAOP_THREADS ??= String(intraOpThreads());
  let native: typeof tf;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    native = require(pkg) as typeof tf;
  } catch (err) {
    // tfjs-node registers its 'tensorflow' kernels before it loads the binding; remove them so a
    // second attempt (tfjs-node after tfjs-node-gpu) does not warn about hundreds of duplicates.
    for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
    const msg = shortReason(err);
    if (/tfjs_binding\.node\)? can ?not be found/.test(msg)) {
      throw new Skip(`native binding not built — ${SETUP_HINT}`);
    }
    throw new Skip(`failed to load (${msg})${gpu ? '' : ` — ${SETUP_HINT}`}`);
  }
  // The package must have registered into OUR tfjs-core; a duplicated @tensorflow/tfjs install
  // would leave 'tensorflow' active in a copy that d2l-ts and the notebooks never see.
  if (native.engine() !== tf.engine()) {
    throw new Skip(`${pkg} uses a separate copy of @tensorflow/tfjs (run npm dedupe)`);
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Skip('TensorFlow backend failed to initialise');
  await tf.ready();
  const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  if (gpu && backend.isUsingGpuDevice) {
    const names = nvidiaGpuNames();
    state.gpus = Math.max(1, names.length);
    return { name: 'tensorflow', threads: availableCores(), device: names[0] ?? 'CUDA GPU' };
  }
  state.gpus = 0;
  const threads = Number(process.env.TF_NUM_INTRAOP_THREADS) || intraOpThreads();
  const note = quotaNote(ownThreads);
  return { name: 'tensorflow', threads, device: cpuDevice(threads, note.quota), ...note };
}

/** The CPUs this process may use (./cpu-quota), read once: the cgroup files do not change under a running kernel. */
function processCpus(): CpuLimit {
  return (cpus ??= cpuLimit());
}
let cpus: CpuLimit | undefined;

/** Cores this process may use: the affinity mask capped by the cgroup CPU quota, rounded up (at least 1). */
function availableCores(): number {
  return processCpus().cores;
}

/** `{ quota }` for {@link BackendInfo} when d2l-ts chose the thread count and a CPU quota capped it. */
function quotaNote(chosenHere: boolean): { quota?: string } {
  const note = chosenHere ? describeQuota(processCpus()) : '';
  return note ? { quota: note } : {};
}

/**
 * TensorFlow intra-op threads d2l-ts asks for: all cores the process may use but one, at least 1 (a 1-CPU quota
 * gets 1 thread, not 0). `TF_NUM_INTRAOP_THREADS` set before d2l-ts loads overrides it.
 */
export function intraOpThreads(cores: number = availableCores()): number {
  return Math.max(1, cores - 1);
}

/** Directory holding tfjs-backend-wasm's `.wasm` binaries (its `main` lives in the same `dist/`). */
export function wasmBinaryDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

async function loadWasm(): Promise<Loaded> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    wasm = require('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    throw new Skip(`failed to load (${shortReason(err)})`);
  }
  // Our kernels go in before the backend initialises (setBackend runs each kernel's setup then).
  registerWasmKernels();
  // Read the binaries from node_modules by absolute path: no fetch, works offline and from any cwd.
  wasm.setWasmPaths(wasmBinaryDir() + path.sep);
  // tfjs runs wasm single-threaded in Node; start its threaded build ourselves (./wasm-threads).
  const ownThreads = !process.env.D2L_WASM_THREADS?.trim();
  const wanted = wasmThreads(availableCores());
  const glueHandlers = new ProcessHandlerWatch();
  if (wanted > 1) {
    await useThreadedWasm(wanted).catch((err: unknown) => {
      console.warn(`d2l-ts: wasm stays single-threaded: the threaded build did not start (${shortReason(err)})`);
    });
  }
  if (!(await tf.setBackend('wasm'))) throw new Skip('wasm backend failed to initialise');
  await tf.ready();
  glueHandlers.removeEmscriptens();
  const threads = wasm.getThreadsCount();
  const note = quotaNote(ownThreads);
  return { name: 'wasm', threads, device: cpuDevice(threads, note.quota), ...note };
}

/**
 * The Emscripten glue of both wasm builds adds `process` handlers that rethrow every uncaught exception and
 * unhandled rejection. A rethrow from inside such a handler ends Node at once, whatever other handlers exist, so
 * one rejected promise that a cell forgot to await killed the kernel (whose own handlers report it and carry on),
 * and the crash printed the glue's 50 KB source line. Created before the module starts; removes the handlers it
 * added afterwards, so Node's and the kernel's own handling applies.
 */
class ProcessHandlerWatch {
  private readonly before = new Map(HANDLED_EVENTS.map((e) => [e, proc.listeners(e)]));

  removeEmscriptens(): void {
    for (const event of HANDLED_EVENTS) {
      for (const l of proc.listeners(event)) {
        // the glue's two handlers: `function(ex){if(!(ex instanceof ExitStatus)){throw ex}}`, `function(reason){throw reason}`
        if (!this.before.get(event)!.includes(l) && /ExitStatus|throw reason/.test(String(l))) proc.removeListener(event, l);
      }
    }
  }
}
type Listener = (...args: unknown[]) => void;
const HANDLED_EVENTS = ['uncaughtException', 'unhandledRejection'];
const proc = process as unknown as { listeners(e: string): Listener[]; removeListener(e: string, l: Listener): void };

async function loadCpu(): Promise<Loaded> {
  if (!(await tf.setBackend('cpu'))) throw new Skip('cpu backend failed to initialise');
  quietCpuBanner();
  return { name: 'cpu', threads: 1, device: cpuDevice(1) };
}

/**
 * tfjs-backend-cpu prints "Hi, looks like you are running TensorFlow.js in Node.js…" on its first write in Node.
 * cpu is chosen on purpose here (the backend line says so, or a lecture switched to it), so mark the backend as
 * used instead of letting the banner land in a learner's cell.
 */
function quietCpuBanner(): void {
  if (tf.getBackend() !== 'cpu') return;
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}
