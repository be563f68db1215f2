import '@tensorflow/tfjs-backend-cpu';
import { mlp, smallCnn } from '@kd/models';
import * as tf from '@tensorflow/tfjs-core';

await tf.setBackend('cpu');

// The benchmark's Fashion-MNIST pair: a conv32-conv64 teacher and a conv8-conv16 student.
const teacher = smallCnn({ name: 'teacher', filters: [32, 64], dense: 128, seed: 1 });
const student = smallCnn({ name: 'student', filters: [8, 16], dense: 32, seed: 2 });
console.log([teacher.countParams(), student.countParams()]); // [ 421642, 26698 ]
console.log(student.getLayer('student_pool').outputShape); // [ null, 32 ] (the penultimate vector)

// An MLP for 20 features and 3 classes, with dropout after each hidden layer.
const tabular = mlp({ name: 'tabular', hidden: [64, 32], inputShape: [20], classes: 3, dropout: 0.1 });
console.log(tabular.layers.map((l) => l.name)); // [ 'tabular_hidden', 'tabular_dropout1', 'tabular_pool', 'tabular_dropout2', 'tabular_logits' ]
const logits = tf.tidy(() => tabular.predict(tf.zeros([4, 20])) as tf.Tensor);
console.log(logits.shape); // [ 4, 3 ]
tf.dispose(logits);
for (const model of [teacher, student, tabular]) model.dispose();
