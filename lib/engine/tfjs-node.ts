/**
 * The parts of tfjs-node's `NodeJSKernelBackend` (backend `'tensorflow'`, native TensorFlow) that d2l-ts's fast
 * paths call directly (`./fast-ops`, `./upload`): running one TF op on tensor handles without tfjs creating
 * intermediate tensors. Typed here because tfjs-node is an optional dependency and does not export these types.
 * @module
 */
import * as tf from '@tensorflow/tfjs';

/** One attribute of a TF op, as the binding takes it. */
export interface OpAttr { name: string; type: number; value: unknown }
/** A TF tensor handle the binding returns. */
export interface TensorMetadata { id: number; shape: number[]; dtype: number }

/** tfjs-node's backend object, as far as d2l-ts uses it. */
export interface NodeBackend {
  incRef(dataId: object): void;
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_STRING: number;
    TF_FLOAT: number;
    TF_INT32: number;
    TF_BOOL: number;
    TF_UINT8: number;
    /** Wraps `values` WITHOUT copying: the array must not be reused while the handle lives. */
    createTensor(shape: number[], dtype: number, values: Float32Array | Int32Array | Uint8Array): number;
    executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): TensorMetadata[];
    deleteTensor(id: number): void;
  };
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  /** Registers a TF handle as a new tracked tf.Tensor (what every tfjs-node kernel returns). */
  createOutputTensor(meta: TensorMetadata): tf.Tensor;
}

/** The active backend as tfjs-node's, or null when the active backend is not native TensorFlow. */
export function activeNodeBackend(): NodeBackend | null {
  if (tf.getBackend() !== 'tensorflow') return null;
  const b = tf.backend() as unknown as Partial<NodeBackend>;
  return b.binding && typeof b.binding.executeOp === 'function' ? (b as NodeBackend) : null;
}

/** A dtype attribute (`T`, `SrcT`, ...) of a TF op. */
export function typeAttr(b: NodeBackend, name: string, dtype: tf.DataType | 'uint8'): OpAttr {
  const bd = b.binding;
  const value = dtype === 'float32' ? bd.TF_FLOAT : dtype === 'int32' ? bd.TF_INT32 : dtype === 'uint8' ? bd.TF_UINT8 : bd.TF_BOOL;
  return { name, type: bd.TF_ATTR_TYPE, value };
}

/** A string attribute of a TF op (e.g. `data_format`). */
export function stringAttr(b: NodeBackend, name: string, value: string): OpAttr {
  return { name, type: b.binding.TF_ATTR_STRING, value };
}

/** A boolean attribute of a TF op. */
export function boolAttr(b: NodeBackend, name: string, value: boolean): OpAttr {
  return { name, type: b.binding.TF_ATTR_BOOL, value };
}
