const d2l = require('../dist/lib/index.js'); const tf = require('@tensorflow/tfjs');
const { cachedStep } = require('../dist/lib/train.js');
(async () => {
  console.log = ((l) => (...a) => { if (!String(a[0]).startsWith('d2l')) l(...a); })(console.log);
  await d2l.initBackend();
  const [train] = await d2l.loadDataFashionMnist(256, { verbose: false });
  const W = tf.variable(tf.randomNormal([784, 10], 0, 0.01)); const b = tf.variable(tf.zeros([10]));
  const softmax = (X) => tf.tidy(() => { const e = X.exp(); return e.div(e.sum(1, true)); });
  const ce = (yHat, y) => tf.tidy(() => yHat.mul(tf.oneHot(tf.cast(y, 'int32'), yHat.shape[1])).sum(1).log().neg());
  const net = (X) => softmax(X.reshape([-1, 784]).matMul(W).add(b));
  const upd = (bs, g) => d2l.sgd([W, b], g, 0.1, bs);
  const step = cachedStep('x', net, ce, upd);
  for (let r = 0; r < 6; r++) { if (process.env.EPOCH) { const t0 = performance.now(); await d2l.trainEpochCh3(net, train, ce, upd); console.log("trainEpochCh3 " + ((performance.now() - t0) / 235).toFixed(3)); continue; }
    let tData = 0, tStep = 0, tDisp = 0, n = 0; let s = [tf.scalar(0), tf.scalar(0)];
    const t00 = performance.now();
    const it = train[Symbol.iterator]();
    for (;;) {
      let t0 = performance.now(); const nx = it.next(); tData += performance.now() - t0; if (nx.done) break;
      const [X, y] = nx.value;
      t0 = performance.now(); const o = step(X, y, s[0], s[1]); tStep += performance.now() - t0;
      t0 = performance.now(); tf.dispose(s); s = o; tf.dispose([X, y]); tDisp += performance.now() - t0; n++; if (process.env.AW) await Promise.resolve();
    }
    const tAll = performance.now() - t00; tf.dispose(s);
    console.log(`data ${(tData / n).toFixed(3)} step ${(tStep / n).toFixed(3)} dispose ${(tDisp / n).toFixed(3)} all ${(tAll / n).toFixed(3)} ms/batch`);
  }
})();
