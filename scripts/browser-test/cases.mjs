// Cases of the browser check. Each case builds (and may train) a model in Node; run.mjs saves it
// with @kd/core/node's saveModel, predicts `input` in Node and in headless Chromium, and compares.
//   register: modules (paths from the repo root, or package specifiers resolvable from
//             scripts/browser-test) imported for their side effects in Node before building and
//             bundled before loading in the browser: custom layers, e.g. @kd/bit's
//             ('packages/bit/dist/index.js') once it is committed.
//   optional: skip the case (with a note) when a register module does not exist yet.
// More modules can be added to every case from the command line: --register a.js,b.js
// A case of kind 'store' saves no model: precompute({ tf, tfl, store, dir }) writes a teacher store
// into the served directory with @kd/teacher-store/node's precomputeTeacher; the page reads it with
// fetchStoredTeacher from its own origin and returns the outputs (logits, then each tap) for `ids`,
// which must be the bits @kd/teacher-store/node's storedTeacher gives in Node.
export const cases = [
  {
    name: 'kd-student',
    register: [],
    inputShape: [16, 8],
    async build({ tf, tfl, core }) {
      const mlp = (name, hidden) => {
        const m = tfl.sequential({ name });
        m.add(tfl.layers.dense({ inputShape: [8], units: hidden, activation: 'relu', name: `${name}_pool` }));
        m.add(tfl.layers.dense({ units: 3, name: `${name}_logits` }));
        return m;
      };
      const x = tf.randomNormal([128, 8], 0, 1, 'float32', 3);
      const y = tf.argMax(tf.matMul(x, tf.randomNormal([8, 3], 0, 1, 'float32', 4)), 1);
      const teacher = mlp('teacher', 32);
      const student = mlp('student', 8);
      const distiller = new core.Distiller({ teacher, student, optimizer: tf.train.adam(0.01), seed: 1 })
        .use(core.hardLabel({ weight: 0.1 }))
        .use(core.softTargets({ temperature: 4, weight: 0.9 }));
      await distiller.fit({ x, y }, { epochs: 2, batchSize: 32 });
      return { model: student, metadata: distiller.metadata() };
    },
  },
  {
    name: 'custom-layer',
    register: ['scripts/browser-test/fixtures/scale-layer.mjs'],
    inputShape: [8, 6],
    async build({ tfl, registered }) {
      const { KdTestScale } = registered['scripts/browser-test/fixtures/scale-layer.mjs'];
      const m = tfl.sequential({ name: 'custom' });
      m.add(tfl.layers.dense({ inputShape: [6], units: 5, name: 'd0' }));
      m.add(new KdTestScale({ initialValue: 0.7, name: 'scale' }));
      m.add(tfl.layers.dense({ units: 4, activation: 'softmax', name: 'd1' }));
      return { model: m };
    },
  },
  {
    // A BiT-style ResNet-v2 (GroupNormalization + StandardizedConv2D): @kd/bit's layers must be
    // registered in the browser for loadLayersModel to rebuild it.
    name: 'bit-student',
    register: ['packages/bit/dist/index.js'],
    inputShape: [2, 16, 16, 3],
    async build({ registered }) {
      const bit = registered['packages/bit/dist/index.js'];
      const model = bit.bitResNetSmall({ classes: 5, units: [1, 1, 1], inputShape: [16, 16, 3], zeroHead: false, seed: 7 });
      return { model };
    },
  },
  {
    // A teacher store read over fetch in the browser: 40 examples in 3 shards (16, 16, 8) with a
    // tapped hidden layer; the ids are shuffled, from every shard, one repeated.
    name: 'teacher-store',
    kind: 'store',
    register: [],
    ids: [37, 3, 20, 16, 0, 39, 15, 31, 3, 24, 8, 32, 11],
    taps: ['teacher_pool'],
    async precompute({ tf, tfl, store, dir }) {
      const teacher = tfl.sequential({ name: 'teacher' });
      teacher.add(tfl.layers.dense({ inputShape: [8], units: 12, activation: 'relu', name: 'teacher_pool' }));
      teacher.add(tfl.layers.dense({ units: 5, name: 'teacher_logits' }));
      const x = tf.randomNormal([40, 8], 0, 1, 'float32', 5);
      const y = tf.argMax(tf.matMul(x, tf.randomNormal([8, 5], 0, 1, 'float32', 6)), 1);
      const manifest = await store.precomputeTeacher(teacher, { x, y }, dir, { taps: ['teacher_pool'], shardSize: 16, batchSize: 8 });
      tf.dispose([x, y]);
      teacher.dispose();
      return manifest;
    },
  },
];
