import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

await tf.setBackend('cpu');

export { disposeData, expectRefused, leakedTensors, mlp, toyData } from '@kd/testing';
