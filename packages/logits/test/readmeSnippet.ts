import '@tensorflow/tfjs-backend-cpu';
import { Distiller, hardLabel } from '@kd/core';
import { dkd } from '@kd/logits';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

await tf.setBackend('cpu');

function mlp(name: string, hidden: number): tfl.LayersModel {
  const m = tfl.sequential({ name });
  m.add(tfl.layers.dense({ inputShape: [20], units: hidden, activation: 'relu', name: `${name}_hidden` }));
  m.add(tfl.layers.dense({ units: 10, name: `${name}_logits` }));
  return m;
}
const teacher = mlp('teacher', 128); // in practice: a trained teacher
const student = mlp('student', 16);
const x = tf.randomNormal([512, 20], 0, 1, 'float32', 1);
const y = tf.argMax(tf.matMul(x, tf.randomNormal([20, 10], 0, 1, 'float32', 2)), 1) as tf.Tensor1D;

// mdistiller's CIFAR-100 recipe: cross-entropy (weight 1) + DKD warmed up over 20 epochs.
const distiller = new Distiller({ teacher, student, optimizer: tf.train.adam(1e-3) })
  .use(hardLabel())
  .use(dkd({ alpha: 1, beta: 8, temperature: 4, warmupEpochs: 20 }));
console.log(distiller.describe()); // Loss = 1*ce + 1*dkd(T=4, warm-up 20 epochs)
const history = await distiller.fit({ x, y }, { epochs: 3, batchSize: 64 });
console.log(history.epochs.map((e) => e.weights['dkd'])); // [ 0.05, 0.1, 0.15 ]
console.log(history.epochs.map((e) => e.terms)); // { ce, dkd } per epoch
distiller.dispose();
