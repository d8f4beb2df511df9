// lib/io.ts: lecture 16's saveTensors/loadTensors (tensor, list, record; dtypes; the book's state_dict round
// trip) and saveModel/loadModel (a sequential model with a registered custom layer predicts the same after a
// round trip; tfjs-node's file:// layout), clear errors for bad arguments and missing or corrupt files, and no
// leaked tensors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { useLibBackend, values } from '../helpers/lib-setup';
import { loadModel, loadTensors, saveModel, saveTensors } from '../../lib/io';

const live = useLibBackend();
let root = '';
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-io-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const dir = (name: string) => path.join(root, name);

/** The book's CenteredLayer: X - mean(X), no parameters (registered once for the whole file). */
class CenteredLayer extends tf.layers.Layer {
  static className = 'D2lIoTestCentered';
  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const X = Array.isArray(inputs) ? inputs[0] : inputs;
      return X.sub(X.mean());
    });
  }
}
tf.serialization.registerClass(CenteredLayer);

function smallNet(): tf.Sequential {
  return tf.sequential({ layers: [
    tf.layers.dense({ units: 8, inputShape: [4], activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    new CenteredLayer({}),
    tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ] });
}

describe('saveTensors / loadTensors', () => {
  it('round-trips one tensor, a list and a record, with their dtypes and shapes', async () => {
    const x = tf.range(0, 4);
    const y = tf.zeros([4], 'int32');
    const b = tf.tensor([true, false], [2], 'bool');
    const m = tf.tensor2d([[1.5, -2], [3, 4e-8]]);
    live.push(x, y, b, m);
    const before = tf.memory().numTensors;
    await saveTensors(x, dir('x-file'));
    await saveTensors([x, y], dir('x-files'));
    await saveTensors({ x, y, b, m }, dir('mydict'));
    expect(tf.memory().numTensors).toBe(before);
    expect(fs.readdirSync(dir('x-file')).sort()).toEqual(['tensors.json', 'weights.bin']);

    const x2 = await loadTensors<tf.Tensor>(dir('x-file'));
    expect(x2.shape).toEqual([4]);
    expect(values(x2)).toEqual([0, 1, 2, 3]);
    const list = await loadTensors<tf.Tensor[]>(dir('x-files'));
    expect(list.map((t) => t.dtype)).toEqual(['float32', 'int32']);
    expect(values(list[1])).toEqual([0, 0, 0, 0]);
    const dict = await loadTensors<Record<string, tf.Tensor>>(dir('mydict'));
    expect(Object.keys(dict).sort()).toEqual(['b', 'm', 'x', 'y']);
    expect(dict.b.dtype).toBe('bool');
    expect(Array.from(dict.b.dataSync())).toEqual([1, 0]);
    expect(dict.m.shape).toEqual([2, 2]);
    expect(values(dict.m)).toEqual(values(m));  // bit-exact: the raw float32 bytes are stored
    expect(tf.memory().numTensors).toBe(before + 1 + 2 + 4);  // exactly the tensors handed back
    tf.dispose([x2, ...list, ...Object.values(dict)]);
  });

  it('restores a model\'s weights with setWeights (the book\'s state_dict round trip)', async () => {
    const net = smallNet();
    const X = tf.randomUniform([2, 4], 0, 1, 'float32', 7);
    live.push(X);
    const Y = net.predict(X) as tf.Tensor;
    await saveTensors(net.getWeights(), dir('mlp.params'));
    const clone = smallNet();
    tf.tidy(() => clone.predict(X));  // built already (inputShape); predicting once changes nothing
    const loaded = await loadTensors<tf.Tensor[]>(dir('mlp.params'));
    clone.setWeights(loaded);
    tf.dispose(loaded);
    const Yc = clone.predict(X) as tf.Tensor;
    expect(values(Yc)).toEqual(values(Y));
    tf.dispose([Y, Yc]);
    net.dispose();
    clone.dispose();
  });

  it('rejects bad arguments with fn: expected …, got …', async () => {
    const x = tf.scalar(1);
    live.push(x);
    await expect(saveTensors(5 as any, dir('bad'))).rejects.toThrow('saveTensors: expected a tf.Tensor, an array of tensors or a { name: tensor } object, got number 5');
    await expect(saveTensors([x, 'a'] as any, dir('bad'))).rejects.toThrow('saveTensors: expected tensors[1] to be a tf.Tensor, got "a"');
    await expect(saveTensors(x, '')).rejects.toThrow('saveTensors: expected dir to be a directory path (a non-empty string), got ""');
    const s = tf.tensor(['a']);
    await expect(saveTensors(s, dir('bad'))).rejects.toThrow('saveTensors: expected tensors of dtype float32, int32 or bool, got string');
    s.dispose();
    const d = tf.scalar(2);
    d.dispose();
    await expect(saveTensors({ d }, dir('bad'))).rejects.toThrow('saveTensors: expected tensors.d to be a live tensor, got a disposed tensor');
    await expect(loadTensors(undefined as any)).rejects.toThrow('loadTensors: expected dir to be a directory path (a non-empty string), got undefined');
  });

  it('names the file when it is missing or corrupt', async () => {
    const x = tf.tensor([1, 2, 3]);
    live.push(x);
    await expect(loadTensors(dir('nowhere'))).rejects.toThrow(`loadTensors: no tensors.json in ${dir('nowhere')} (write it with d2l.saveTensors)`);
    await saveTensors(x, dir('trunc'));
    const bin = path.join(dir('trunc'), 'weights.bin');
    fs.writeFileSync(bin, fs.readFileSync(bin).subarray(0, 8));
    await expect(loadTensors(dir('trunc'))).rejects.toThrow(`loadTensors: ${bin} is corrupt: expected 12 bytes for the 1 tensor of the manifest, got 8`);
    fs.rmSync(bin);
    await expect(loadTensors(dir('trunc'))).rejects.toThrow(`loadTensors: no weights.bin in ${dir('trunc')}`);
    const json = path.join(dir('trunc'), 'tensors.json');
    fs.writeFileSync(json, '{"format": "d2l-ts-tensors", ');
    await expect(loadTensors(dir('trunc'))).rejects.toThrow(`loadTensors: ${json} is not valid JSON`);
    fs.writeFileSync(json, JSON.stringify({ format: 'd2l-ts-tensors', kind: 'tensor', weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'tensor', dtype: 'float64', shape: [3] }] }] }));
    await expect(loadTensors(dir('trunc'))).rejects.toThrow('is corrupt: bad weight entry {"name":"tensor","dtype":"float64","shape":[3]}');
  });
});

describe('saveModel / loadModel', () => {
  it('round-trips a sequential model with a registered custom layer: same architecture, same predictions', async () => {
    const net = smallNet();
    const X = tf.randomUniform([5, 4], 0, 1, 'float32', 3);
    live.push(X);
    const before = tf.memory().numTensors;
    const result = await saveModel(net, dir('model'));
    expect(tf.memory().numTensors).toBe(before);
    expect(result.modelArtifactsInfo.weightDataBytes).toBe(4 * (4 * 8 + 8 + 8 * 3 + 3));
    expect(fs.readdirSync(dir('model')).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(fs.readFileSync(path.join(dir('model'), 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);  // tfjs-node's file:// layout

    const clone = await loadModel(dir('model'));
    expect(clone.layers.map((l) => l.getClassName())).toEqual(['Dense', 'D2lIoTestCentered', 'Dense']);
    expect(clone.countParams()).toBe(net.countParams());
    const [Y, Yc] = tf.tidy(() => [net.predict(X) as tf.Tensor, clone.predict(X) as tf.Tensor]);
    expect(values(Yc)).toEqual(values(Y));
    tf.dispose([Y, Yc]);
    net.dispose();
    clone.dispose();
    expect(tf.memory().numTensors).toBe(before - 4);  // net's 4 weights are gone, nothing else is left
  });

  it('rejects bad arguments, and names the file when it is missing, corrupt or needs an unregistered layer', async () => {
    await expect(saveModel({} as any, dir('m2'))).rejects.toThrow('saveModel: expected model to be a tf.LayersModel (tf.sequential or tf.model), got an object (Object)');
    await expect(loadModel(dir('nowhere'))).rejects.toThrow(`loadModel: no model.json in ${dir('nowhere')} (write it with d2l.saveModel)`);
    const net1 = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
    await saveModel(net1, dir('m1'));
    net1.dispose();
    const json1 = path.join(dir('m1'), 'model.json');
    await expect(loadModel(json1)).rejects.toThrow(`loadModel: expected dir to be a directory, got the file ${json1} (pass its directory, ${dir('m1')})`);
    const one = tf.ones([1]);
    await saveTensors(one, dir('tensors-only'));
    one.dispose();
    fs.copyFileSync(path.join(dir('tensors-only'), 'tensors.json'), path.join(dir('tensors-only'), 'model.json'));
    await expect(loadModel(dir('tensors-only'))).rejects.toThrow('is corrupt: it has no modelTopology');

    class Unregistered extends tf.layers.Layer {
      static className = 'D2lIoTestUnregistered';
      call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor { return tf.tidy(() => (Array.isArray(inputs) ? inputs[0] : inputs).mul(2)); }
    }
    const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] }), new Unregistered({})] });
    await saveModel(net, dir('m3'));
    net.dispose();
    await expect(loadModel(dir('m3'))).rejects.toThrow(`loadModel: cannot build the model of ${path.join(dir('m3'), 'model.json')}: Unknown layer: D2lIoTestUnregistered`);
    fs.writeFileSync(path.join(dir('m3'), 'weights.bin'), Buffer.alloc(3));
    await expect(loadModel(dir('m3'))).rejects.toThrow('is corrupt: expected 32 bytes for the 2 tensors of the manifest, got 3');
  });
});
