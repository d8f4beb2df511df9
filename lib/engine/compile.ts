/**
 * Compiled training steps on native TensorFlow: a step that tfjs runs as ~70-150 separate eager ops (each a
 * `TFE_NewOp` + attributes + `TFE_Execute`, 7-15 µs) runs as ONE call of a TF graph function, the way
 * TensorFlow's own `tf.function` does; TF's graph optimizer (grappler) also prunes and fuses it.
 *
 * How: the step runs eagerly while every op the tfjs-node binding executes, every tensor it uploads and every
 * `Variable.assign` is recorded; the record becomes a `FunctionDef` (protobuf classes bundled with tfjs-node)
 * whose inputs are the step's arguments, the variables it reads and the tensors it captures, and whose
 * outputs are its results and the variables' new values. The function is registered with TF's eager context
 * (`addFunctionDef`, one of three N-API functions scripts/setup-native.sh patches into the binding) and run by
 * name through the binding's ordinary `executeOp`; the variables then take their new values (`assign`: no copy).
 *
 * Correctness guards — a step is compiled only when it is safe, otherwise it keeps running eagerly and says
 * why once (`d2l: step not compiled: …`):
 *  - per input signature (shapes, dtypes): the last, smaller batch or another net gets its own function;
 *  - the step is traced on its 2nd and 3rd calls (the 1st creates optimizer slots and lazily built layers)
 *    and the two records must match op for op: uploads equal in both (constants like `lr / batchSize`) become
 *    `Const` nodes; uniform random numbers tfjs draws in JS (dropout masks: `tf.randomUniform`, float32 in
 *    [0, 1)) become TF's `StatelessRandomUniform`, fed [seed, call number] — a new mask every step, the same
 *    masks for the same `d2l.seed` (not the eager run's masks: those come from tfjs' own generator); any other
 *    value JS computes per call (a learning-rate schedule) keeps the step eager;
 *  - a step that reads a value back (`dataSync`) is not compiled;
 *  - at most {@link MAX_SIGNATURES} functions per handle; `dispose()` removes them from the context.
 * XLA compiles each function (see {@link useXla}). `D2L_COMPILE=0` turns compiling off; `D2L_COMPILE_XLA=0`
 * leaves XLA out; `D2L_COMPILE_FUSE=0` keeps the ops as recorded (no rewrites for fusion, see {@link fusible}).
 *
 * Grappler only optimizes a function call that carries a `config_proto` attribute (measured: without it
 * TF 2.21 runs the nodes as recorded), so every call passes one.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { argError } from '../args';
import { nextSeed } from '../random';
import { activeNodeBackend, type NodeBackend, type OpAttr, type TensorMetadata } from './tfjs-node';

/** Functions kept per compiled step (one per input signature); the oldest is removed beyond this. */
export const MAX_SIGNATURES = 8;

/** The binding functions the patch adds (scripts/native/tfjs-node-functions.patch). */
interface FunctionBinding {
  d2lPatchVersion?: number;
  addFunctionDef(def: Uint8Array): void;
  removeFunction(name: string): void;
  getAllOpList(): Uint8Array;
  tensorDataSync(id: number): unknown;
}
type Binding = NodeBackend['binding'] & FunctionBinding & Record<string, any>;
type Backend = NodeBackend & { binding: Binding; tensorMap: { get(dataId: object): { id: number; dtype: number } | undefined } };

/** Why steps cannot be compiled in this process, or null when they can. */
export function compileUnavailable(): string | null {
  if (process.env.D2L_COMPILE === '0') return 'D2L_COMPILE=0';
  const b = activeNodeBackend() as Backend | null;
  if (!b) return `backend ${tf.getBackend()} has no graph runtime`;
  if (!((b.binding.d2lPatchVersion ?? 0) >= 1)) return 'the native binding lacks graph functions (run npm run setup:native)';
  return null;
}

// ---- recording -------------------------------------------------------------------------------------------

/** Where a recorded op input comes from. */
type Source =
  | { kind: 'node'; node: number; out: number }
  | { kind: 'upload'; index: number }
  | { kind: 'arg'; index: number }
  | { kind: 'var'; variable: tf.Variable }
  | { kind: 'captured'; id: number };

interface RecordedOp { op: string; attrs: OpAttr[]; inputs: number[]; outputs: TensorMetadata[] }
interface Upload { id: number; shape: number[]; dtype: number; values: ArrayBufferView }
interface Trace {
  ops: RecordedOp[];
  uploads: Upload[];
  assigns: Map<tf.Variable, number>;
  readBack: boolean;
}

function idOf(b: Backend, t: tf.Tensor): number {
  return b.getInputTensorIds([t])[0];
}

/** Runs `f` eagerly while recording what the binding executes and which variables get new values. */
function record<T>(b: Backend, f: () => T): { result: T; trace: Trace } {
  const trace: Trace = { ops: [], uploads: [], assigns: new Map(), readBack: false };
  const real = b.binding;
  const rec = Object.create(real) as Binding;
  // The native exports are read-only properties: shadow them with defineProperty, not assignment.
  Object.defineProperty(rec, 'executeOp', { value: (op: string, attrs: OpAttr[], inputs: number[], n: number) => {
    const outputs = real.executeOp(op, attrs, inputs, n);
    trace.ops.push({ op, attrs: attrs.map((a) => ({ ...a })), inputs: inputs.slice(), outputs });
    return outputs;
  } });
  Object.defineProperty(rec, 'createTensor', { value: (shape: number[], dtype: number, values: any) => {
    const id = real.createTensor(shape, dtype, values);
    trace.uploads.push({ id, shape: shape.slice(), dtype, values: values.slice() });
    return id;
  } });
  Object.defineProperty(rec, 'tensorDataSync', { value: (id: number) => {
    trace.readBack = true;
    return real.tensorDataSync(id);
  } });
  const assign = tf.Variable.prototype.assign;
  tf.Variable.prototype.assign = function (this: tf.Variable, v: tf.Tensor) {
    assign.call(this, v);
    trace.assigns.set(this, idOf(b, this));
  };
  b.binding = rec;
  try {
    return { result: f(), trace };
  } finally {
    b.binding = real;
    tf.Variable.prototype.assign = assign;
  }
}

/** The record in a form two traces can be compared in, and a function built from. */
interface Program {
  ops: { op: string; attrs: OpAttr[]; inputs: Source[]; outDtypes: number[]; outShapes: number[][] }[];
  uploads: Upload[];
  /** Uploads that are uniform [0, 1) random numbers drawn in JS: TF's stateless generator makes them instead. */
  random: number[];
  vars: tf.Variable[];
  captured: number[];
  outputs: Source[];
  assigns: [tf.Variable, Source][];
}

function toProgram(trace: Trace, argIds: number[], varIds: Map<number, tf.Variable>, outIds: number[]): Program | string {
  if (trace.readBack) return 'it reads a value back (dataSync) inside the step';
  const made = new Map<number, Source>();
  trace.uploads.forEach((u, index) => made.set(u.id, { kind: 'upload', index }));
  const vars: tf.Variable[] = [];
  const captured: number[] = [];
  const source = (id: number): Source => {
    const m = made.get(id);
    if (m) return m;
    const a = argIds.indexOf(id);
    if (a >= 0) return { kind: 'arg', index: a };
    const v = varIds.get(id);
    if (v) {
      if (!vars.includes(v)) vars.push(v);
      return { kind: 'var', variable: v };
    }
    if (!captured.includes(id)) captured.push(id);
    return { kind: 'captured', id };
  };
  const ops = trace.ops.map((o, node) => {
    const inputs = o.inputs.map(source);
    o.outputs.forEach((m, out) => made.set(m.id, { kind: 'node', node, out }));
    return { op: o.op, attrs: o.attrs, inputs, outDtypes: o.outputs.map((m) => m.dtype), outShapes: o.outputs.map((m) => m.shape) };
  });
  const outputs = outIds.map(source);
  const assigns = [...trace.assigns].map(([v, id]) => [v, source(id)] as [tf.Variable, Source]);
  return { ops, uploads: trace.uploads, random: [], vars, captured, outputs, assigns };
}

const key = (s: Source): string =>
  s.kind === 'node' ? `n${s.node}:${s.out}` : s.kind === 'upload' ? `u${s.index}` : s.kind === 'arg' ? `a${s.index}`
    : s.kind === 'var' ? `v${s.variable.id}` : `c${s.id}`;

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Smallest sample of a JS random upload that is told apart from other changing values (see below). */
const MIN_RANDOM_SIZE = 1024;
const DT_FLOAT = 1;
const DT_INT32 = 3;

/**
 * True when two uploads look like fresh draws of `tf.randomUniform(shape)` — float32, every value in [0, 1), and
 * reaching both ends of the range (min < 0.01, max > 0.99: a 1024-value sample of U[0, 1) misses that with
 * probability ~1e-4) — so that TF's stateless uniform generator may make them inside the function. Dropout
 * masks are made this way (tfjs draws them in JS); anything else that changes between calls keeps the step eager.
 */
function looksUniform(a: Upload, b: Upload): boolean {
  if (a.dtype !== DT_FLOAT || b.dtype !== DT_FLOAT || a.shape.join() !== b.shape.join()) return false;
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (n < MIN_RANDOM_SIZE) return false;
  return [a, b].every((u) => {
    const v = u.values as Float32Array;
    let lo = 1, hi = 0;
    for (let i = 0; i < v.length; i++) {
      if (!(v[i] >= 0 && v[i] < 1)) return false;
      if (v[i] < lo) lo = v[i];
      if (v[i] > hi) hi = v[i];
    }
    return lo < 0.01 && hi > 0.99;
  });
}

/**
 * Null when two traces of the same step are the same program (up to random uploads, whose indices go into
 * `q.random`), else why not (one short clause).
 */
function difference(p: Program, q: Program): string | null {
  if (p.ops.length !== q.ops.length) return `it runs ${p.ops.length} ops one call and ${q.ops.length} the next (it branches in JS)`;
  for (let i = 0; i < p.ops.length; i++) {
    const a = p.ops[i], b = q.ops[i];
    if (a.op !== b.op || JSON.stringify(a.attrs) !== JSON.stringify(b.attrs) ||
      a.inputs.map(key).join() !== b.inputs.map(key).join()) return `op ${i} (${a.op}) differs between calls`;
  }
  if (p.uploads.length !== q.uploads.length) return 'it uploads a different number of tensors per call';
  for (let i = 0; i < p.uploads.length; i++) {
    const a = p.uploads[i], b = q.uploads[i];
    if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join() || !sameBytes(a.values, b.values)) {
      if (looksUniform(a, b)) {
        q.random.push(i);
        continue;
      }
      const n = a.shape.reduce((x, y) => x * y, 1);
      return n > 1 ? `it makes a new ${a.shape.join('×')} tensor in JS each call (random numbers such as dropout masks?)`
        : 'a scalar computed in JS changes between calls (a schedule?)';
    }
  }
  if (p.outputs.map(key).join() !== q.outputs.map(key).join()) return 'its results come from different places between calls';
  if (p.assigns.map(([v, s]) => `${v.id}=${key(s)}`).join() !== q.assigns.map(([v, s]) => `${v.id}=${key(s)}`).join()) {
    return 'it updates different variables between calls';
  }
  return null;
}

// ---- FunctionDef ----------------------------------------------------------------------------------------

type Pb = any;
let protos: Pb | undefined;
let opDefs: Map<string, Pb> | undefined;

function pb(): Pb {
  return (protos ??= require('@tensorflow/tfjs-node/dist/proto/api_pb.js'));
}

function opDef(b: Backend, name: string): Pb {
  if (!opDefs) {
    opDefs = new Map();
    for (const d of pb().OpList.deserializeBinary(b.binding.getAllOpList()).getOpList()) opDefs.set(d.getName(), d);
  }
  const d = opDefs.get(name);
  if (!d) throw new Error(`unknown TF op ${name}`);
  return d;
}

/** A TensorShape proto of `dims`. */
function tensorShape(dims: number[]): Pb {
  const P = pb(), s = new P.TensorShape();
  s.setDimList(dims.map((n) => { const d = new P.TensorShape.Dim(); d.setSize(n); return d; }));
  return s;
}

function attrValue(b: Backend, a: OpAttr): Pb {
  const P = pb(), v = new P.AttrValue(), bd = b.binding;
  const list = Array.isArray(a.value) && a.type !== bd.TF_ATTR_SHAPE ? a.value as unknown[] : undefined;
  if (list) {
    const l = new P.AttrValue.ListValue();
    if (a.type === bd.TF_ATTR_INT) l.setIList(list);
    else if (a.type === bd.TF_ATTR_FLOAT) l.setFList(list);
    else if (a.type === bd.TF_ATTR_BOOL) l.setBList(list);
    else if (a.type === bd.TF_ATTR_TYPE) l.setTypeList(list);
    else if (a.type === bd.TF_ATTR_STRING) l.setSList(list.map((s) => Buffer.from(String(s))));
    else throw new Error(`attribute ${a.name}: list of type ${a.type}`);
    v.setList(l);
  } else if (a.type === bd.TF_ATTR_INT) v.setI(a.value as number);
  else if (a.type === bd.TF_ATTR_FLOAT) v.setF(a.value as number);
  else if (a.type === bd.TF_ATTR_BOOL) v.setB(a.value as boolean);
  else if (a.type === bd.TF_ATTR_TYPE) v.setType(a.value as number);
  else if (a.type === bd.TF_ATTR_STRING) v.setS(Buffer.from(String(a.value)));
  else if (a.type === bd.TF_ATTR_SHAPE) v.setShape(tensorShape(a.value as number[]));
  else throw new Error(`attribute ${a.name} of type ${a.type}`);
  return v;
}

/** How many tensors an op's argument stands for (`number_attr`, `type_list_attr`, else one). */
function argCount(arg: Pb, attrs: Map<string, OpAttr>): number {
  if (arg.getNumberAttr()) return Number(attrs.get(arg.getNumberAttr())?.value);
  if (arg.getTypeListAttr()) return (attrs.get(arg.getTypeListAttr())?.value as unknown[]).length;
  return 1;
}

/**
 * Rewrites ops as TF's own graphs spell them, so grappler's remapper can fuse them (measured with TF 2.21:
 * `BatchMatMulV2` + `Add` + `Relu` as tfjs records them is never fused; `MatMul` + `BiasAdd` + `Relu` becomes one
 * `_FusedMatMul`, and Conv2D + BiasAdd one `_FusedConv2D`):
 *  - a rank-2 `BatchMatMulV2` → `MatMul` (adj_x/adj_y → transpose_a/transpose_b);
 *  - `Add(x[…, C], b[C])` (either order) → `BiasAdd(x, b)`;
 *  - `ReluGrad(dy, x)` where `Relu(x)` is in the step → `ReluGrad(dy, relu(x))` (the same result: relu(x) > 0
 *    exactly where x > 0; the remapper fuses the Relu only when nothing but ReluGrad reads the output).
 * Same math; the results can differ from eager in float32 round-off where TF picks another kernel.
 */
function fusible(b: Backend, p: Program, shapeOf: (s: Source) => number[] | undefined): Program['ops'] {
  const { TF_ATTR_BOOL, TF_ATTR_STRING } = b.binding;
  const sameSource = (a: Source, b: Source) => key(a) === key(b);
  return p.ops.map((o) => {
    const [x, y] = o.inputs;
    const attr = (n: string) => o.attrs.find((a) => a.name === n);
    if (o.op === 'BatchMatMulV2' && shapeOf(x)?.length === 2 && shapeOf(y)?.length === 2) {
      const T = attr('T');
      const flag = (from: string, to: string): OpAttr => ({ name: to, type: TF_ATTR_BOOL, value: attr(from)?.value ?? false });
      return { ...o, op: 'MatMul', attrs: [...(T ? [T] : []), flag('adj_x', 'transpose_a'), flag('adj_y', 'transpose_b')] };
    }
    if ((o.op === 'Add' || o.op === 'AddV2') && o.inputs.length === 2) {
      const sx = shapeOf(x), sy = shapeOf(y);
      const bias = (t?: number[], b?: number[]) => !!t && !!b && t.length >= 2 && b.length === 1 && t[t.length - 1] === b[0] && t[0] !== 1;
      const T = attr('T');
      const biasAdd = (v: Source, bb: Source) => ({ ...o, op: 'BiasAdd', inputs: [v, bb],
        attrs: [...(T ? [T] : []), { name: 'data_format', type: TF_ATTR_STRING, value: 'NHWC' }] });
      if (bias(sx, sy)) return biasAdd(x, y);
      if (bias(sy, sx)) return biasAdd(y, x);
    }
    if (o.op === 'ReluGrad') {
      const relu = p.ops.findIndex((r) => r.op === 'Relu' && sameSource(r.inputs[0], y));
      if (relu >= 0) return { ...o, inputs: [x, { kind: 'node', node: relu, out: 0 }] };
    }
    return o;
  });
}

/** The serialized FunctionDef of a program: `args` are the step's explicit inputs (their dtypes and shapes). */
function functionDef(b: Backend, p0: Program, name: string, args: ArgSpec[], xla: boolean): Uint8Array {
  const argDtypes = args.map((a) => a.dtype);
  const shapeOf = (s: Source): number[] | undefined => s.kind === 'node' ? p0.ops[s.node].outShapes[s.out]
    : s.kind === 'upload' ? p0.uploads[s.index].shape : s.kind === 'arg' ? args[s.index].shape
      : s.kind === 'var' ? s.variable.shape : undefined;
  const p: Program = process.env.D2L_COMPILE_FUSE === '0' ? p0 : { ...p0, ops: fusible(b, p0, shapeOf) };
  const P = pb();
  const DT_INVALID = 0;
  // dtypes of every source: node outputs and uploads are recorded, inputs come from the signature / consumers
  const varDtype = (v: tf.Variable) => b.tensorMap.get(v.dataId)!.dtype;
  const capturedDtype = new Map<number, number>();
  const dtypeOf = (s: Source): number => s.kind === 'node' ? p.ops[s.node].outDtypes[s.out] : s.kind === 'upload'
    ? p.uploads[s.index].dtype : s.kind === 'arg' ? argDtypes[s.index] : s.kind === 'var' ? varDtype(s.variable)
      : capturedDtype.get(s.id) ?? DT_INVALID;
  const nodeDefs: Pb[] = [];
  const refOf: string[][] = []; // per op: "node:arg:i" of each flat output
  const ref = (s: Source): string => s.kind === 'node' ? refOf[s.node][s.out] : s.kind === 'upload' ? `k${s.index}:output:0`
    : s.kind === 'arg' ? `a${s.index}` : s.kind === 'var' ? `v${p.vars.indexOf(s.variable)}` : `c${p.captured.indexOf(s.id)}`;
  const constNode = (name: string, dtype: number, shape: number[], bytes: Uint8Array) => {
    const t = new P.Tensor();
    t.setDtype(dtype);
    t.setTensorShape(tensorShape(shape));
    t.setTensorContent(bytes);
    const n = new P.NodeDef();
    n.setName(name);
    n.setOp('Const');
    const dt = new P.AttrValue(); dt.setType(dtype);
    const val = new P.AttrValue(); val.setTensor(t);
    n.getAttrMap().set('dtype', dt);
    n.getAttrMap().set('value', val);
    return n;
  };
  p.uploads.forEach((u, i) => {
    const r = p.random.indexOf(i);
    if (r >= 0) { // k{i} = StatelessRandomUniform(shape, seed r{r}): a fresh draw every call, repeatable by seed
      nodeDefs.push(constNode(`ks${i}`, DT_INT32, [u.shape.length], new Uint8Array(Int32Array.from(u.shape).buffer)));
      const n = new P.NodeDef();
      n.setName(`k${i}`);
      n.setOp('StatelessRandomUniform');
      n.setInputList([`ks${i}:output:0`, `r${r}`]);
      for (const [name, t] of [['dtype', DT_FLOAT], ['T', DT_INT32], ['Tseed', DT_INT32]] as const) {
        const a = new P.AttrValue(); a.setType(t); n.getAttrMap().set(name, a);
      }
      nodeDefs.push(n);
      return;
    }
    nodeDefs.push(constNode(`k${i}`, u.dtype, u.shape, new Uint8Array(u.values.buffer, u.values.byteOffset, u.values.byteLength)));
  });
  p.ops.forEach((o, i) => {
    const def = opDef(b, o.op);
    const attrs = new Map(o.attrs.map((a) => [a.name, a]));
    // input arguments: fill in the type attributes eager execution infers from the inputs
    let k = 0;
    for (const arg of def.getInputArgList()) {
      const count = arg.getNumberAttr() && !attrs.has(arg.getNumberAttr())
        ? o.inputs.length - k - def.getInputArgList().slice(def.getInputArgList().indexOf(arg) + 1).length
        : arg.getTypeListAttr() && !attrs.has(arg.getTypeListAttr()) ? o.inputs.length - k : argCount(arg, attrs);
      const ins = o.inputs.slice(k, k + count);
      if (arg.getNumberAttr() && !attrs.has(arg.getNumberAttr())) {
        attrs.set(arg.getNumberAttr(), { name: arg.getNumberAttr(), type: b.binding.TF_ATTR_INT, value: count });
      }
      if (arg.getTypeListAttr() && !attrs.has(arg.getTypeListAttr())) {
        attrs.set(arg.getTypeListAttr(), { name: arg.getTypeListAttr(), type: b.binding.TF_ATTR_TYPE, value: ins.map(dtypeOf) });
      }
      const ta = arg.getTypeAttr();
      const fixed = arg.getType() || (ta && attrs.has(ta) ? attrs.get(ta)!.value as number : DT_INVALID);
      for (const s of ins) {
        if (s.kind === 'captured' && !capturedDtype.has(s.id) && fixed) capturedDtype.set(s.id, fixed);
      }
      if (ta && !attrs.has(ta) && ins.length) attrs.set(ta, { name: ta, type: b.binding.TF_ATTR_TYPE, value: dtypeOf(ins[0]) });
      k += count;
    }
    const n = new P.NodeDef();
    n.setName(`n${i}`);
    n.setOp(o.op);
    n.setInputList(o.inputs.map(ref));
    for (const a of attrs.values()) n.getAttrMap().set(a.name, attrValue(b, a));
    nodeDefs.push(n);
    const outs: string[] = [];
    for (const arg of def.getOutputArgList()) {
      const c = argCount(arg, attrs);
      for (let j = 0; j < c; j++) outs.push(`n${i}:${arg.getName()}:${j}`);
    }
    refOf.push(outs);
  });
  const argDef = (nm: string, dtype: number) => {
    if (dtype === DT_INVALID) throw new Error(`cannot tell the dtype of input ${nm}`);
    const a = new P.OpDef.ArgDef(); a.setName(nm); a.setType(dtype); return a;
  };
  const sig = new P.OpDef();
  sig.setName(name);
  sig.setInputArgList([
    ...argDtypes.map((d, i) => argDef(`a${i}`, d)),
    ...p.vars.map((v, i) => argDef(`v${i}`, varDtype(v))),
    ...p.captured.map((id, i) => argDef(`c${i}`, capturedDtype.get(id) ?? DT_INVALID)),
    ...p.random.map((_, i) => argDef(`r${i}`, DT_INT32)),
  ]);
  const results = [...p.outputs, ...p.assigns.map(([, s]) => s)];
  sig.setOutputArgList(results.map((s, i) => argDef(`o${i}`, dtypeOf(s))));
  const f = new P.FunctionDef();
  f.setSignature(sig);
  if (xla) { const x = new P.AttrValue(); x.setB(true); f.getAttrMap().set('_XlaMustCompile', x); }
  f.setNodeDefList(nodeDefs);
  results.forEach((s, i) => f.getRetMap().set(`o${i}`, ref(s)));
  return f.serializeBinary();
}

// ---- the compiled step ------------------------------------------------------------------------------------

/** Per input signature: how many calls so far, the first trace, then the function (or why there is none). */
interface Entry {
  calls: number;
  first?: Program;
  fn?: Compiled;
  /** While XLA is on trial: `fn` is the XLA version, `rival` the plain one, and their call times in ms. */
  rival?: Compiled;
  times?: { xla: number[]; plain: number[] };
  eager?: string;
  /** Trace the next call once more and compare it with the function's program before trusting it again. */
  verify?: boolean;
}

/** dtype (TF enum) and shape of one explicit input of a step. */
interface ArgSpec { dtype: number; shape: number[] }

/**
 * A registered function: its program, its inputs, whether XLA compiles it, and for its random uploads a seed
 * each and a per-call counter.
 */
interface Compiled {
  name: string;
  program: Program;
  args: ArgSpec[];
  xla: boolean;
  seeds: number[];
  /** Calls so far (shared by the XLA and plain versions on trial: one stream of random numbers). */
  counter: { calls: number };
}

/**
 * XLA (TF's `_XlaMustCompile`) fuses a step's element-wise ops into a few loops, but its CPU convolutions are
 * slower than TF's oneDNN kernels. Measured (2 cores, one TF thread): the lecture 09 softmax step's function call
 * 0.47 → 0.26 ms (the whole step with its batch 0.87 → 0.50 ms), yet lecture 23's LeNet 46 s → 2 min. So each
 * function is built both ways and put on trial: its first compiled calls alternate between the two, and after
 * {@link TRIAL_CALLS} timed calls each (the first call of each, which compiles, not counted) the faster one is
 * kept and the other removed. `D2L_COMPILE_XLA=0` skips XLA; a function XLA cannot compile keeps the plain one.
 */
const useXla = () => process.env.D2L_COMPILE_XLA !== '0';
const TRIAL_CALLS = 2;

/** Removes the functions of compiled steps nobody holds any more (a net dropped with its cached step). */
const finalizer = new FinalizationRegistry<string[]>((names) => {
  const b = activeNodeBackend() as Backend | null;
  for (const n of names) try { b?.binding.removeFunction(n); } catch { /* already gone */ }
});

let functionCounter = 0;
const FN_ATTRS = (b: Backend): OpAttr[] => [
  { name: 'config_proto', type: b.binding.TF_ATTR_STRING, value: '' },
  { name: 'executor_type', type: b.binding.TF_ATTR_STRING, value: '' },
];

/** A step function compiled per input signature; call it like the function it wraps. */
export interface CompiledStep {
  (...inputs: tf.Tensor[]): tf.Tensor[];
  /** Removes this step's functions from TensorFlow's context. */
  dispose(): void;
  /**
   * Makes the next call of each signature run eagerly once more and compare its trace with the function's:
   * call it when the step may be reused after JS values it reads could have changed (a new trainer call after
   * a learner edited `lr` in another cell). A mismatch drops the function and traces afresh.
   */
  revalidate(): void;
  /**
   * Calls run as one TF function so far, calls run eagerly, functions registered now (two per signature while
   * XLA is on trial), and trials XLA won.
   */
  readonly stats: { compiled: number; eager: number; functions: number; xla: number };
}

/**
 * Wraps a training step `(…tensors) => tensors` so that, on native TensorFlow, it runs as one TF function call
 * from its 4th call with a given input signature on (see the module header). Variables the step reads and
 * updates (its parameters, optimizer slots) are found by themselves; the step must not dispose its inputs.
 * Elsewhere (wasm, cpu, `D2L_COMPILE=0`) it calls `fn` as it is.
 * @param label names the step in the one line printed when it cannot be compiled
 */
export function compileStep(fn: (...inputs: tf.Tensor[]) => tf.Tensor[], label = 'step'): CompiledStep {
  if (typeof fn !== 'function') throw argError('compileStep', 'fn to be a function (...tensors) => tensors', fn);
  const step = (...inputs: tf.Tensor[]): tf.Tensor[] => {
    const out: unknown = fn(...inputs);
    if (!Array.isArray(out) || !out.every((t) => t instanceof tf.Tensor)) {
      const err = argError(`compileStep (${label})`, 'the step to return an array of tensors', out);
      tf.dispose(out as tf.TensorContainer); // whatever tensors it made are not handed to anyone
      throw err;
    }
    return out;
  };
  const entries = new Map<string, Entry>();
  const stats = { compiled: 0, eager: 0, functions: 0, xla: 0 };
  let warned = false;
  const backend = (): Backend | null => (compileUnavailable() === null ? activeNodeBackend() as Backend : null);
  const live: string[] = []; // names of this step's functions, for the finalizer
  const remove = (c: Compiled) => {
    const b = activeNodeBackend() as Backend | null;
    if (b) b.binding.removeFunction(c.name);
    stats.functions--;
    live.splice(live.indexOf(c.name), 1);
  };
  const drop = (e: Entry) => {
    if (e.rival) remove(e.rival);
    e.rival = undefined;
    e.times = undefined;
    const b = activeNodeBackend() as Backend | null;
    if (e.fn && b) b.binding.removeFunction(e.fn.name);
    if (e.fn) {
      stats.functions--;
      live.splice(live.indexOf(e.fn.name), 1);
    }
    e.fn = undefined;
  };
  const giveUp = (e: Entry, why: string) => {
    drop(e);
    e.eager = why;
    e.first = undefined;
    if (!warned) console.log(`d2l: ${label} not compiled: ${why}; it runs eagerly`);
    warned = true;
  };
  const variables = (b: Backend): Map<number, tf.Variable> => {
    const m = new Map<number, tf.Variable>();
    const registered = (tf.engine() as unknown as { registeredVariables: Record<string, tf.Variable> }).registeredVariables;
    for (const v of Object.values(registered)) if (!v.isDisposed) m.set(idOf(b, v), v);
    return m;
  };
  /** Builds and registers the function of `program` as this entry's. */
  const build = (b: Backend, program: Program, args: ArgSpec[], xla: boolean, seeds: number[], counter: { calls: number }): Compiled => {
    const name = `d2l_step_${process.pid}_${++functionCounter}`;
    b.binding.addFunctionDef(functionDef(b, program, name, args, xla));
    stats.functions++;
    live.push(name);
    return { name, program, args, xla, seeds, counter };
  };
  /** Builds this entry's function; with XLA, both versions, on trial. */
  const register = (b: Backend, e: Entry, program: Program, args: ArgSpec[], xla: boolean) => {
    // one seed per random upload, drawn from d2l's seeded stream: a seeded notebook repeats its masks
    const seeds = program.random.map(() => nextSeed());
    const counter = { calls: 0 };
    e.fn = build(b, program, args, false, seeds, counter);
    if (!xla) return;
    e.rival = e.fn;
    e.fn = build(b, program, args, true, seeds, counter);
    e.times = { xla: [], plain: [] };
  };
  /** One call while XLA is on trial (see {@link useXla}); settles it after enough timed calls. */
  const trial = (b: Backend, e: Entry, inputs: tf.Tensor[]): tf.Tensor[] => {
    const t = e.times!;
    const xla = t.xla.length <= t.plain.length;
    const t0 = performance.now();
    let outs: tf.Tensor[];
    try {
      outs = run(b, xla ? e.fn! : e.rival!, inputs);
    } catch (err) {
      if (!xla) throw err;
      remove(e.fn!); // XLA cannot compile it: keep the plain function
      e.fn = e.rival;
      e.rival = e.times = undefined;
      return run(b, e.fn!, inputs);
    }
    (xla ? t.xla : t.plain).push(performance.now() - t0);
    if (t.xla.length > TRIAL_CALLS && t.plain.length > TRIAL_CALLS) {
      const median = (v: number[]) => v.slice(1).sort((x, y) => x - y)[(v.length - 2) >> 1]; // first call compiles
      if (median(t.xla) <= median(t.plain)) {
        remove(e.rival!);
        stats.xla++;
      } else {
        remove(e.fn!);
        e.fn = e.rival;
      }
      e.rival = e.times = undefined;
    }
    return outs;
  };
  const trace = (b: Backend, inputs: tf.Tensor[]) => {
    const argIds = inputs.map((t) => idOf(b, t));
    const varIds = variables(b);
    const { result, trace: t } = record(b, () => step(...inputs));
    return { result, program: toProgram(t, argIds, varIds, result.map((r) => idOf(b, r))) };
  };
  const call = (...inputs: tf.Tensor[]): tf.Tensor[] => {
    inputs.forEach((t, i) => {
      if (!(t instanceof tf.Tensor) || t.isDisposed) throw argError(`compileStep (${label})`, `input ${i} to be a live tensor`, t);
    });
    const b = backend();
    if (!b) { stats.eager++; return step(...inputs); }
    const sig = inputs.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(' ');
    let e = entries.get(sig);
    if (!e) {
      e = { calls: 0 };
      entries.set(sig, e);
      if (entries.size > MAX_SIGNATURES) {
        const [oldest, old] = entries.entries().next().value as [string, Entry];
        drop(old);
        entries.delete(oldest);
      }
    }
    e.calls++;
    if (e.fn && e.verify) {
      e.verify = false;
      stats.eager++;
      const traced = trace(b, inputs);
      const diff = typeof traced.program === 'string' ? traced.program : difference(e.fn.program, traced.program);
      if (diff) { // something the step reads in JS changed: trace it afresh from the next call
        drop(e);
        e.calls = 1;
      }
      return traced.result;
    }
    if (e.fn) {
      try {
        const outs = e.rival ? trial(b, e, inputs) : run(b, e.fn, inputs);
        stats.compiled++;
        return outs;
      } catch (err) {
        giveUp(e, `its function failed (${(err as Error).message.split('\n')[0]})`);
      }
    }
    stats.eager++;
    if (e.eager || e.calls === 1) return step(...inputs);
    const { result, program } = trace(b, inputs);
    if (typeof program === 'string') giveUp(e, program);
    else if (!e.first) e.first = program;
    else {
      const diff = difference(e.first, program);
      if (diff) giveUp(e, diff);
      else {
        try {
          register(b, e, program, inputs.map((t) => ({ dtype: b.tensorMap.get(t.dataId)!.dtype, shape: t.shape })), useXla());
        } catch (err) {
          giveUp(e, `TensorFlow cannot build it (${(err as Error).message.split('\n')[0]})`);
        }
        e.first = undefined;
      }
    }
    return result;
  };
  const handle = Object.assign(call, {
    dispose: () => { for (const e of entries.values()) drop(e); entries.clear(); },
    revalidate: () => { for (const e of entries.values()) if (e.fn) e.verify = true; },
    stats,
  });
  finalizer.register(handle, live);
  return handle;
}

/**
 * One call of the function: feeds inputs, variables, captured tensors and the random seeds ([seed, call number]:
 * new numbers every call); assigns the variables' new values.
 */
function run(b: Backend, fn: Compiled, inputs: tf.Tensor[]): tf.Tensor[] {
  const p = fn.program;
  const call = fn.counter.calls++;
  const seedIds = fn.seeds.map((s) => b.binding.createTensor([2], b.binding.TF_INT32, new Int32Array([s, call])));
  let metas: TensorMetadata[];
  try {
    const ids = [...inputs.map((t) => idOf(b, t)), ...p.vars.map((v) => idOf(b, v)), ...p.captured, ...seedIds];
    metas = b.binding.executeOp(fn.name, FN_ATTRS(b), ids, p.outputs.length + p.assigns.length);
  } finally {
    for (const id of seedIds) b.binding.deleteTensor(id);
  }
  const outs = metas.map((m) => b.createOutputTensor(m));
  p.assigns.forEach(([v], i) => {
    const t = outs[p.outputs.length + i];
    v.assign(t);
    t.dispose();
  });
  return outs.slice(0, p.outputs.length);
}
