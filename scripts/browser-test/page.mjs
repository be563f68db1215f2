// Runs in the browser (bundled by run.mjs with esbuild, after the "register" modules): loads each
// saved model over HTTP with tfjs-layers on the cpu backend, predicts the case's input and puts
// the results on window.__kdResult for the Node side to compare with its own predictions. A case
// of kind 'store' is a teacher store: read with @kd/teacher-store's fetchStoredTeacher from this
// page's origin, its outputs for the case's ids (logits, then each tap) are the result.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fetchStoredTeacher } from '../../packages/teacher-store/dist/index.js';

async function storeCase(c) {
  const before = tf.memory().numTensors;
  const teacher = await fetchStoredTeacher(`./${c.name}/`);
  teacher.tap(c.taps);
  const x = tf.zeros([c.ids.length, ...c.exampleShape]);
  const p = teacher.predict(x, { ids: c.ids });
  const values = [...(await p.logits.data())];
  for (const name of c.taps) values.push(...(await p.features[name].data()));
  tf.dispose([x, p.logits, ...Object.values(p.features)]);
  // A store that is not there: the server answers 404 for its manifest.
  const missing = await fetchStoredTeacher(`./${c.name}-missing/`).then(
    () => 'no error',
    (e) => e.code ?? String(e),
  );
  return { shape: [values.length], values, missing, leaked: tf.memory().numTensors - before, description: teacher.description };
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const cases = await (await fetch('./cases.json')).json();
  const results = {};
  for (const c of cases) {
    if (c.kind === 'store') {
      results[c.name] = await storeCase(c);
      continue;
    }
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
