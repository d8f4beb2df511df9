/**
 * The `webgpu` backend: TensorFlow.js's WebGPU kernels (`@tensorflow/tfjs-backend-webgpu`) on Dawn, Chromium's
 * WebGPU engine, which the npm package `webgpu` ships prebuilt (`dawn.node` for Linux, macOS and Windows; no
 * download at install). Dawn drives the GPU through Vulkan (Linux: NVIDIA, AMD, Intel), Metal (macOS) or D3D12
 * (Windows), so this is the GPU route that needs nothing beyond npm and the GPU's driver — unlike
 * `@tensorflow/tfjs-node-gpu`, which downloads libtensorflow 2.9 and needs CUDA 11.2 + cuDNN 8.1 installed.
 * Lecture 17 (use-gpu) is where the course moves to a GPU; lib/devices.ts reports what was found here.
 *
 * What d2l-ts adds to the stock package:
 *  - **Synchronous reads.** tfjs-backend-webgpu's `readSync` (behind `dataSync`, `arraySync`, printing a tensor)
 *    copies through an `OffscreenCanvas`, which Node does not have. A WebGPU buffer map completes only when the
 *    device is polled, and Dawn's Node binding polls from a callback it schedules with the JS global
 *    `setImmediate` (dawn/node/binding/AsyncRunner.cpp: `QueueTick` → `device.Tick()`), i.e. on a later turn of
 *    the event loop that a synchronous read never reaches. So we wrap `setImmediate` before Dawn loads and keep the
 *    tick callbacks Dawn queues (only those: the ones queued during a Dawn call or from a tick itself); `readSync`
 *    maps a staging buffer and runs the kept tick until the map is done — no canvas, no native addon, no nested
 *    event loop (other callbacks never run inside a `dataSync`). Measured on SwiftShader: a 16-byte read maps
 *    after ~600 ticks (9 ms) the first time, after 1 tick afterwards.
 *  - **Adapter choice.** A software adapter (SwiftShader, llvmpipe: WebGPU's "fallback adapter") is used only when
 *    `D2L_BACKEND=webgpu` forces it — which is how the tests run here, on Chromium's SwiftShader Vulkan driver; it
 *    is far slower than the CPU backends. Real adapters count as GPUs for `d2l.numGpus()` / `d2l.tryGpu()`.
 *  - **Quiet, clear failure.** A missing package, no Vulkan loader or no adapter is a one-line reason, never a
 *    crash at import.
 *
 * @module
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** What we know about the adapter Dawn gave us. */
export interface WebGpuAdapter {
  /** A name to print: the driver's description, else vendor + architecture, e.g. `'NVIDIA H200'`. */
  name: string;
  /** The native API Dawn drives it through: `'Vulkan'`, `'Metal'` or `'D3D12'`. */
  api: string;
  /** True for a CPU implementation (SwiftShader, llvmpipe): WebGPU's fallback adapter. */
  software: boolean;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** A reason the webgpu backend cannot be used (the backend chooser turns it into a skip line). */
export class WebGpuUnavailable extends Error {}

/** The subset of tfjs-backend-webgpu's backend that the synchronous read uses (its fields are public in JS). */
interface WebGpuBackendInternals {
  device: GpuDevice;
  tensorMap: { get(id: object): TensorData | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBuffer; releaseBuffer(b: GpuBuffer): void };
  commandEncoder: { copyBufferToBuffer(a: GpuBuffer, ao: number, b: GpuBuffer, bo: number, n: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(dataId: object, values: tf.backend_util.BackendValues): tf.backend_util.BackendValues;
}
interface TensorData {
  dtype: tf.DataType;
  values: tf.backend_util.BackendValues | null;
  resource?: GpuBuffer;
  complexTensorInfos?: { real: { dataId: object }; imag: { dataId: object } };
}
interface GpuBuffer {
  size: number;
  mapState: string;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
type GpuDevice = object;
interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(desc?: object): Promise<GpuDevice>;
}
interface Gpu {
  requestAdapter(opts?: object): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

// ---- Dawn's tick, kept so a read can run it synchronously ---------------------------------------------------

interface TickState {
  /** The tick callback Dawn queued last and that has not run yet. */
  pending?: () => void;
  /** >0 while a Dawn method or a Dawn tick runs: the setImmediate calls made then are Dawn's own. */
  depth: number;
  installed: boolean;
}
const TICK_KEY = Symbol.for('d2l-ts.webgpu.tick');
const g = globalThis as unknown as Record<symbol, TickState | undefined>;
const tick: TickState = (g[TICK_KEY] ??= { depth: 0, installed: false });

function runTick(fn: () => void): void {
  tick.depth++;
  try {
    fn();
  } finally {
    tick.depth--;
  }
}

/**
 * Wraps the global `setImmediate` (once per process) so that a callback queued from inside Dawn is remembered in
 * `tick.pending` and still runs on the event loop as before — unless a synchronous read ran it first.
 */
function installTickHook(): void {
  if (tick.installed) return;
  tick.installed = true;
  const original = globalThis.setImmediate;
  const wrapped = function (this: unknown, fn: (...a: unknown[]) => void, ...args: unknown[]) {
    if (tick.depth === 0 || typeof fn !== 'function' || args.length > 0) return original(fn, ...args);
    const own = () => runTick(fn as () => void);
    tick.pending = own;
    return original(() => {
      if (tick.pending === own) {
        tick.pending = undefined;
        own();
      }
    });
  };
  Object.assign(wrapped, original); // keeps setImmediate[util.promisify.custom] and friends
  globalThis.setImmediate = wrapped as unknown as typeof setImmediate;
}

/** Marks the Dawn methods that can start asynchronous work, so the tick they queue is recognised. */
function markAsyncMethods(globals: Record<string, unknown>): void {
  const methods: Record<string, string[]> = {
    GPU: ['requestAdapter'],
    GPUAdapter: ['requestDevice'],
    GPUBuffer: ['mapAsync'],
    GPUQueue: ['onSubmittedWorkDone'],
    GPUDevice: ['popErrorScope', 'createComputePipelineAsync', 'createRenderPipelineAsync'],
    GPUShaderModule: ['getCompilationInfo'],
  };
  for (const [cls, names] of Object.entries(methods)) {
    const proto = (globals[cls] as { prototype?: Record<string, unknown> } | undefined)?.prototype;
    for (const name of names) {
      const orig = proto?.[name];
      if (typeof orig !== 'function' || (orig as { d2lTick?: boolean }).d2lTick) continue;
      const marked = function (this: unknown, ...args: unknown[]) {
        tick.depth++;
        try {
          return (orig as (...a: unknown[]) => unknown).apply(this, args);
        } finally {
          tick.depth--;
        }
      };
      (marked as { d2lTick?: boolean }).d2lTick = true;
      proto![name] = marked;
    }
  }
}

/** Longest a synchronous read waits for the GPU before giving up with an error. */
const READ_TIMEOUT_MS = 120_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs Dawn's tick until `buffer` is mapped (or the map failed). */
function waitForMap(buffer: GpuBuffer, what: string): void {
  const start = Date.now();
  for (let spins = 0; buffer.mapState === 'pending'; spins++) {
    const next = tick.pending;
    if (!next) throw new Error(`webgpu: ${what}: Dawn queued no tick to finish the read (is another copy of the webgpu package loaded?)`);
    tick.pending = undefined;
    next();
    if (spins > 1000) {
      // the GPU is still busy: poll every 50 µs instead of spinning a core
      Atomics.wait(sleeper, 0, 0, 0.05);
      if (Date.now() - start > READ_TIMEOUT_MS) throw new Error(`webgpu: ${what}: the GPU did not finish within ${READ_TIMEOUT_MS / 1000} s`);
    }
  }
  if (buffer.mapState !== 'mapped') throw new Error(`webgpu: ${what}: mapping the read-back buffer failed (state ${buffer.mapState})`);
}

/** The bytes of a GPU buffer, read synchronously (tfjs-backend-webgpu's `getBufferData`, without the await). */
function readBufferSync(be: WebGpuBackendInternals, buffer: GpuBuffer): ArrayBuffer {
  const { MAP_READ, COPY_DST } = globals().GPUBufferUsage as Record<string, number>;
  const staging = be.bufferManager.acquireBuffer(buffer.size, COPY_DST | MAP_READ);
  try {
    be.ensureCommandEncoderReady();
    be.endComputePassEncoder();
    be.commandEncoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
    be.submitQueue();
    const mapped = staging.mapAsync((globals().GPUMapMode as Record<string, number>).READ);
    mapped.catch(() => undefined); // its failure shows as mapState, reported below
    waitForMap(staging, 'dataSync');
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    return bytes;
  } finally {
    be.bufferManager.releaseBuffer(staging);
  }
}

/** `WebGPUBackend.prototype.readSync` for Node: the values of a tensor, read now, cached on the CPU like `read()`. */
function readSync(this: WebGpuBackendInternals, dataId: object): tf.backend_util.BackendValues {
  const data = this.tensorMap.get(dataId);
  if (!data) throw new Error(`webgpu: dataSync: tensor ${JSON.stringify(dataId)} is not on this backend (disposed?)`);
  if (data.values != null || data.dtype === 'string') return data.values as tf.backend_util.BackendValues;
  let values: tf.backend_util.BackendValues;
  if (data.dtype === 'complex64') {
    const re = readSync.call(this, data.complexTensorInfos!.real.dataId) as Float32Array;
    const im = readSync.call(this, data.complexTensorInfos!.imag.dataId) as Float32Array;
    values = tf.backend_util.mergeRealAndImagArrays(re, im);
  } else {
    values = tf.util.convertBackendValuesAndArrayBuffer(readBufferSync(this, data.resource!), data.dtype);
  }
  return this.convertAndCacheOnCPU(dataId, values);
}

// ---- loading ------------------------------------------------------------------------------------------------

interface LoadedState {
  dawn?: DawnModule;
  gpu?: Gpu;
}
const loaded: LoadedState = {};

function globals(): Record<string, unknown> {
  return loaded.dawn!.globals;
}

/** The native API Dawn picks by default on this OS. */
function nativeApi(): string {
  return process.platform === 'darwin' ? 'Metal' : process.platform === 'win32' ? 'D3D12' : 'Vulkan';
}

/** Adapter names of CPU implementations, for drivers that do not set isFallbackAdapter. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

export function describeAdapter(adapter: GpuAdapterLike): WebGpuAdapter {
  const info = (adapter.info ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof info[k] === 'string' ? (info[k] as string).trim() : '');
  const [vendor, architecture, device, description] = ['vendor', 'architecture', 'device', 'description'].map(str);
  const name = adapterName(vendor, device, description, architecture);
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true ||
    SOFTWARE.test([vendor, architecture, device, description].join(' '));
  return { name, api: nativeApi(), software, vendor, architecture, device, description };
}

const VENDOR_NAMES: Record<string, string> = { nvidia: 'NVIDIA', amd: 'AMD', intel: 'Intel', apple: 'Apple', google: 'Google', qualcomm: 'Qualcomm', arm: 'ARM' };

/**
 * A name to print. Dawn's `device` is the driver's device name in lower-case-with-dashes (`swiftshader-device-subzero-`,
 * on NVIDIA e.g. `nvidia-h200`) and `description` its driver string (`SwiftShader driver 5.0.0`); NVIDIA's procfs
 * has the marketing name when its driver is loaded.
 */
function adapterName(vendor: string, device: string, description: string, architecture: string): string {
  if (/nvidia/i.test(vendor)) {
    const procName = nvidiaGpuNames()[0];
    if (procName) return procName;
  }
  if (/swiftshader/i.test(`${architecture} ${description}`)) return description || 'SwiftShader';
  const words = device.split('-').filter(Boolean);
  if (words.length > 0) {
    return words.map((w, i) => (i === 0 && VENDOR_NAMES[w]) || (/\d/.test(w) ? w.toUpperCase() : w)).join(' ');
  }
  return description || [VENDOR_NAMES[vendor] ?? vendor, architecture].filter(Boolean).join(' ') || 'unknown adapter';
}

/** Loads Dawn once (the `webgpu` package), with the tick hook in place first. */
function loadDawn(): DawnModule {
  if (loaded.dawn) return loaded.dawn;
  installTickHook();
  ensureRuntimeDir();
  let dawn: DawnModule;
  try {
    // The package is an ES module; Node ≥ 20.19 loads it with require (no top-level await in it).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    dawn = require('webgpu') as DawnModule;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/Cannot find (module|package) 'webgpu'/.test(msg)) throw new WebGpuUnavailable('not installed (npm install webgpu)');
    throw new WebGpuUnavailable(`Dawn failed to load (${msg.split('\n')[0]})`);
  }
  markAsyncMethods(dawn.globals);
  loaded.dawn = dawn;
  return dawn;
}

/**
 * The adapter Dawn offers (high-performance preference), or a reason there is none. Dawn prints its own warnings
 * (no Vulkan loader, a driver it refuses) on stderr; the reason here is the one-line summary.
 */
export async function probeAdapter(): Promise<{ adapter: GpuAdapterLike; info: WebGpuAdapter }> {
  const dawn = loadDawn();
  loaded.gpu ??= dawn.create([]);
  const adapter = await loaded.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const hint = process.platform === 'linux' ? ' (no Vulkan driver Dawn accepts: install the GPU driver and the Vulkan loader, libvulkan1)' : '';
    throw new WebGpuUnavailable(`no WebGPU adapter${hint}`);
  }
  return { adapter, info: describeAdapter(adapter) };
}

/**
 * Every adapter Dawn offers for the three kinds of request (high-performance, low-power, fallback), without
 * duplicates: what `npm run check:gpu` prints. Empty when Dawn loads but finds no driver.
 */
export async function listAdapters(): Promise<WebGpuAdapter[]> {
  const dawn = loadDawn();
  loaded.gpu ??= dawn.create([]);
  const seen = new Map<string, WebGpuAdapter>();
  for (const opts of [{ powerPreference: 'high-performance' }, { powerPreference: 'low-power' }, { forceFallbackAdapter: true }]) {
    const adapter = await loaded.gpu.requestAdapter(opts).catch(() => null);
    if (!adapter) continue;
    const info = describeAdapter(adapter);
    seen.set(JSON.stringify([info.vendor, info.architecture, info.device, info.description]), info);
  }
  return [...seen.values()];
}

/**
 * Registers and activates tfjs's `webgpu` backend on the adapter Dawn offers. A software adapter is refused unless
 * `allowSoftware` (D2L_BACKEND=webgpu forces it).
 */
export async function startWebGpu(allowSoftware: boolean): Promise<WebGpuAdapter> {
  const { adapter, info } = await probeAdapter();
  if (info.software && !allowSoftware) {
    throw new WebGpuUnavailable(`only a software adapter (${info.name}); D2L_BACKEND=webgpu uses it anyway`);
  }
  const mod = requireTfjsWebGpu();
  if (!registeredHere) {
    // Replace the package's factory (which asks navigator.gpu for an adapter again) with one for this adapter.
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', async () => {
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      return withNavigator(() => new mod.WebGPUBackend(device as never, adapter.info as never));
    }, 0);
    registeredHere = true;
  }
  if (!(await tf.setBackend('webgpu'))) throw new WebGpuUnavailable('the webgpu backend failed to initialise');
  await tf.ready();
  return info;
}
let registeredHere = false;

/**
 * tfjs-backend-webgpu checks for `navigator.gpu` when it loads (to register its backend) and when the backend is
 * constructed. Node 20 has no `navigator`, so one holding Dawn's `gpu` is lent for those two moments and taken
 * away again: other libraries read `navigator` to decide they run in a browser.
 */
function withNavigator<T>(fn: () => T): T {
  const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  if (!had) Object.defineProperty(globalThis, 'navigator', { value: { gpu: loaded.gpu }, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    if (!had) delete (globalThis as { navigator?: unknown }).navigator;
  }
}

/** tfjs-backend-webgpu, loaded once, its `readSync` replaced by the synchronous one above. */
function requireTfjsWebGpu(): typeof import('@tensorflow/tfjs-backend-webgpu') {
  Object.assign(globalThis, globals()); // GPUBufferUsage, GPUMapMode, ...: the package reads them as globals
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = withNavigator(() => require('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu'));
  const proto = mod.WebGPUBackend.prototype as unknown as { readSync: unknown };
  proto.readSync = readSync;
  return mod;
}

/** GPU model names from the NVIDIA driver's procfs (no subprocess, no CUDA or Vulkan call). */
export function nvidiaGpuNames(): string[] {
  const dir = '/proc/driver/nvidia/gpus';
  try {
    return fs.readdirSync(dir).sort().map((bus) => {
      const text = fs.readFileSync(path.join(dir, bus, 'information'), 'utf8');
      return /^Model:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'NVIDIA GPU';
    });
  } catch {
    return [];
  }
}

// ---- a GPU that could be used, found without loading Dawn ---------------------------------------------------

const PCI_VENDORS: Record<string, string> = { '0x10de': 'NVIDIA', '0x1002': 'AMD', '0x8086': 'Intel' };

/**
 * GPUs the OS shows (Linux: DRM render nodes and their PCI vendor; NVIDIA's procfs; macOS: always Metal), for the
 * backend line's hint. Cheap — no Dawn, no Vulkan instance — so the default start-up stays as fast as before.
 */
export function gpusOnThisMachine(): string[] {
  if (process.platform === 'darwin') return ['Apple GPU (Metal)'];
  if (process.platform !== 'linux') return [];
  const found = nvidiaGpuNames();
  try {
    for (const node of fs.readdirSync('/sys/class/drm').filter((n) => /^renderD\d+$/.test(n)).sort()) {
      const vendor = fs.readFileSync(`/sys/class/drm/${node}/device/vendor`, 'utf8').trim();
      const name = PCI_VENDORS[vendor];
      if (name && !(name === 'NVIDIA' && found.length > 0)) found.push(`${name} GPU`);
    }
  } catch {
    /* no DRM devices */
  }
  return found;
}

// ---- running without a GPU: Chromium's SwiftShader ------------------------------------------------------------

/** Where Linux packages of Chromium put SwiftShader's Vulkan driver manifest (Debian/Ubuntu `chromium`, Google Chrome). */
const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

/**
 * How to run the `webgpu` backend on a CPU here: the SwiftShader manifest and whether the Vulkan loader is
 * installed, or why not. Debian's own lavapipe (Mesa 22.3) is refused by Dawn (it lacks
 * shaderUniform*ArrayDynamicIndexing); Chromium's SwiftShader is accepted. Tests and `npm run check:gpu` use it.
 */
export function findSwiftShader(): { icd: string } | { missing: string } {
  if (process.platform !== 'linux') return { missing: 'SwiftShader runs are set up for Linux only' };
  const icd = SWIFTSHADER_ICDS.find((p) => fs.existsSync(p));
  if (!icd) return { missing: "no SwiftShader Vulkan driver (install Debian's chromium: apt-get install chromium)" };
  const loader = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu']
    .some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
  if (!loader && !process.env.LD_LIBRARY_PATH) return { missing: 'no Vulkan loader (apt-get install libvulkan1)' };
  return { icd };
}

/**
 * Points Vulkan at SwiftShader for this process (before Dawn loads) and gives the driver the runtime directory it
 * wants (it prints "XDG_RUNTIME_DIR is invalid" without one).
 */
export function useSwiftShader(icd: string): void {
  process.env.VK_ICD_FILENAMES = icd;
  ensureRuntimeDir();
}

/**
 * Vulkan drivers (SwiftShader's window-system code) print "XDG_RUNTIME_DIR is invalid or not set" when a session
 * has none (a container, CI, a service); give the process a private one before Dawn loads.
 */
function ensureRuntimeDir(): void {
  if (process.platform !== 'linux' || process.env.XDG_RUNTIME_DIR) return;
  const dir = path.join(os.tmpdir(), `d2l-ts-xdg-${process.getuid?.() ?? 0}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  } catch {
    /* only a warning is at stake */
  }
}
