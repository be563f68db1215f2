// Runs in the browser (bundled by run.mjs with esbuild, after the "register" modules): loads each
// saved model over HTTP with tfjs-layers on the cpu backend, predicts the case's input and puts
// the results on window.__kdResult for the Node side to compare with its own predictions.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const cases = await (await fetch('./cases.json')).json();
  const results = {};
  for (const c of cases) {
    const model = await tfl.loadLayersModel(`./${c.name}/model.json`);
    const input = tf.tensor(c.input.values, c.input.shape, 'float32');
    const out = model.predict(input);
    const first = Array.isArray(out) ? out[0] : out;
    results[c.name] = { shape: first.shape, values: Array.from(await first.data()) };
    tf.dispose([input, out]);
    model.dispose();
  }
  return { backend: tf.getBackend(), tfjs: tf.version_core, userAgent: navigator.userAgent, results };
}

main().then(
  (r) => {
    window.__kdResult = r;
  },
  (e) => {
    window.__kdResult = { error: String(e && e.stack ? e.stack : e) };
  },
);
